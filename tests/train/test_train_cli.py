"""``lnn-control train`` smoke tests: every shipped training config and every core type runs end to
end with a tiny budget; user errors say what was wrong and name the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from helpers import TRAIN_CONFIGS, tiny_config

from lnn_control.cli import main
from lnn_control.policy import load_checkpoint
from lnn_control.train.config import load_train_config

CONFIGS = sorted(p.stem for p in TRAIN_CONFIGS.glob("*.yaml"))


def test_every_shipped_config_loads() -> None:
    assert {"quad_hover", "quad_target", "arm_reach"} <= set(CONFIGS)
    for name in CONFIGS:
        config, base = load_train_config(TRAIN_CONFIGS / f"{name}.yaml")
        assert config.policy_config(base).actions.names  # the model path resolves


@pytest.mark.parametrize("name", CONFIGS)
def test_every_training_config_runs_with_a_tiny_budget(name: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["train", "--config", str(tiny_config(name, tmp_path)), "--out", str(out), "--quiet"]) == 0
    assert (out / "report" / "report.md").is_file() and (out / "evaluation.json").is_file()
    assert (out / "checkpoints" / "round_01").is_dir()


@pytest.mark.parametrize(
    "core",
    [
        {"type": "ltc", "ode_unfolds": 2},
        {"type": "lstm", "wiring": None, "units": 16},
        {"type": "gru", "wiring": None, "units": 16},
        {"type": "mlp", "wiring": None, "units": 16, "frames": 4},
    ],
    ids=lambda core: core["type"],
)
def test_other_cores_train_the_same_way_from_config(core: dict, tmp_path: Path) -> None:
    config = tiny_config("quad_hover", tmp_path, model_overrides={"core": core}, dagger={"rounds": 0},
                         evaluation={"episodes": 0})
    out = tmp_path / "out"
    assert main(["train", "--config", str(config), "--out", str(out), "--quiet"]) == 0
    assert load_checkpoint(out / "policy").config.core.type == core["type"]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"optim": {"lanes": 0}}, "optim: lanes must be >= 1, got 0"),
        ({"dagger": {"beta": [1.5]}}, "dagger: beta must be a non-empty list of values in [0, 1]"),
        ({"bc": {"epochs": 3}}, "unknown key 'bc.epochs'"),
        ({"env": {"id": "CartPole-v1"}}, "unknown env 'CartPole-v1'"),
        ({"model_overrides": {"core": {"units": 0}}}, "model: core: core.units must be >= 1, got 0"),
        ({"model_overrides": {"core": {"type": "ltc", "time_unit_s": 0.0}}},
         "model: core: core.time_unit_s must be > 0 s, got 0.0"),
        ({"expert": {"gain": 3.0}}, "expert: GeometricController has no option 'gain'; its options are ['position_bandwidth'"),
        ({"model_overrides": {"actions": {"high": [0.6, 6.0, 6.0, 3.0]}}},
         "model actions.high [0.6, 6.0, 6.0, 3.0] differ from lnn_control/QuadHover-v0's action_spec()"),
    ],
)
def test_bad_configs_fail_before_training_naming_the_key(change: dict, message: str, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    config = tiny_config("quad_hover", tmp_path)
    data = yaml.safe_load(config.read_text())
    for key, value in change.items():
        data[key] = {**data[key], **value} if isinstance(data.get(key), dict) else value
    config.write_text(yaml.safe_dump(data))
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out" / "checkpoints").exists()


def test_runs_are_never_overwritten_and_resume_needs_a_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tiny_config("quad_hover", tmp_path, dagger={"rounds": 0}, evaluation={"episodes": 0})
    out = tmp_path / "out"
    assert main(["train", "--resume", "--out", str(out)]) == 2
    assert "holds no run" in capsys.readouterr().err
    assert main(["train", "--out", str(out)]) == 2
    assert "--config PATH is required" in capsys.readouterr().err
    assert main(["train", "--config", str(config), "--out", str(out), "--quiet"]) == 0
    assert main(["train", "--config", str(config), "--out", str(out), "--quiet"]) == 2
    assert "already holds a run; pass --resume" in capsys.readouterr().err
    changed = yaml.safe_load(config.read_text())
    changed["seed"] = 7
    config.write_text(yaml.safe_dump(changed))
    assert main(["train", "--config", str(config), "--out", str(out), "--resume", "--quiet"]) == 2
    assert "the config differs from the one the run" in capsys.readouterr().err
    # resuming a finished run changes nothing and redoes nothing
    before = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert main(["train", "--out", str(out), "--resume", "--quiet"]) == 0
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == before
