"""Every robustness rule of the runtime: feed the bad sequence, check the documented outcome.

Expected states come from running the policy directly (its step module or sequence form) or from
a fresh runtime, not from the runtime itself.
"""

import numpy as np
import pytest
import torch
from policies import GRAVITY_IMU, camera_frames, imu_values

from lnn_control.policy import EventOutcome, PolicyRuntime

MS = 1_000_000


def feed(runtime, stamps_ms, values, stream="imu"):
    return [runtime.on_event(stream, int(s * MS), v) for s, v in zip(stamps_ms, values)]


def assert_safe(runtime):
    command = runtime.command(0)
    actions = runtime.policy.config.actions
    assert np.isfinite(command).all()
    assert (command >= np.array(actions.low)).all() and (command <= np.array(actions.high)).all()
    return command


def direct_state(policy_, values, dts):
    """The policy stepped by hand: PolicyStep on the raw IMU values with the given dt (s)."""
    step = policy_.step_module()
    h = torch.zeros(1, step.state_size)
    with torch.no_grad():
        for value, dt in zip(values, dts):
            _, h = step(torch.as_tensor(value)[None], h, torch.full((1, 1), dt))
    return h[0].numpy()


def test_out_of_order_events_are_dropped(imu_policy):
    runtime = PolicyRuntime(imu_policy)
    values = imu_values(4)
    assert feed(runtime, [0, 5, 10], values[:3]) == [EventOutcome.STEPPED] * 3
    state, command = runtime.state, assert_safe(runtime)
    assert runtime.on_event("imu", 7 * MS, values[3]) == EventOutcome.LATE
    assert runtime.stats.late == 1 and runtime.stats.steps == 3
    np.testing.assert_array_equal(runtime.state, state)
    np.testing.assert_array_equal(assert_safe(runtime), command)


def test_duplicate_stamps_are_dropped(imu_policy):
    runtime = PolicyRuntime(imu_policy)
    values = imu_values(3)
    feed(runtime, [0, 5], values[:2])
    state = runtime.state
    assert runtime.on_event("imu", 5 * MS, values[2]) == EventOutcome.DUPLICATE
    assert runtime.stats.duplicates == 1 and runtime.stats.steps == 2
    np.testing.assert_array_equal(runtime.state, state)


def test_long_gap_is_integrated_in_bounded_sub_steps(imu_policy):
    """max_step_s = 20 ms: a 100 ms gap is 5 sub-steps of 20 ms with the new value."""
    runtime = PolicyRuntime(imu_policy)
    values = imu_values(2)
    feed(runtime, [0, 100], values)
    assert runtime.stats.long_gaps == 1 and runtime.stats.sub_steps == 5
    nominal = imu_policy.config.control.nominal_dt_s
    expected = direct_state(imu_policy, [values[0]] + [values[1]] * 5, [nominal] + [0.02] * 5)
    np.testing.assert_allclose(runtime.state, expected, atol=1e-6, rtol=0)
    assert_safe(runtime)


def test_gap_past_the_reset_bound_resets_the_state(imu_policy):
    """reset_gap_s = 0.5 s: after a 2 s silence the network starts afresh."""
    runtime = PolicyRuntime(imu_policy)
    values = imu_values(4)
    feed(runtime, [0, 5, 10], values[:3])
    assert runtime.on_event("imu", 2010 * MS, values[3]) == EventOutcome.STEPPED
    assert runtime.stats.gap_resets == 1
    fresh = PolicyRuntime(imu_policy)
    fresh.on_event("imu", 0, values[3])
    np.testing.assert_array_equal(runtime.state, fresh.state)


def test_clock_jump_backwards_resets_everything(camera_policy):
    runtime = PolicyRuntime(camera_policy)
    frames, values = camera_frames(2), imu_values(3)
    runtime.on_event("camera", 10_000 * MS, frames[0])
    feed(runtime, [10_000, 10_005], values[:2])
    assert runtime.stats.steps == 2
    # the clock restarts near zero (a simulator or bag restarted): reset, wait for every stream
    assert runtime.on_event("imu", 3 * MS, values[2]) == EventOutcome.WAITING
    assert runtime.stats.clock_resets == 1
    np.testing.assert_array_equal(runtime.command(3 * MS), runtime.policy.config.actions.safe)
    assert runtime.on_event("camera", 4 * MS, frames[1]) == EventOutcome.HELD  # now all reported
    assert runtime.on_event("imu", 8 * MS, values[0]) == EventOutcome.STEPPED
    fresh = PolicyRuntime(camera_policy)
    fresh.on_event("imu", 3 * MS, values[2])
    fresh.on_event("camera", 4 * MS, frames[1])
    fresh.on_event("imu", 8 * MS, values[0])
    np.testing.assert_array_equal(runtime.state, fresh.state)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_are_rejected(imu_policy, bad):
    runtime = PolicyRuntime(imu_policy)
    feed(runtime, [0], imu_values(1))
    state = runtime.state
    value = GRAVITY_IMU.copy()
    value[2] = bad
    assert runtime.on_event("imu", 5 * MS, value) == EventOutcome.REJECTED
    assert runtime.stats.rejected == {"non_finite": 1}
    assert "NaN or Inf" in runtime.stats.last_rejection
    np.testing.assert_array_equal(runtime.state, state)
    assert_safe(runtime)


