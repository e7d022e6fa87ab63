"""Kill a real ``lnn-control train`` process with SIGKILL, resume it with ``--resume``: it ends with
the same updates, the same checkpoints and the same weights as a run never interrupted."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from helpers import kill_when, tiny_config

from lnn_control.cli import main
from lnn_control.policy import load_checkpoint


def _config(folder: Path) -> Path:
    return tiny_config(
        "quad_hover", folder,
        demonstrations={"episodes": 4},
        optim={"lanes": 4, "chunk_steps": 50},
        bc={"max_epochs": 3, "max_updates": 120, "patience": 3},
        dagger={"rounds": 1, "episodes": 2, "beta": [0.0], "budget": {"max_epochs": 2, "max_updates": 20}},
        checkpoint={"every_updates": 10},
        evaluation={"episodes": 1, "scenarios": ["nominal"]},
    )


def test_a_killed_run_resumes_to_the_same_updates_checkpoints_and_weights(tmp_path: Path) -> None:
    config = _config(tmp_path)
    killed, reference = tmp_path / "killed", tmp_path / "reference"
    command = [sys.executable, "-m", "lnn_control.cli", "train", "--config", str(config), "--out", str(killed),
               "--quiet"]
    first = killed / "checkpoints" / "update_0000010"
    kill_when(command, first)
    assert first.is_dir() and not (killed / "policy").exists(), "killed mid-run"
    at_kill = sorted(p.name for p in (killed / "checkpoints").iterdir() if not p.name.startswith("."))

    assert main(["train", "--out", str(killed), "--resume", "--quiet"]) == 0
    assert main(["train", "--config", str(config), "--out", str(reference), "--quiet"]) == 0

    names = sorted(p.name for p in (reference / "checkpoints").iterdir())
    assert sorted(p.name for p in (killed / "checkpoints").iterdir()) == names  # none lost, no stray temp
    assert set(at_kill) <= set(names) and "round_01" in names
    updates = [json.loads((run / "evaluation.json").read_text())["update"] for run in (killed, reference)]
    assert updates[0] == updates[1] > 60
    resumed, uninterrupted = load_checkpoint(killed / "policy"), load_checkpoint(reference / "policy")
    for key, value in uninterrupted.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[key], value, rtol=0, atol=0)
    for name in names:  # every checkpoint's weights, before and after the kill
        a, b = load_checkpoint(killed / "checkpoints" / name), load_checkpoint(reference / "checkpoints" / name)
        for key, value in b.state_dict().items():
            torch.testing.assert_close(a.state_dict()[key], value, rtol=0, atol=0)
