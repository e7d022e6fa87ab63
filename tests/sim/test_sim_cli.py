"""``lnn-control sim view``, ``lnn-control sim eval`` and ``lnn-control bench sim``, run for real
with small budgets (speed figures are the benchmark's business, not asserted here)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lnn_control.cli import main


def test_sim_view_writes_a_png_of_frames_and_plots(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import matplotlib.image

    out = tmp_path / "view" / "arm.png"
    assert main(["sim", "view", "--env", "ArmReach-v0", "--expert", "--out", str(out), "--frames", "4"]) == 0
    image = matplotlib.image.imread(out)
    assert image.ndim == 3 and image.shape[0] > 300 and image.shape[1] > 600
    assert image[..., :3].std() > 0.1  # not a blank canvas
    assert "success=True" in capsys.readouterr().out


def test_sim_view_with_random_actions_also_writes(tmp_path: Path) -> None:
    out = tmp_path / "hover.png"
    assert main(["sim", "view", "--env", "lnn_control/QuadHover-v0", "--out", str(out), "--frames", "3"]) == 0
    assert out.stat().st_size > 10_000


def test_sim_eval_reports_the_success_rate_as_json(tmp_path: Path) -> None:
    out = tmp_path / "eval.json"
    assert main(["sim", "eval", "--env", "QuadHover-v0", "--episodes", "3", "--json", str(out)]) == 0
    summary = json.loads(out.read_text())
    assert summary["episodes"] == 3 and summary["success_rate"] == 1.0 and summary["failed_seeds"] == []


@pytest.mark.parametrize(
    "argv, message",
    [
        (["sim", "eval", "--env", "CartPole-v1"], "unknown env 'CartPole-v1': choose one of"),
        (["sim", "eval", "--env", "QuadHover-v0", "--scenario", "windy"], "unknown scenario 'windy'"),
        (["sim", "view", "--env", "QuadHover-v0", "--out", "x.png", "--frames", "1"], "--frames must be at least 3"),
    ],
)
def test_user_errors_exit_2_with_the_reason(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_bench_sim_quick_writes_its_figures(tmp_path: Path) -> None:
    out = tmp_path / "bench_sim.json"
    assert main(["bench", "sim", "--quick", "--num-envs", "32", "--nthread", "1", "--json", str(out)]) == 0
    results = json.loads(out.read_text())
    for key in ("raw_mj_step_per_s", "raw_render_64_per_s", "env_camera_frames_per_s", "quad_target_steps_per_s"):
        assert results[key] > 0, key
    assert results["quad_hover"]["steps_per_s"] > 0 and results["quad_hover"]["substeps"] == 4
    (vector,) = results["vector"]
    assert vector["num_envs"] == 32 and np.isfinite(vector["steps_per_s"])
    assert set(results["met"]) == set(results["targets"])
