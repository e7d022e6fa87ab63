"""Demonstration files, the TBPTT batches, behaviour cloning and the resumable training state."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import HOVER, make_policy, policy_config, record, short_env

from lnn_control.policy import PolicyRuntime
from lnn_control.train.bc import fit, set_input_statistics, validation_loss
from lnn_control.train.config import BudgetConfig, OptimConfig
from lnn_control.train.dataset import StepDataset, lane_layout
from lnn_control.train.demonstrations import DemonstrationError, load_episode, save_episode, write_schema
from lnn_control.train.featurize import featurize_episode
from lnn_control.train.state import (
    TrainingState,
    latest_checkpoint,
    load_training_checkpoint,
    remove_stale,
    save_training_checkpoint,
)


@pytest.fixture(scope="module")
def episodes():  # type: ignore[no-untyped-def]
    env = short_env(HOVER, 60)
    return [record(env, seed) for seed in range(3)]


def test_an_episode_file_gives_back_every_event_and_label(tmp_path: Path, episodes) -> None:  # type: ignore[no-untyped-def]
    episode = episodes[0]
    previous = os.umask(0o022)
    try:
        path = save_episode(episode, tmp_path / "data" / "seed_0.npz")
    finally:
        os.umask(previous)
    assert sorted(p.name for p in path.parent.iterdir()) == ["seed_0.npz"]  # no temporary left
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # as open() gives, not mkstemp's 0o600
    loaded = load_episode(path)
    assert loaded.metadata["env_id"] == HOVER and loaded.metadata["seed"] == 0
    assert loaded.metadata["scenario"] == "nominal" and loaded.metadata["success"] is False  # 0.6 s
    np.testing.assert_array_equal(loaded.expert_command, episode.expert_command)
    assert len(loaded.expert_command) == len(loaded.control_stamp_ns) == len(loaded.applied_command) + 1
    for original, again in zip(episode.sensor_batches(), loaded.sensor_batches()):
        assert [(e.stream, e.stamp_ns) for e in original] == [(e.stream, e.stamp_ns) for e in again]
        for a, b in zip(original, again):
            np.testing.assert_array_equal(a.value, b.value)
    assert set(loaded.privileged.names) == {"ground_truth", "physics"}
    schema = write_schema(tmp_path / "data")
    assert "event_delivered" in schema.read_text()
    with np.load(path, allow_pickle=False) as arrays:  # plain arrays only: no pickled object
        assert json.loads(str(arrays["metadata"]))["format"] == "lnn_control.demonstrations"


def test_a_file_that_is_not_an_episode_is_refused_with_its_name(tmp_path: Path) -> None:
    bad = tmp_path / "bad.npz"
    np.savez(bad, metadata=np.array(json.dumps({"format": "other"})))
    with pytest.raises(DemonstrationError, match="bad.npz is not a lnn_control.demonstrations"):
        load_episode(bad)


def test_the_expert_fraction_follows_beta_and_the_learner_flies_the_rest() -> None:
    policy = make_policy(policy_config("quad_hover_cfc"))
    env = short_env(HOVER, 100)
    episode = record(env, 5, PolicyRuntime(policy), beta=0.5)
    assert 0.3 < episode.expert_applied.mean() < 0.7
    applied, labels = episode.applied_command, episode.expert_command[:-1]
    np.testing.assert_array_equal(applied[episode.expert_applied], labels[episode.expert_applied])
    assert not np.allclose(applied[~episode.expert_applied], labels[~episode.expert_applied], atol=1e-3)


def test_lanes_balance_episodes_and_batches_pad_their_end(episodes) -> None:  # type: ignore[no-untyped-def]
    assert lane_layout([10, 5, 5, 8], [0, 1, 2, 3], 2) == [[0, 3], [1, 2]]  # shortest lane; ties: first
    assert lane_layout([10, 5, 5, 8], [3, 1, 2, 0], 3) == [[3], [1, 0], [2]]
    config = policy_config("quad_hover_cfc")
    data = StepDataset(config, [featurize_episode(config, e) for e in episodes])
    index = data.lanes([2, 0, 1], 2)
    assert index.shape == (2, data.lengths[2] + data.lengths[1])
    batch = data.batch(index)
    assert batch.mask.sum() == data.steps
    assert bool(batch.reset[0, 0]) and bool(batch.reset[0, data.lengths[2]])  # episodes start fresh


def test_behaviour_cloning_lowers_the_loss_on_a_tiny_data_set(episodes) -> None:  # type: ignore[no-untyped-def]
    config = policy_config("quad_hover_cfc")
    policy = make_policy(config)
    data = StepDataset(config, [featurize_episode(config, e) for e in episodes])
    optim = OptimConfig(learning_rate=3e-3, chunk_steps=20, lanes=3)
    set_input_statistics(policy, data, optim.min_std)
    odom = np.concatenate([featurize_episode(config, e).vectors["odom"] for e in episodes])  # held per step
    torch.testing.assert_close(policy.encoders["odom"].mean, torch.from_numpy(odom.astype(np.float64).mean(0)).float())
    before = validation_loss(policy, data, optim, None)
    optimizer = torch.optim.Adam(policy.parameters(), lr=optim.learning_rate)
    state = TrainingState()
    losses: list[float] = []
    fit(policy, optimizer, data, data, optim, BudgetConfig(max_epochs=12, patience=0), state, 0, 3e-3,
        on_update=losses.append)
    after = validation_loss(policy, data, optim, None)
    chunks = -(-max(data.lengths) // 20)  # one episode per lane
    assert state.phase_done and state.epoch == 12 and state.update == len(losses) == 12 * chunks
    assert after < 0.3 * before, (before, after)
    assert after == pytest.approx(state.best_loss)  # the best weights are the ones kept


def test_the_auxiliary_loss_averages_only_labels_that_exist() -> None:
    """Closed form: NaN labels and padded steps count for nothing."""
    from lnn_control.train.bc import auxiliary_loss
    from lnn_control.train.dataset import Batch

    outputs = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])
    labels = torch.tensor([[[0.0, float("nan")], [3.0, 0.0]]])
    empty = torch.zeros(1, 2)
    batch = Batch({}, {}, {}, empty, empty, empty.bool(), empty, torch.ones(1, 2), labels)
    assert float(auxiliary_loss(outputs, batch)) == pytest.approx((1.0 + 0.0 + 16.0) / 3)
    batch.mask = torch.tensor([[1.0, 0.0]])
    assert float(auxiliary_loss(outputs, batch)) == pytest.approx(1.0)


def test_an_auxiliary_head_learns_where_the_target_is_alongside_the_commands() -> None:
    """QuadTarget's policy with its auxiliary head: the labels are target_view of the recorded
    ground truth at each step's control instant, and behaviour cloning fits them too."""
    from helpers import TARGET

    from lnn_control.sim.experts.target_search import target_view
    from lnn_control.train.bc import auxiliary_loss
    from lnn_control.train.featurize import privileged_labels
    from lnn_control.train.sequence import run_batch

    config = policy_config("quad_target_cnn_cfc")
    assert config.stream("camera").auxiliary == 4
    policy = make_policy(config)
    recorded = [record(short_env(TARGET, 40), seed) for seed in (0, 4)]  # the target in view at the start
    steps = [featurize_episode(config, e, target_view) for e in recorded]
    truth, goal = recorded[0].privileged.values["ground_truth"], recorded[0].privileged.values["goal"][0]
    assert len(truth) == recorded[0].instants  # one ground-truth message per control instant
    expected = np.stack([target_view(state, goal) for state in truth])
    np.testing.assert_array_equal(privileged_labels(recorded[0], target_view), expected)
    assert steps[0].auxiliary is not None and steps[0].auxiliary.shape == (len(steps[0]), 4)
    np.testing.assert_array_equal(steps[0].auxiliary, privileged_labels(recorded[0], target_view)[steps[0].instant])
    in_view = steps[0].auxiliary[:, 0]  # always labelled; seed 0 starts with the target in view
    assert set(np.unique(in_view)) <= {0.0, 1.0} and in_view[0] == 1.0
    data = StepDataset(config, steps)
    set_input_statistics(policy, data, 1e-3)
    optim = OptimConfig(chunk_steps=40, lanes=2, auxiliary_weight=1.0)

    def aux_error() -> float:
        with torch.no_grad():
            batch = data.batch(data.lanes([0, 1], 2))
            return float(auxiliary_loss(run_batch(policy, batch)[2], batch))

    before = aux_error()
    fit(policy, torch.optim.Adam(policy.parameters()), data, None, optim, BudgetConfig(max_epochs=30, patience=0),
        TrainingState(), 0, 3e-3)
    assert aux_error() < 0.2 * before, (before, aux_error())


