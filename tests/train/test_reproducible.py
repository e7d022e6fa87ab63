"""The same training config run twice gives bitwise the same run: the same episodes, updates,
learning curves, weights and evaluation, also when one run records its episodes in worker
processes (whose order of finishing varies) and the other in-process. QuadTarget: a camera, a
CNN and two torch threads, the config whose update count once seemed to vary."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from helpers import tiny_config
from safetensors.numpy import load_file

from lnn_control.cli import main


def _run(config: Path, out: Path, workers: int) -> Path:
    assert main(["train", "--config", str(config), "--out", str(out), "--workers", str(workers), "--quiet"]) == 0
    return out


def test_a_rerun_repeats_every_episode_update_weight_and_figure_bitwise(tmp_path: Path) -> None:
    config = tiny_config(
        "quad_target", tmp_path,
        demonstrations={"episodes": 2},
        bc={"max_epochs": 3, "max_updates": 0, "patience": 1},  # early stopping decides the updates
        dagger={"rounds": 1, "episodes": 2, "beta": [0.5], "budget": {"max_epochs": 2, "max_updates": 0, "patience": 1}},
        checkpoint={"every_updates": 1000},
    )
    first = _run(config, tmp_path / "first", workers=2)
    second = _run(config, tmp_path / "a" / "second run", workers=0)

    episodes = sorted(p.relative_to(first) for p in (first / "data").rglob("seed_*.npz"))
    assert len(episodes) == 4
    for name in episodes:
        a, b = np.load(first / name), np.load(second / name)
        assert a.files == b.files
        for key in a.files:
            if key != "metadata":  # it names the run folder
                assert a[key].tobytes() == b[key].tobytes(), f"{name}: {key}"
    checkpoints = sorted(p.name for p in (first / "checkpoints").iterdir())
    assert checkpoints == sorted(p.name for p in (second / "checkpoints").iterdir())
    for name in [*(f"checkpoints/{c}" for c in checkpoints), "policy"]:
        a, b = load_file(str(first / name / "weights.safetensors")), load_file(str(second / name / "weights.safetensors"))
        assert a.keys() == b.keys() and all(a[k].tobytes() == b[k].tobytes() for k in a), name
    states = [json.loads((run / "checkpoints" / "round_01" / "trainer.json").read_text()) for run in (first, second)]
    for key in ("update", "train_curve", "val_curve", "rounds", "data_sizes", "platforms"):
        assert states[0][key] == states[1][key], key
    evaluations = [json.loads((run / "evaluation.json").read_text()) for run in (first, second)]
    assert evaluations[0]["scenarios"] == evaluations[1]["scenarios"]
    assert evaluations[0]["update"] == evaluations[1]["update"] == states[0]["update"]
    assert evaluations[0]["platforms"][0]["cpu_kernels"]
