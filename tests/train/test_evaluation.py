"""The evaluation harness: the expert scores 100 %, Wilson's interval, failures by cause, and
``lnn-control evaluate`` for the expert."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import HOVER, short_env

from lnn_control.cli import main
from lnn_control.sim.experts import make_expert
from lnn_control.train.evaluation import ScenarioResult, evaluate_episode, wilson_interval


@pytest.mark.parametrize(
    "successes, trials, low, high",
    # closed form (Wilson 1927), z = 1.96: e.g. 0/10 -> z^2 / (n + z^2) = 0.2775
    [(0, 10, 0.0, 0.2775), (10, 10, 0.7225, 1.0), (5, 10, 0.2366, 0.7634), (95, 100, 0.8882, 0.9785)],
)
def test_wilson_interval_matches_the_closed_form(successes: int, trials: int, low: float, high: float) -> None:
    assert wilson_interval(successes, trials) == pytest.approx((low, high), abs=1e-4)


class _Shifted:
    """The expert aimed at a goal moved by ``offset`` m along x from ``after_ns`` on."""

    def __init__(self, offset: float, after_ns: int = 0) -> None:
        self.expert = make_expert(HOVER)
        self.offset, self.after_ns, self.goal = offset, after_ns, None

    def reset(self) -> None:
        self.expert.reset()

    def on_event(self, stream: str, stamp_ns: int, value: np.ndarray) -> None:
        if stream == "goal":
            self.goal = np.array(value, dtype=float)
            value = self.goal + [self.offset if stamp_ns >= self.after_ns else 0.0, 0.0, 0.0]
        self.expert.on_event(stream, stamp_ns, value)

    def command(self, stamp_ns: int) -> np.ndarray:
        if self.goal is not None and stamp_ns >= self.after_ns:  # the goal moves now, not at its next message
            self.expert.on_event("goal", stamp_ns, self.goal + [self.offset, 0.0, 0.0])
        return self.expert.command(stamp_ns)


class _Off:
    """Motors off: the quadrotor falls."""

    def reset(self) -> None: ...

    def on_event(self, stream: str, stamp_ns: int, value: np.ndarray) -> None: ...

    def command(self, stamp_ns: int) -> np.ndarray:
        return np.zeros(4, dtype=np.float32)


def test_the_harness_judges_the_expert_successful_and_names_each_failure() -> None:
    env = short_env(HOVER, 500)
    result = ScenarioResult(HOVER, "nominal")
    for seed in range(3):
        result.episodes.append(evaluate_episode(env, make_expert(HOVER), seed, privileged=True))
    summary = result.summary()
    assert summary["success_rate"] == 1.0 and summary["failed_seeds"] == []
    assert summary["tracking_error_m"] < 0.01 and summary["ci95"][0] == pytest.approx(0.4385, abs=1e-4)

    crash = evaluate_episode(env, _Off(), 0, privileged=True)
    assert crash.cause == "crash" and crash.terminated
    far = evaluate_episode(env, _Shifted(0.5), 0, privileged=True)
    assert far.cause == "never_reached" and 0.4 < far.final_distance_m < 0.6
    late = evaluate_episode(env, _Shifted(0.5, after_ns=4_000_000_000), 0, True)
    assert late.cause == "not_held" and late.min_distance_m < 0.1 < late.final_distance_m
    assert late.tracking_error_m > 0.1


def test_evaluate_cli_runs_the_expert_and_writes_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "expert.json"
    argv = ["evaluate", "--expert", "--env", "ArmReach-v0", "--episodes", "3", "--workers", "0", "--quiet",
            "--json", str(out)]
    assert main(argv) == 0
    document = json.loads(out.read_text())
    nominal = document["scenarios"]["nominal"]
    assert nominal["success_rate"] == 1.0 and nominal["episodes"] == 3 and len(nominal["per_episode"]) == 3
    assert "nominal" in capsys.readouterr().out


def test_evaluate_cli_runs_the_teacher_and_reports_the_recovery(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "teacher.json"
    argv = ["evaluate", "--teacher", "--env", "QuadHover-v0", "--scenario", "adaptation_ood", "--episodes", "3",
            "--workers", "0", "--quiet", "--json", str(out)]
    assert main(argv) == 0
    document = json.loads(out.read_text())
    assert document["teacher"] is True and document["expert"] is False
    summary = document["scenarios"]["adaptation_ood"]
    assert summary["success_rate"] == 1.0 and summary["adaptation"]["all"]["recovered"] == 3
    assert "adaptation_ood: recovered within 2 s: 3/3" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["evaluate", "--expert"], "--env is required"),
        (["evaluate", "--expert", "--env", "Pendulum-v1"], "unknown env 'Pendulum-v1'"),
        (["evaluate", "--model", "no/such/folder", "--env", "QuadHover-v0"], "is not a checkpoint"),
        (["evaluate", "--expert", "--env", "QuadHover-v0", "--episodes", "0"], "--episodes must be at least 1"),
    ],
)
def test_evaluate_cli_user_errors_exit_2_with_the_reason(argv: list[str], message: str,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err
