"""What the runtime returns for each event: the result says what happened, and agrees with the
counters and with the state it leaves (checked against a fresh runtime and the documented rules);
and GuardedController gives any controller the runtime's interface and checks."""

import numpy as np
import pytest
import torch
from policies import camera_frames, config, imu_values, policy

from lnn_control.policy import EventOutcome, EventResult, PolicyRuntime, Rejection, Runtime
from lnn_control.policy.guarded import GuardedController

MS = 1_000_000


def test_a_rejection_carries_its_kind_and_message(imu_policy):
    runtime = PolicyRuntime(imu_policy)
    result = runtime.on_event("imu", 0, np.full(6, np.nan, np.float32))
    assert result == EventOutcome.REJECTED and not result.accepted and not result.stepped
    assert result.rejection == Rejection("non_finite", runtime.stats.last_rejection)
    assert result.reason == "stream 'imu': value holds NaN or Inf"
    unknown = runtime.on_event("lidar", 0, np.zeros(3, np.float32))
    assert unknown.rejection is not None and unknown.rejection.kind == "unknown_stream"
    assert "lidar" in unknown.reason and "['imu']" in unknown.reason


def test_dropped_events_say_why(imu_policy):
    runtime = PolicyRuntime(imu_policy)
    values = imu_values(3)
    assert runtime.on_event("imu", 10 * MS, values[0]).stepped
    duplicate = runtime.on_event("imu", 10 * MS, values[1])
    late = runtime.on_event("imu", 9 * MS, values[2])
    assert (duplicate.outcome, late.outcome) == (EventOutcome.DUPLICATE, EventOutcome.LATE)
    assert duplicate.reason.startswith("duplicate") and late.reason.startswith("late")
    assert duplicate.rejection is None and not duplicate.accepted and not late.cleared


def test_cleared_on_a_clock_jump_a_reset_gap_and_a_non_finite_output(imu_policy):
    runtime = PolicyRuntime(imu_policy)
    values = imu_values(6)
    assert runtime.on_event("imu", 1000 * MS, values[0]) == EventResult(EventOutcome.STEPPED)
    plain = runtime.on_event("imu", 1005 * MS, values[1])
    assert plain.stepped and not plain.cleared and runtime.state.any()
    # beyond reset_gap_s (0.5 s): the step starts from zero state, as a fresh runtime's first
    gap = runtime.on_event("imu", 1600 * MS, values[2])
    assert gap == EventResult(EventOutcome.STEPPED, cleared=True)
    fresh = PolicyRuntime(imu_policy)
    fresh.on_event("imu", 1600 * MS, values[2])
    np.testing.assert_array_equal(runtime.state, fresh.state)
    # back by more than max_backward_s: everything forgotten, then applied as the first event
    jump = runtime.on_event("imu", 10 * MS, values[3])
    assert jump == EventResult(EventOutcome.STEPPED, cleared=True) and runtime.stats.clock_resets == 1
    fresh = PolicyRuntime(imu_policy)
    fresh.on_event("imu", 10 * MS, values[3])
    np.testing.assert_array_equal(runtime.state, fresh.state)
    with torch.no_grad():
        next(imu_policy.core.parameters()).fill_(float("nan"))
    broken = PolicyRuntime(imu_policy).on_event("imu", 0, values[4])
    assert broken == EventResult(EventOutcome.STEPPED, cleared=True)


def test_timer_mode_ticks_say_when_they_step():
    runtime = PolicyRuntime(policy("imu_cfc", mode="timer", stream=None))
    values = imu_values(2)
    assert runtime.tick(5 * MS) == EventOutcome.WAITING  # no stream has reported yet
    assert runtime.on_event("imu", 1 * MS, values[0]) == EventOutcome.HELD
    assert runtime.tick(5 * MS).stepped and runtime.stats.steps == 1
    assert runtime.tick(5 * MS) == EventOutcome.WAITING  # not later than the last step
    assert runtime.stats.steps == 1
    jump = runtime.tick(-600 * MS)  # back by more than max_backward_s
    assert jump == EventResult(EventOutcome.WAITING, cleared=True)
    assert runtime.stats.clock_resets == 1 and not runtime.state.any()


def test_images_are_held_and_results_compare_with_outcomes(camera_policy):
    runtime = PolicyRuntime(camera_policy)
    frame = camera_frames(1)[0]
    assert runtime.on_event("camera", 0, frame) == EventOutcome.WAITING
    assert runtime.on_event("imu", 1 * MS, imu_values(1)[0]).stepped
    held = runtime.on_event("camera", 2 * MS, frame)
    assert held == EventOutcome.HELD and held.accepted and held != EventOutcome.STEPPED
    assert EventResult(EventOutcome.HELD) != EventResult(EventOutcome.HELD, cleared=True)
    assert isinstance(runtime, Runtime)


class _Scripted:
    """A controller that commands what it is told to (an expert with a bug, say)."""

    def __init__(self, command: list[float]) -> None:
        self.next = np.array(command)
        self.events: list[str] = []
        self.resets = 0

    def reset(self) -> None:
        self.resets += 1

    def on_event(self, stream: str, stamp_ns: int, value: np.ndarray) -> None:
        self.events.append(stream)

    def command(self, stamp_ns: int) -> np.ndarray:
        return self.next


@pytest.mark.parametrize("command, expected", [
    ([0.3, 1.0, -2.0, 0.5], [0.3, 1.0, -2.0, 0.5]),  # within the limits: as it is
    ([9.0, -60.0, 60.0, 0.0], [0.6, -6.0, 6.0, 0.0]),  # clipped to [low, high]
    ([np.nan, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]),  # not finite: the safe command
])
def test_guarded_controller_checks_every_command(command, expected):
    inner = _Scripted(command)
    guarded = GuardedController(inner, config("imu_cfc"))
    assert isinstance(guarded, Runtime)
    assert guarded.command_values(0) == expected
    assert guarded.on_event("imu", 0, imu_values(1)[0]).stepped  # the stepping stream
    assert guarded.stats.events == {"imu": 1} and guarded.stats.steps == 1
    guarded.restart()
    assert inner.resets == 1 and inner.events == ["imu"]


def test_guarded_controller_holds_other_streams():
    guarded = GuardedController(_Scripted([0.0] * 4), config("camera_imu_cfc"))
    assert guarded.on_event("camera", 0, camera_frames(1)[0]) == EventOutcome.HELD
    assert guarded.stats.steps == 0 and guarded.stats.events == {"camera": 1, "imu": 0}
