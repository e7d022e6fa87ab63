"""The one data contract between sensors and controllers: timestamped sensor events in, what
became of each event and actuator commands out.

Data flows one way: sensor event ``(stream, stamp_ns, value)`` -> controller -> actuator command.
The ROS 2 node, the simulator, rosbag replay and evaluation all feed controllers through this
contract, so replay equals live and simulation equals robot by construction. Each stage returns
what happened to an event (:class:`EventResult`: stepped or not, the rejection and its reason,
whether the network state was cleared); no caller infers it by comparing counters.

Stream values by kind (float arrays are float32 or float64; SI units):

- ``imu``: ``(6,)`` angular velocity ``[wx, wy, wz]`` rad/s then linear acceleration
  ``[ax, ay, az]`` m/s^2 (specific force, as an accelerometer reads: +9.81 up at rest), body frame.
- ``attitude``: ``(3,)`` the world's up direction in the body frame, ``R^T [0, 0, 1]`` (unit; level:
  ``[0, 0, 1]``), from an attitude estimate (a flight controller's, as ``sensor_msgs/Imu``'s
  ``orientation``); it holds roll and pitch, not yaw, which an estimator without a compass lacks.
- ``image``: ``(H, W, C)`` uint8, rgb8 (C=3) unless the stream declares bgr8 or mono8 (C=1).
- ``joint_state``: ``(2 n,)`` joint positions (rad or m) then velocities (rad/s or m/s).
- ``odometry``: ``(13,)`` position ``[x, y, z]`` m, orientation quaternion ``[qx, qy, qz, qw]``
  (ROS order, body to world), linear velocity ``[vx, vy, vz]`` m/s (world frame), angular velocity
  ``[wx, wy, wz]`` rad/s (body frame).
- ``vector``: ``(n,)`` any fixed-size float vector (a goal position, a target pose).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import NamedTuple, Optional, Protocol, runtime_checkable

import numpy as np

__all__ = ["Controller", "EventOutcome", "EventResult", "Rejection", "Runtime", "RuntimeStats",
           "SensorEvent"]


@dataclass(frozen=True)
class SensorEvent:
    """One sensor message.

    :param stream: the stream's name as the policy declares it (e.g. ``"imu"``, ``"camera"``).
    :param stamp_ns: when the sensor measured it (the message's ``header.stamp``), nanoseconds.
    :param value: the measurement, shaped and in the units of the stream's kind (module docstring).
    """

    stream: str
    stamp_ns: int
    value: np.ndarray


class EventOutcome(str, enum.Enum):
    """What happened to an event."""

    STEPPED = "stepped"  #: the network advanced to the event's stamp
    HELD = "held"  #: the value is stored for the next step
    WAITING = "waiting"  #: stored, but not every stream has reported yet: no step
    DUPLICATE = "duplicate"  #: same stamp as the stream's last event: dropped
    LATE = "late"  #: older than the last applied stamp: dropped
    REJECTED = "rejected"  #: invalid value or unknown stream: dropped (see the result's rejection)


class Rejection(NamedTuple):
    """Why an event's value was refused.

    :param kind: ``unknown_stream``, ``shape``, ``dtype``, ``encoding`` or ``non_finite``.
    :param message: what was wrong, naming the stream, for a person.
    """

    kind: str
    message: str


_ACCEPTED = (EventOutcome.STEPPED, EventOutcome.HELD, EventOutcome.WAITING)
#: why a dropped event was dropped, for a person (a rejection says its own)
_DROPPED = {
    EventOutcome.DUPLICATE: "duplicate: the same stamp as the stream's previous message",
    EventOutcome.LATE: "late: stamped before the stream's previous message (or the last step)",
}


@dataclass(frozen=True, eq=False)
class EventResult:
    """What became of one event (or, in timer mode, one tick).

    A result compares equal to its :class:`EventOutcome` (``result == EventOutcome.STEPPED``) and
    to a result with the same fields.

    :param outcome: stepped, held, waiting, or dropped and why.
    :param cleared: the network state was zeroed while taking it: a clock jump (every held value
        forgotten too), a gap beyond ``control.reset_gap_s`` or a non-finite network output.
    :param rejection: ``REJECTED`` only: the kind and the message.
    """

    outcome: EventOutcome
    cleared: bool = False
    rejection: Optional[Rejection] = None

    @property
    def stepped(self) -> bool:
        """The network advanced (to the event's stamp, or the tick's)."""
        return self.outcome is EventOutcome.STEPPED

    @property
    def accepted(self) -> bool:
        """The value is valid and in order: it was stored (and possibly stepped on)."""
        return self.outcome in _ACCEPTED

    @property
    def reason(self) -> str:
        """Why the event was dropped (empty if it was accepted)."""
        if self.rejection is not None:
            return self.rejection.message
        return _DROPPED.get(self.outcome, "")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, EventOutcome):
            return self.outcome is other
        if isinstance(other, EventResult):
            return (self.outcome, self.cleared, self.rejection) == (
                other.outcome, other.cleared, other.rejection)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.outcome, self.cleared, self.rejection))


#: the results that carry nothing but their outcome (shared: no allocation per event)
PLAIN_RESULTS = {outcome: EventResult(outcome) for outcome in EventOutcome}


@dataclass
class RuntimeStats:
    """Counters of everything the aligner and runtime did, cumulative over resets."""

    #: accepted events per stream
    events: dict[str, int] = field(default_factory=dict)
    #: network steps (events or ticks that stepped), and sub-steps taken inside long gaps
    steps: int = 0
    sub_steps: int = 0
    duplicates: int = 0
    late: int = 0
    long_gaps: int = 0
    gap_resets: int = 0
    clock_resets: int = 0
    #: network outputs that were not finite (state reset, safe command sent)
    non_finite: int = 0
    #: rejected events per reason: unknown_stream, shape, dtype, encoding, non_finite
    rejected: dict[str, int] = field(default_factory=dict)
    #: the last rejection's kind (a key of ``rejected``) and full message
    last_rejection_kind: Optional[str] = None
    last_rejection: Optional[str] = None

    def reject(self, rejection: Rejection) -> None:
        """Count one rejected event."""
        self.rejected[rejection.kind] = self.rejected.get(rejection.kind, 0) + 1
        self.last_rejection_kind, self.last_rejection = rejection


@runtime_checkable
class Controller(Protocol):
    """What drives a robot: the policy runtime, and the privileged expert controllers.

    A controller consumes sensor events in stamp order and, when asked, returns the actuator
    command for a time, in the actions' physical units.
    """

    def reset(self) -> None:
        """Forget all state: a new episode starts."""

    def on_event(self, stream: str, stamp_ns: int, value: np.ndarray) -> object:
        """Take one sensor measurement stamped ``stamp_ns`` (nanoseconds)."""

    def command(self, stamp_ns: int) -> np.ndarray:
        """The actuator command for time ``stamp_ns``: finite, within the actuator limits."""


@runtime_checkable
class Runtime(Controller, Protocol):
    """What a ROS 2 node and a replay drive: a :class:`Controller` that says what became of each
    event, restarts after a sensor fault, and whose every command is safe (finite, within the
    limits). :class:`~lnn_control.policy.runtime.PolicyRuntime` is one;
    :class:`~lnn_control.policy.guarded.GuardedController` makes one of any controller."""

    #: what it did, cumulative
    stats: RuntimeStats

    def restart(self) -> None:
        """Start afresh after a sensor fault (what a runtime keeps, e.g. a goal sent once, stays)."""

    @property
    def waiting_for(self) -> tuple[str, ...]:
        """The streams it waits for before it can command (none once every stream has reported)."""

    def on_event(self, stream: str, stamp_ns: int, value: np.ndarray,
                 encoding: Optional[str] = None) -> EventResult:
        """Take one sensor message; what became of it.

        :param encoding: image streams: the message's pixel encoding.
        """

    def command_values(self, stamp_ns: int) -> list[float]:
        """The actuator command ``(A,)`` for ``stamp_ns`` as Python floats: finite, within the
        limits (what a publisher writes into a message)."""
