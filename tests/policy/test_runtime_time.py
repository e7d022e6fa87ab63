"""The runtime integrates over real elapsed time exactly as the policy's sequence form does;
it is deterministic and thread-safe."""

import threading

import numpy as np
import pytest
import torch
from policies import camera_frames, imu_values, policy

from lnn_control.policy import EventOutcome, PolicyRuntime

MS = 1_000_000


def irregular_stamps(count, period_ms, jitter_ms, seed=0):
    rng = np.random.default_rng(seed)
    steps = rng.uniform(period_ms - jitter_ms, period_ms + jitter_ms, count)
    return np.round(np.cumsum(steps) * MS).astype(np.int64)


def sequence(policy_, values, ages, dt):
    """The policy's sequence form on one batch row: commands (T, A) and states (T, S)."""
    with torch.no_grad():
        actions, states = policy_.forward_sequence(
            {k: torch.as_tensor(v)[None] for k, v in values.items()},
            torch.as_tensor(ages, dtype=torch.float32)[None],
            torch.as_tensor(dt, dtype=torch.float32)[None],
        )
    return actions[0].numpy(), states[0].numpy()


@pytest.mark.parametrize("name", ["imu_cfc", "imu_ltc"])
def test_imu_stepped_runtime_equals_the_sequence_module(name):
    """Irregular IMU stamps (5 ms +- 2 ms): every step's dt is the real elapsed time."""
    policy_ = policy(name)
    runtime = PolicyRuntime(policy_)
    stamps, values = irregular_stamps(80, 5.0, 2.0), imu_values(80)
    commands = []
    for stamp, value in zip(stamps, values):
        assert runtime.on_event("imu", int(stamp), value) == EventOutcome.STEPPED
        commands.append(runtime.command(int(stamp)))
    dt = np.diff(stamps, prepend=stamps[0]) * 1e-9
    dt[0] = policy_.config.control.nominal_dt_s
    actions, states = sequence(policy_, {"imu": values}, np.zeros((80, 0)), dt)
    np.testing.assert_allclose(runtime.state, states[-1], atol=1e-5, rtol=0)
    np.testing.assert_allclose(np.array(commands), actions, atol=1e-5, rtol=0)


def test_camera_is_held_between_frames_and_its_age_is_an_input(camera_policy):
    """200 Hz IMU steps, 30 Hz camera with 20 ms latency: the latest frame received is held and
    its age (IMU stamp - frame stamp) / max_age_s is the network's last input."""
    runtime = PolicyRuntime(camera_policy)
    imu_stamps = irregular_stamps(60, 5.0, 1.0, seed=1)
    imu = imu_values(60, seed=1)
    frames = camera_frames(10, seed=2)
    frame_stamps = np.arange(10) * 33 * MS
    arrivals = frame_stamps + 20 * MS  # when each frame is delivered
    events = [(int(s), "imu", v) for s, v in zip(imu_stamps, imu)]
    events += [(int(a), "camera", (int(s), f)) for a, s, f in zip(arrivals, frame_stamps, frames)]
    events.sort(key=lambda e: (e[0], e[1] != "camera"))
    held, held_stamp = None, None
    steps = {"imu": [], "camera": [], "ages": [], "stamps": []}
    for _, stream, payload in events:
        if stream == "camera":
            held_stamp, frame = payload
            runtime.on_event("camera", held_stamp, frame)
            held = frame
        elif runtime.on_event("imu", _, payload) == EventOutcome.STEPPED:
            steps["imu"].append(payload)
            steps["camera"].append(held)
            max_age = camera_policy.config.control.max_age_s
            steps["ages"].append([min(max((_ - held_stamp) * 1e-9, 0.0) / max_age, 1.0)])
            steps["stamps"].append(_)
    stamps = np.array(steps["stamps"])
    dt = np.diff(stamps, prepend=stamps[0]) * 1e-9
    dt[0] = camera_policy.config.control.nominal_dt_s
    values = {"imu": np.array(steps["imu"]), "camera": np.array(steps["camera"])}
    _, states = sequence(camera_policy, values, np.array(steps["ages"]), dt)
    assert len(stamps) > 40
    np.testing.assert_allclose(runtime.state, states[-1], atol=1e-5, rtol=0)