def test_labels_that_do_not_fit_the_auxiliary_heads_are_refused_naming_the_sizes() -> None:
    from helpers import TARGET

    from lnn_control.errors import ConfigError
    from lnn_control.sim.experts.target_search import target_view

    config = policy_config("quad_target_cnn_cfc")  # one head of 4 outputs
    recorded = record(short_env(TARGET, 10), 0)
    with pytest.raises(ConfigError, match="labels have 3 values but the policy's auxiliary heads have 4"):
        featurize_episode(config, recorded, lambda truth, goal: target_view(truth, goal)[:3])


def test_early_stopping_keeps_the_best_weights(episodes) -> None:  # type: ignore[no-untyped-def]
    config = policy_config("quad_hover_cfc")
    policy = make_policy(config)
    data = StepDataset(config, [featurize_episode(config, e) for e in episodes])
    optim = OptimConfig(learning_rate=0.5, chunk_steps=30, lanes=3, final_lr_fraction=1.0)  # diverges
    state = TrainingState()
    fit(policy, torch.optim.Adam(policy.parameters()), data, data, optim, BudgetConfig(max_epochs=20, patience=2),
        state, 0, 0.5)
    assert state.epoch < 20 and state.bad_epochs == 2
    kept = validation_loss(policy, data, optim, None)
    assert kept == pytest.approx(state.best_loss)
    assert kept <= min(v[3] for v in state.val_curve)  # no epoch was better than what is kept


