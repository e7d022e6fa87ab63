"""Kill a real ``lnn-control rl`` process with SIGKILL after a resume point, continue it with
``--resume``: it trains the rest of its control steps from the checkpoint's weights, optimizer and
reward normaliser, and keeps the learning curve it had."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import pytest
import torch
import yaml
from helpers import MODELS, ROOT, kill_when

from lnn_control.cli import main
from lnn_control.config import config_from_dict, read_yaml
from lnn_control.train.rl.algorithm import make_ppo
from lnn_control.train.rl.checkpoint import load_rl_checkpoint, save_rl_checkpoint
from lnn_control.train.rl.collection import BatchedStepsVecEnv
from lnn_control.train.rl.config import RLConfig

ENVS, STEPS, UPDATES = 8, 16, 24


def _config(folder: Path) -> Path:
    data = yaml.safe_load((ROOT / "config" / "rl" / "quad_hover_scratch.yaml").read_text())
    data.update({"model": str(MODELS / "quad_hover_cfc.yaml"), "envs": ENVS, "workers": 0,
                 "total_steps": ENVS * STEPS * UPDATES, "curriculum_steps": ENVS * STEPS * 10,
                 "statistics_steps": 100, "checkpoint_every": 2, "evaluation": {"episodes": 0}})
    data["ppo"].update({"n_steps": STEPS, "batch_size": 4 * STEPS, "n_epochs": 1})
    path = folder / "rl.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_killed_run_resumes_from_its_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path)
    killed = tmp_path / "killed"
    command = [sys.executable, "-m", "lnn_control.cli", "rl", "--config", str(config), "--out", str(killed), "--quiet"]
    point = killed / "checkpoint" / "rl.json"
    kill_when(command, point)
    assert not (killed / "policy").exists(), "killed mid-run"
    saved = json.loads(point.read_text())
    assert 0 < saved["num_timesteps"] < ENVS * STEPS * UPDATES and saved["iterations"] % 2 == 0

    assert main(["rl", "--out", str(killed), "--resume", "--config", str(config), "--quiet"]) == 2
    assert "drop --config" in capsys.readouterr().err
    assert main(["rl", "--out", str(killed), "--resume", "--quiet"]) == 0
    document = json.loads((killed / "evaluation.json").read_text())
    assert document["env_steps"] == ENVS * STEPS * UPDATES
    assert len(document["resumed_at_env_steps"]) == 1
    assert document["resumed_at_env_steps"][0] >= saved["num_timesteps"]  # the newest resume point
    curve = json.loads((killed / "learning_curve.json").read_text())
    kept = [row for row in curve if row["env_steps"] <= document["resumed_at_env_steps"][0]]
    assert kept[: len(saved["curve"])] == saved["curve"] and len(curve) > len(saved["curve"])
    wall = [row["wall_s"] for row in curve]
    assert wall == sorted(wall) and wall[-1] <= document["training_time_s"]
    assert "Resumed" in (killed / "report.md").read_text()

    assert main(["rl", "--out", str(killed), "--resume", "--quiet"]) == 2
    assert "has finished" in capsys.readouterr().err
    assert main(["rl", "--out", str(tmp_path / "none"), "--resume", "--quiet"]) == 2
    assert "holds no RL run" in capsys.readouterr().err


def test_a_resume_point_restores_weights_optimizer_and_normaliser(tmp_path: Path, monkeypatch) -> None:
    """Save after two updates, load into a fresh model: every tensor and counter is the same.
    Learning and collecting with no tensorboard folder leave nothing in the temporary directory."""
    from stable_baselines3.common.vec_env import VecNormalize

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))

    config = config_from_dict(RLConfig, {**read_yaml(_config(tmp_path)), "total_steps": ENVS * STEPS * 2})
    policy_config = config.policy_config()

    def model():
        venv = VecNormalize(BatchedStepsVecEnv(policy_config, 4, ENVS, nthread=1, privileged=True),
                            norm_obs=False, gamma=config.ppo.gamma)
        venv.seed(1)
        return make_ppo(config.ppo, venv, policy_config, seed=2)

    trained = model()
    trained.learn(config.total_steps)
    assert trained.iterations == 2
    curve = [{"env_steps": 128, "wall_s": 0.5, "return": 1.0, "length": 3, "success": False}]
    save_rl_checkpoint(tmp_path / "checkpoint", trained, curve, 12.5, [64])
    fresh = model()
    document = load_rl_checkpoint(tmp_path / "checkpoint", fresh)
    assert document["curve"] == curve and document["training_time_s"] == 12.5 and document["resumed_at"] == [64]
    assert (fresh.num_timesteps, fresh.iterations, fresh._n_updates) == (
        trained.num_timesteps, trained.iterations, trained._n_updates)
    for key, value in trained.policy.state_dict().items():
        assert torch.equal(fresh.policy.state_dict()[key], value), key
    ours, theirs = fresh.policy.optimizer.state_dict(), trained.policy.optimizer.state_dict()
    for index, entries in theirs["state"].items():
        for key, value in entries.items():
            assert torch.equal(torch.as_tensor(ours["state"][index][key]), torch.as_tensor(value)), (index, key)
    assert [g["lr"] for g in ours["param_groups"]] == [g["lr"] for g in theirs["param_groups"]]
    normaliser, reference = fresh.get_env(), trained.get_env()
    assert normaliser.ret_rms.count == reference.ret_rms.count > 1
    assert normaliser.ret_rms.var == reference.ret_rms.var and normaliser.ret_rms.mean == reference.ret_rms.mean
    fresh.collect_outside_learn()
    assert not list(scratch.glob("SB3-*"))  # SB3's default "no logging" makes an empty SB3-<date> folder
