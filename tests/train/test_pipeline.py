"""A whole tiny run of ``lnn-control train``: DAgger aggregates its rounds, rolls the learner out
with its hidden state carried, labels every visited step with the expert; the run folder holds
checkpoints, TensorBoard logs, the evaluation and the report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import HOVER, tiny_config

from lnn_control.cli import main
from lnn_control.policy import PolicyRuntime, load_checkpoint
from lnn_control.sim.experts.se3 import GeometricController
from lnn_control.sim.events import EventBatch, feed
from lnn_control.train.demonstrations import load_episode
from lnn_control.train.state import STATE_FILE


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("run")
    config = tiny_config(
        "quad_hover", folder,
        demonstrations={"episodes": 3},
        bc={"max_epochs": 2, "max_updates": 6, "patience": 2},
        dagger={"rounds": 2, "episodes": 2, "beta": [0.5, 0.0], "budget": {"max_epochs": 1, "max_updates": 3}},
        checkpoint={"every_updates": 4},
        evaluation={"episodes": 2, "scenarios": ["nominal", "timing_ood"]},
    )
    out = folder / "out"
    assert main(["train", "--config", str(config), "--out", str(out), "--quiet"]) == 0
    return out


def test_dagger_aggregates_every_round_into_the_training_data(run: Path) -> None:
    counts = {name: len(list((run / "data" / name).glob("seed_*.npz"))) for name in ("expert", "dagger_01", "dagger_02")}
    assert counts == {"expert": 3, "dagger_01": 2, "dagger_02": 2}
    state = json.loads((run / "checkpoints" / "round_02" / STATE_FILE).read_text())
    # [phase, training episodes, validation episodes, steps]: the last of each phase's new
    # episodes is held out, the others join the training set
    assert [size[:3] for size in state["data_sizes"]] == [[0, 2, 1], [1, 3, 2], [2, 4, 3]]
    assert state["data_sizes"][2][3] > state["data_sizes"][1][3] > state["data_sizes"][0][3]
    assert [(r["round"], r["beta"], r["episodes"]) for r in state["rounds"]] == [(1, 0.5, 2), (2, 0.0, 2)]
    episode = load_episode(run / "data" / "dagger_02" / "seed_202000.npz")
    assert episode.metadata["source"] == "dagger" and episode.metadata["round"] == 2
    assert episode.metadata["policy"] == str(run / "checkpoints" / "round_01")


def test_a_dagger_rollout_is_the_learner_flying_with_its_state_and_the_expert_labelling(run: Path) -> None:
    episode = load_episode(run / "data" / "dagger_02" / "seed_202001.npz")
    assert not episode.expert_applied.any()  # beta 0: the learner flies every step
    runtime = PolicyRuntime(load_checkpoint(run / "checkpoints" / "round_01"))
    labeller = GeometricController(integral_pole=0.0)  # the config's labelling expert
    privileged = list(episode.privileged.by_instant(episode.instants))
    for k, batch in enumerate(episode.sensor_batches()):
        for event in batch:
            if event.stream in runtime.specs:
                runtime.on_event(event.stream, event.stamp_ns, event.value)
        feed(labeller, EventBatch(batch), EventBatch(privileged[k]))
        now = int(episode.control_stamp_ns[k])
        np.testing.assert_allclose(labeller.command(now), episode.expert_command[k], rtol=1e-6, atol=1e-6)
        if k < len(episode.applied_command):
            np.testing.assert_array_equal(runtime.command(now), episode.applied_command[k])


def test_the_run_folder_holds_checkpoints_logs_evaluation_and_report(run: Path) -> None:
    names = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert names == ["round_00", "round_01", "round_02", "update_0000004", "update_0000008", "update_0000012"]
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
    evaluation = json.loads((run / "evaluation.json").read_text())
    assert set(evaluation["scenarios"]) == {"nominal", "timing_ood"} and evaluation["update"] == 12
    assert evaluation["training_time_s"] > 0
    report = (run / "report" / "report.md").read_text()
    for png in ("learning_curves.png", "evaluation.png", "command_neurons.png"):
        assert f"]({png})" in report and (run / "report" / png).stat().st_size > 10_000
    assert "| timing_ood |" in report and "## Command neurons" in report
    policy = load_checkpoint(run / "policy")  # the final policy is a plain, deployable checkpoint
    assert policy.config.actions.high[0] == pytest.approx(0.596)


def test_evaluate_cli_runs_every_scenario_on_a_trained_checkpoint(run: Path, tmp_path: Path) -> None:
    out = tmp_path / "all.json"
    argv = ["evaluate", "--model", str(run / "policy"), "--scenario", "all", "--episodes", "1", "--workers", "0",
            "--quiet", "--json", str(out)]
    assert main(argv) == 0  # the env comes from the checkpoint's metadata
    document = json.loads(out.read_text())
    assert document["env"] == HOVER
    assert list(document["scenarios"]) == ["nominal", "timing_ood", "physics_ood", "visual_ood", "adaptation_ood"]
    for summary in document["scenarios"].values():
        assert summary["episodes"] == 1 and len(summary["ci95"]) == 2