def test_timer_mode_steps_at_the_timer_with_ages_of_every_stream():
    policy_ = policy("imu_cfc", mode="timer", stream=None)
    runtime = PolicyRuntime(policy_)
    values = imu_values(40)
    imu_stamps = irregular_stamps(40, 5.0, 1.0)
    ticks = np.arange(1, 20) * 10 * MS + 3 * MS
    held, held_stamp, expected_ages, held_values, commands = None, None, [], [], []
    i = 0
    for tick in ticks:
        while i < len(imu_stamps) and imu_stamps[i] <= tick:
            runtime.on_event("imu", int(imu_stamps[i]), values[i])
            held, held_stamp = values[i], imu_stamps[i]
            i += 1
        commands.append(runtime.command(int(tick)))
        held_values.append(held)
        expected_ages.append([(tick - held_stamp) * 1e-9 / policy_.config.control.max_age_s])
    dt = np.full(len(ticks), 0.01)
    dt[0] = policy_.config.control.nominal_dt_s
    actions, states = sequence(policy_, {"imu": np.array(held_values)}, np.array(expected_ages), dt)
    np.testing.assert_allclose(runtime.state, states[-1], atol=1e-5, rtol=0)
    np.testing.assert_allclose(np.array(commands), actions, atol=1e-5, rtol=0)


@pytest.mark.parametrize("engine", ["torch", "onnx"])
def test_same_events_give_the_same_commands_bit_for_bit(camera_policy, engine):
    events = [(int(s), "imu", v) for s, v in zip(irregular_stamps(50, 5.0, 2.0), imu_values(50))]
    events += [(i * 33 * MS, "camera", f) for i, f in enumerate(camera_frames(8))]
    events.sort(key=lambda e: e[0])
    runs = []
    for _ in range(2):
        runtime = PolicyRuntime(camera_policy, engine)
        runs.append([(runtime.on_event(stream, stamp, value), runtime.command(stamp))
                     for stamp, stream, value in events])
    for (outcome_a, command_a), (outcome_b, command_b) in zip(*runs):
        assert outcome_a == outcome_b
        np.testing.assert_array_equal(command_a, command_b)


def test_reset_starts_an_episode_afresh(imu_policy):
    runtime = PolicyRuntime(imu_policy)
    values = imu_values(10)
    for k, value in enumerate(values):
        runtime.on_event("imu", k * 5 * MS, value)
    first = runtime.state
    runtime.reset()
    assert not runtime.state.any()
    np.testing.assert_array_equal(runtime.command(0), imu_policy.config.actions.safe)
    for k, value in enumerate(values):
        runtime.on_event("imu", k * 5 * MS, value)
    np.testing.assert_array_equal(runtime.state, first)


def test_callbacks_from_several_threads():
    """IMU and camera callbacks on their own threads, a third reading commands: nothing is lost
    or corrupted, and every command is finite and within limits. (The threads are not paced in
    real time, so one stream's stamps may run ahead of the other's by up to the test's length;
    max_backward_s is widened to keep that from counting as a clock jump.)"""
    camera_policy = policy("camera_imu_cfc", max_backward_s=10.0)
    runtime = PolicyRuntime(camera_policy)
    imu_stamps, imu = irregular_stamps(400, 2.5, 0.5), imu_values(400)
    frames = camera_frames(4)
    outcomes: list[EventOutcome] = []
    commands: list[np.ndarray] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def guarded(function):
        def run():
            try:
                function()
            except BaseException as error:  # noqa: BLE001 - reported by the assertion below
                errors.append(error)
        return run

    first_frame = threading.Event()

    def send_imu():
        first_frame.wait()
        outcomes.extend(runtime.on_event("imu", int(s), v) for s, v in zip(imu_stamps, imu))

    def send_camera():
        for k in range(30):
            runtime.on_event("camera", k * 33 * MS, frames[k % 4])
            first_frame.set()

    def read_commands():
        while not done.is_set():
            commands.append(runtime.command(0))

    reader = threading.Thread(target=guarded(read_commands))
    reader.start()
    senders = [threading.Thread(target=guarded(f)) for f in (send_imu, send_camera)]
    for thread in senders:
        thread.start()
    for thread in senders:
        thread.join()
    done.set()
    reader.join()
    assert not errors
    assert runtime.stats.events == {"camera": 30, "imu": 400}
    assert outcomes == [EventOutcome.STEPPED] * 400
    assert runtime.stats.steps == 400
    actions = camera_policy.config.actions
    stacked = np.array(commands)
    assert np.isfinite(stacked).all()
    assert (stacked >= np.array(actions.low)).all() and (stacked <= np.array(actions.high)).all()