def test_a_training_checkpoint_restores_weights_optimizer_and_counters(tmp_path: Path, episodes) -> None:  # type: ignore[no-untyped-def]
    config = policy_config("quad_hover_cfc")
    policy = make_policy(config)
    data = StepDataset(config, [featurize_episode(config, e) for e in episodes])
    optimizer = torch.optim.Adam(policy.parameters(), lr=1e-3)
    state = TrainingState()
    fit(policy, optimizer, data, None, OptimConfig(chunk_steps=25, lanes=2), BudgetConfig(max_epochs=1, max_updates=3),
        state, 0, 1e-3)
    state.phase_done, state.carry = False, torch.randn(2, policy.state_size)
    previous = os.umask(0o022)
    try:
        folder = save_training_checkpoint(tmp_path / "checkpoints", policy, optimizer, state)
    finally:
        os.umask(previous)
    assert folder.name == "update_0000003"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755  # as mkdir gives, not mkdtemp's 0o700
    (tmp_path / "checkpoints" / ".update_0000004.half").mkdir()  # what a kill leaves mid-write
    assert latest_checkpoint(tmp_path / "checkpoints") == folder
    remove_stale(tmp_path)
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["update_0000003"]

    other = make_policy(config, seed=1)
    other_optimizer = torch.optim.Adam(other.parameters(), lr=1e-3)
    restored = load_training_checkpoint(folder, other, other_optimizer)
    for key, value in policy.state_dict().items():
        torch.testing.assert_close(other.state_dict()[key], value, rtol=0, atol=0)
    torch.testing.assert_close(restored.carry, state.carry)
    assert restored.update == 3 and restored.train_curve == state.train_curve
    saved, loaded = optimizer.state_dict(), other_optimizer.state_dict()
    assert saved["param_groups"][0]["lr"] == loaded["param_groups"][0]["lr"]
    for index, entries in saved["state"].items():
        for key, value in entries.items():
            torch.testing.assert_close(loaded["state"][index][key], value, rtol=0, atol=0)
