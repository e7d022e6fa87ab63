"""Training sees what the robot sees: recorded events featurized through the policy's aligner and
run by the training forward pass give the states and commands the PolicyRuntime computes on the
same events, step by step, including sub-steps, gap resets, timer mode and camera frames."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import HOVER, TARGET, make_policy, policy_config, record, short_env

from lnn_control.policy import PolicyRuntime
from lnn_control.train.dataset import StepDataset
from lnn_control.train.demonstrations import Episode
from lnn_control.train.featurize import featurize_episode
from lnn_control.train.sequence import run_batch


def _train_forward(policy, episode: Episode):  # type: ignore[no-untyped-def]
    steps = featurize_episode(policy.config, episode)
    data = StepDataset(policy.config, [steps])
    with torch.no_grad():
        commands, states, _ = run_batch(policy, data.batch(data.lanes([0], 1)))
    return steps, commands[0].numpy(), states[0].numpy(), data


def _runtime_trace(policy, episode: Episode) -> list[tuple[int, int, np.ndarray, np.ndarray]]:  # type: ignore[no-untyped-def]
    """(instant, stamp of the runtime's last step, state, command) whenever the network stepped."""
    runtime = PolicyRuntime(policy)
    timer = policy.config.control.mode == "timer"
    trace = []
    for k, batch in enumerate(episode.sensor_batches()):
        for event in batch:
            if event.stream in runtime.specs:
                outcome = runtime.on_event(event.stream, event.stamp_ns, event.value)
                if outcome.stepped:
                    trace.append((k, runtime.last_step_ns, runtime.state, runtime.command(event.stamp_ns)))
        if timer:
            before = runtime.stats.steps
            command = runtime.command(int(episode.control_stamp_ns[k]))
            if runtime.stats.steps != before:
                trace.append((k, runtime.last_step_ns, runtime.state, command))
    return trace


@pytest.mark.parametrize(
    "scenario, control",
    [
        ("nominal", {}),
        # irregular IMU (x0.5 to x2 rate, jitter, drops) with sub-steps in every gap over 3 ms and
        # a state reset in every gap over 9 ms
        ("timing_ood", {"max_step_s": 0.003, "reset_gap_s": 0.009}),
        # the network steps on each control instant instead of each IMU message
        ("timing_ood", {"mode": "timer", "stream": None}),
    ],
)
def test_featurized_steps_reproduce_the_runtime_state_by_state(scenario: str, control: dict) -> None:
    policy = make_policy(policy_config("quad_hover_cfc", **control))
    episode = record(short_env(HOVER, 80, scenario), seed=3)
    steps, commands, states, _ = _train_forward(policy, episode)
    trace = _runtime_trace(policy, episode)
    assert len(trace) > 50
    index = {int(stamp): i for i, stamp in enumerate(steps.stamp_ns)}
    for instant, stamp, state, command in trace:
        i = index[stamp]  # the step that ends at the runtime's last step (the last sub-step)
        np.testing.assert_allclose(states[i], state, rtol=1e-4, atol=2e-5)
        np.testing.assert_allclose(commands[i], command, rtol=1e-4, atol=2e-5)
        np.testing.assert_array_equal(steps.labels[i], episode.expert_command[instant])
    if control.get("max_step_s"):
        assert len(steps) > len(trace) and steps.reset[1:].any(), "sub-steps and gap resets were exercised"
    assert steps.reset[0]


def test_camera_frames_are_encoded_once_and_match_forward_sequence_and_the_runtime() -> None:
    config = policy_config("camera_imu_cfc")
    policy = make_policy(config)
    episode = record(short_env(TARGET, 40), seed=1)
    steps, commands, states, data = _train_forward(policy, episode)
    frames = len(episode.events.values["camera"])
    assert len(steps.frames["camera"]) == frames < len(steps) / 4  # each distinct frame kept once
    held = np.stack([steps.frames["camera"][i] for i in steps.frame_index["camera"]])
    with torch.no_grad():
        reference, reference_states = policy.forward_sequence(
            {"camera": torch.from_numpy(held)[None], "imu": data.vectors["imu"][None]},
            data.ages[None], data.dt[None], data.reset[None],
        )
    torch.testing.assert_close(torch.from_numpy(states)[None], reference_states)
    torch.testing.assert_close(torch.from_numpy(commands)[None], reference)
    trace = _runtime_trace(policy, episode)
    index = {int(stamp): i for i, stamp in enumerate(steps.stamp_ns)}
    for _, stamp, state, _ in trace:
        np.testing.assert_allclose(states[index[stamp]], state, rtol=1e-4, atol=2e-5)


def test_labels_are_the_expert_command_in_force_when_the_step_is_applied() -> None:
    """A step from events delivered at control instant k gets the expert's command at t_k: with a
    200 Hz IMU and a 100 Hz env, two steps share each label."""
    policy = make_policy(policy_config("quad_hover_cfc"))
    episode = record(short_env(HOVER, 30), seed=0)
    steps = featurize_episode(policy.config, episode)
    delivered = episode.events.delivered[episode.events.stream == episode.events.names.index("imu")]
    stamps = episode.events.stamp_ns[episode.events.stream == episode.events.names.index("imu")]
    # the IMU message at reset comes before the odometry and goal ones: no step until all reported
    for stamp, instant in zip(stamps[1:], delivered[1:]):
        i = int(np.flatnonzero(steps.stamp_ns == stamp)[0])
        assert steps.instant[i] == instant
        assert episode.control_stamp_ns[instant] >= stamp  # delivered by then
    counts = np.bincount(steps.instant)
    assert np.median(counts[1:]) == 2
