"""Policy configs load from YAML; every mistake is reported with the key that holds it."""

from pathlib import Path

import pytest
import yaml
from policies import MODELS

from lnn_control.config import config_from_dict, config_to_dict, load_config
from lnn_control.errors import ConfigError
from lnn_control.policy import PolicyConfig
from lnn_control.policy.config import model_data


@pytest.mark.parametrize("path", sorted(MODELS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_model_config_loads_and_round_trips(path):
    config = config_from_dict(PolicyConfig, model_data(str(path), {}))
    assert config_from_dict(PolicyConfig, config_to_dict(config)) == config


def test_a_model_file_starts_from_its_base_and_replaces_what_it_sets(tmp_path):
    """``base:`` gives every key the file does not set; its own mappings merge key by key, its
    lists replace; overrides come last."""
    (tmp_path / "parent.yaml").write_text((MODELS / "quad_hover_cfc.yaml").read_text())
    streams = [{"name": "imu", "kind": "imu", "features": 8}, {"name": "goal", "kind": "vector", "size": 3}]
    (tmp_path / "child.yaml").write_text(yaml.safe_dump({"base": "parent.yaml", "streams": streams,
                                                         "core": {"type": "ltc"}}))
    parent = yaml.safe_load((MODELS / "quad_hover_cfc.yaml").read_text())
    data = model_data("child.yaml", {"core": {"ode_unfolds": 2}}, tmp_path)
    assert data["streams"] == streams and data["actions"] == parent["actions"]
    assert data["control"] == parent["control"]
    assert data["core"] == {**parent["core"], "type": "ltc", "ode_unfolds": 2}
    assert load_config(PolicyConfig, tmp_path / "parent.yaml") == config_from_dict(
        PolicyConfig, model_data(str(tmp_path / "parent.yaml"), {}))


def test_a_base_chain_that_loops_is_refused_with_the_fix(tmp_path):
    (tmp_path / "a.yaml").write_text("base: b.yaml\n")
    (tmp_path / "b.yaml").write_text("base: ./a.yaml\n")
    with pytest.raises(ConfigError, match="base './a.yaml' leads back to a file of its own chain"):
        model_data(str(tmp_path / "a.yaml"), {})
    (tmp_path / "c.yaml").write_text("base: [a.yaml]\n")
    with pytest.raises(ConfigError, match="base must be the path of another model YAML"):
        model_data(str(tmp_path / "c.yaml"), {})


def base():
    return yaml.safe_load((MODELS / "camera_imu_cfc.yaml").read_text())


def broken(change):
    data = base()
    change(data)
    return data


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(extra=1), r"unknown key 'extra'"),
        (lambda d: d.pop("actions"), r"missing key 'actions'"),
        (lambda d: d["streams"][0].update(height="big"), r"streams\[0\]\.height must be an int"),
        (lambda d: d["streams"][0].pop("height"), r"stream 'camera' \(image\) needs height"),
        (lambda d: d["streams"][1].update(kind="sonar"), r"streams\[1\]\.kind must be one of"),
        (lambda d: d["streams"][1].update(name="camera"), r"repeated: \['camera'\]"),
        (lambda d: d["streams"][1].update(name="imu data"), r"plain identifier"),
        (lambda d: d["control"].update(stream="lidar"), r"control.stream 'lidar' is not one of"),
        (lambda d: d["control"].update(max_step_s=-1), r"control.max_step_s must be > 0"),
        (lambda d: d["actions"].update(low=[0, 0, 0]), r"actions.low has 3 entries but there are 4"),
        (lambda d: d["actions"].update(safe=[9, 0, 0, 0]), r"safe value 9.0 is outside \[0.0, 0.6\]"),
        (lambda d: d["actions"].update(safe=[0, 0, 0]), r"actions.safe has 3 entries but there are 4"),
        (lambda d: d["core"]["wiring"].update(output_size=3), r"3 motor neurons but there are 4"),
        (lambda d: d["core"]["wiring"].update(type="Mesh"), r"core.wiring: unknown wiring type"),
        (lambda d: d["core"].update(type="lstm"), r"core.wiring applies to cfc and ltc"),
    ],
)
def test_mistakes_name_their_key(change, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict(PolicyConfig, broken(change))


def test_file_errors_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(PolicyConfig, tmp_path / "nope.yaml")
    bad = Path(tmp_path / "bad.yaml")
    bad.write_text("streams: [\n")
    with pytest.raises(ConfigError, match="not valid plain YAML"):
        load_config(PolicyConfig, bad)
    hostile = tmp_path / "hostile.yaml"
    hostile.write_text("!!python/object/apply:os.system ['true']\n")
    with pytest.raises(ConfigError, match="not valid plain YAML"):
        load_config(PolicyConfig, hostile)


@pytest.mark.parametrize(("change", "said"), [
    (lambda actions: actions.pop("safe"), "missing key 'actions.safe'"),
    (lambda actions: actions.update(safe=None), "key 'actions.safe' is null"),
])
def test_the_safe_command_is_required_and_the_error_says_what_to_give(change, said):
    """No silent default: the limits' midpoint would command QuadHover 0.298 N of thrust, not
    its hover thrust 0.265 N."""
    data = yaml.safe_load((MODELS / "quad_hover_cfc.yaml").read_text())
    change(data["actions"])
    with pytest.raises(ConfigError) as raised:
        config_from_dict(PolicyConfig, data)
    assert str(raised.value) == (
        f"{said}: give the command that is safe to send when the policy cannot (e.g. hover "
        "thrust and zero rates for a quadrotor, the hold or home pose for an arm), one value per "
        "action in the actions' units; it must lie within [low, high]"
    )


def test_every_shipped_model_has_a_safe_command_inside_its_limits():
    for path in sorted(MODELS.glob("*.yaml")):
        raw = model_data(str(path), {})
        actions = config_from_dict(PolicyConfig, raw).actions
        assert actions.safe_command == [float(v) for v in raw["actions"]["safe"]], path.name
        assert all(lo <= v <= hi for lo, v, hi in zip(actions.low, actions.safe_command, actions.high))


def test_quad_hover_safe_command_is_the_simulated_airframes_hover_thrust():
    """The safe thrust is m g of the Crazyflie in the MJCF the env flies, with zero body rates:
    the midpoint of [0, 0.596] N would climb."""
    from lnn_control.sim.mjcf import load_scene
    from lnn_control.sim.quadrotor import QuadrotorParams

    actions = load_config(PolicyConfig, MODELS / "quad_hover_cfc.yaml").actions
    params = QuadrotorParams.from_model(load_scene("quadrotor"))
    assert actions.safe_command[1:] == [0.0, 0.0, 0.0]
    assert actions.safe_command[0] == pytest.approx(params.mass * params.gravity, abs=1e-5)
    assert actions.safe_command[0] < (actions.low[0] + actions.high[0]) / 2
