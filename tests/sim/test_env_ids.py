"""One env-name resolution everywhere: ``QuadHover-v0`` and ``lnn_control/QuadHover-v0`` name the
same env in every command, config and parameter file; anything else gets the same error."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from rosbags.highlevel import AnyReader

import lnn_control.sim.envs as envs
from lnn_control.cli import main
from lnn_control.errors import ConfigError
from lnn_control.policy.deployment import load_node_parameters
from lnn_control.sim.ids import ENV_IDS, SHORT_NAMES, env_id
from lnn_control.sim.parameters import SimParameters
from lnn_control.train.config import EnvConfig

ROOT = Path(__file__).resolve().parents[2]


def test_the_ids_are_the_registered_ones() -> None:
    assert ENV_IDS == envs.ENV_IDS
    assert [env_id(short) for short in SHORT_NAMES] == list(ENV_IDS)
    assert [env_id(full) for full in ENV_IDS] == list(ENV_IDS)


@pytest.mark.parametrize("name", ["CartPole-v1", "QuadHover", "lnn_control/QuadHover-v9", "quadhover-v0"])
def test_an_unknown_name_lists_the_known_ones(name: str) -> None:
    with pytest.raises(ConfigError, match=f"unknown env '{name}': choose one of lnn_control/QuadHover-v0, "
                                          r".* \(or the short name: QuadHover-v0, QuadTarget-v0, ArmReach-v0\)"):
        env_id(name)


def test_record_takes_the_short_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bag = tmp_path / "hover_bag"
    assert main(["record", "--env", "QuadHover-v0", "--expert", "--episodes", "1", "--out", str(bag)]) == 0
    assert "1/1 episodes successful" in capsys.readouterr().out
    with AnyReader([bag]) as reader:
        assert {c.topic for c in reader.connections} >= {"/imu/data", "/odom", "/goal", "/lnn_control/command"}


def test_record_refuses_an_unknown_env_by_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["record", "--env", "CartPole-v1", "--expert", "--out", str(tmp_path / "bag")]) == 2
    assert "lnn-control record: error: unknown env 'CartPole-v1': choose one of" in capsys.readouterr().err
    assert not (tmp_path / "bag").exists()


def test_parameter_files_and_training_configs_take_the_short_name(tmp_path: Path) -> None:
    document = yaml.safe_load((ROOT / "config" / "ros" / "quad_target_sim.yaml").read_text())
    document["sim_node"]["ros__parameters"]["env"] = "QuadTarget-v0"
    params = tmp_path / "sim.yaml"
    params.write_text(yaml.safe_dump(document))
    assert load_node_parameters(SimParameters, params, "sim_node").env == "lnn_control/QuadTarget-v0"
    assert EnvConfig("ArmReach-v0").id == "lnn_control/ArmReach-v0"
    document["sim_node"]["ros__parameters"]["env"] = "Pendulum-v1"
    params.write_text(yaml.safe_dump(document))
    with pytest.raises(ConfigError, match=f"{params}: .*unknown env 'Pendulum-v1'"):
        load_node_parameters(SimParameters, params, "sim_node")