@pytest.mark.parametrize(
    ("stream", "value", "kind", "words"),
    [
        ("imu", np.zeros(5, np.float32), "shape", "(5,) does not match the expected (6,)"),
        ("imu", np.zeros((1, 6), np.float32), "shape", "(1, 6)"),
        ("imu", np.array(["a"] * 6), "dtype", "not numeric"),
        ("camera", np.zeros((64, 64, 3), np.float32), "dtype", "float32, expected uint8"),
        ("camera", np.zeros((48, 64, 3), np.uint8), "shape", "(48, 64, 3) does not match"),
        ("lidar", np.zeros(3, np.float32), "unknown_stream", "unknown stream 'lidar'"),
    ],
)
def test_malformed_values_are_rejected_with_a_reason(camera_policy, stream, value, kind, words):
    runtime = PolicyRuntime(camera_policy)
    assert runtime.on_event(stream, 0, value) == EventOutcome.REJECTED
    assert runtime.stats.rejected == {kind: 1}
    assert words in runtime.stats.last_rejection
    assert sum(runtime.stats.events.values()) == 0


@pytest.mark.parametrize("encoding", ["mono8", "yuv422", "16UC1"])
def test_unusable_image_encodings_are_rejected(camera_policy, encoding):
    runtime = PolicyRuntime(camera_policy)
    assert runtime.on_event("camera", 0, camera_frames(1)[0], encoding) == EventOutcome.REJECTED
    assert runtime.stats.rejected == {"encoding": 1}
    assert encoding in runtime.stats.last_rejection


def test_bgr8_frames_are_converted_for_an_rgb8_stream(camera_policy):
    rgb = camera_frames(1)[0]
    a, b = PolicyRuntime(camera_policy), PolicyRuntime(camera_policy)
    a.on_event("camera", 0, rgb, "rgb8")
    b.on_event("camera", 0, np.ascontiguousarray(rgb[:, :, ::-1]), "bgr8")
    for runtime in (a, b):
        runtime.on_event("imu", MS, GRAVITY_IMU)
    np.testing.assert_array_equal(a.state, b.state)


def test_nothing_steps_until_every_stream_has_reported(camera_policy):
    runtime = PolicyRuntime(camera_policy)
    values = imu_values(3)
    assert feed(runtime, [0, 5], values[:2]) == [EventOutcome.WAITING] * 2
    np.testing.assert_array_equal(runtime.command(5 * MS), camera_policy.config.actions.safe)
    assert runtime.stats.steps == 0 and not runtime.state.any()
    assert runtime.on_event("camera", 6 * MS, camera_frames(1)[0]) == EventOutcome.HELD
    assert runtime.on_event("imu", 10 * MS, values[2]) == EventOutcome.STEPPED


def test_non_finite_network_output_gives_the_safe_command(imu_policy):
    with torch.no_grad():
        next(imu_policy.core.parameters()).fill_(float("nan"))
    runtime = PolicyRuntime(imu_policy)
    assert feed(runtime, [0], imu_values(1)) == [EventOutcome.STEPPED]
    assert runtime.stats.non_finite == 1
    np.testing.assert_array_equal(runtime.command(0), imu_policy.config.actions.safe)
    assert not runtime.state.any()


def test_commands_stay_finite_and_within_limits_under_extreme_inputs(camera_policy):
    runtime = PolicyRuntime(camera_policy)
    rng = np.random.default_rng(3)
    stamp = 0
    runtime.on_event("camera", 0, camera_frames(1)[0])
    for i in range(300):
        stamp += int(rng.integers(1, 30)) * MS
        extreme = (rng.normal(0, 1, 6) * 10.0 ** rng.integers(0, 7)).astype(np.float32)
        runtime.on_event("imu", stamp, extreme)
        if i % 10 == 0:
            runtime.on_event("camera", stamp, camera_frames(1, seed=i)[0])
        assert_safe(runtime)
    assert runtime.stats.steps == 300


def test_a_frame_older_than_the_latest_imu_is_latency_not_a_clock_jump(camera_policy):
    """A camera frame that reaches the runtime after IMU messages 0.7 s newer (max_backward_s is
    0.5 s) is held with its own stamp; nothing resets. (On a loaded CPU frames queue longer than
    IMU messages: taken for clock jumps, they reset the network 91 times in 10 s.)"""
    runtime = PolicyRuntime(camera_policy)
    frames, values = camera_frames(2), imu_values(3)
    runtime.on_event("camera", 1_000 * MS, frames[0])
    feed(runtime, [1_000, 1_700], values[:2])
    assert runtime.on_event("camera", 1_010 * MS, frames[1]) == EventOutcome.HELD
    assert runtime.on_event("imu", 1_705 * MS, values[2]) == EventOutcome.STEPPED
    assert runtime.stats.clock_resets == 0 and runtime.stats.steps == 3
    # its own stream jumping back by more than max_backward_s still is a clock jump
    assert runtime.on_event("camera", 400 * MS, frames[0]) == EventOutcome.WAITING
    assert runtime.stats.clock_resets == 1


def test_restart_zeroes_the_state_and_keeps_the_held_values(camera_policy):
    """After a sensor fault the node restarts the network: the next IMU message steps at once,
    from zero state over nominal_dt_s, on the frame held, exactly as a fresh runtime given that
    frame and that message would."""
    runtime = PolicyRuntime(camera_policy)
    frames, values = camera_frames(2), imu_values(4)
    runtime.on_event("camera", 0, frames[0])
    feed(runtime, [0, 5, 10], values[:3])
    runtime.on_event("camera", 12 * MS, frames[1])
    runtime.restart()
    np.testing.assert_array_equal(runtime.command(0), camera_policy.config.actions.safe)
    assert runtime.on_event("imu", 900 * MS, values[3]) == EventOutcome.STEPPED
    fresh = PolicyRuntime(camera_policy)
    fresh.on_event("camera", 12 * MS, frames[1])
    fresh.on_event("imu", 900 * MS, values[3])
    np.testing.assert_array_equal(runtime.state, fresh.state)
    np.testing.assert_array_equal(runtime.command(0), fresh.command(0))
