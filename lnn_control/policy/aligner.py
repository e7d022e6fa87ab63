"""Asynchronous sensor events -> the network's steps: when it steps, over what time, seeing what.

The :class:`EventAligner` holds every stream's latest valid value and decides, for each event,
whether and how the network advances: one step per event of the stepping stream (control mode
``stream``) or per ``tick`` (mode ``timer``), over the real time since the previous step, with
the age of every other stream as an input. The runtime runs these steps on the network; training
replays recorded events through the same aligner, so a policy is trained on exactly what it will
see on the robot.

What real sensors do, and what the aligner does about it (each counted in
:class:`~lnn_control.policy.events.RuntimeStats`, and said by the
:class:`~lnn_control.policy.events.EventResult` it returns):

=============================================  ==========================================
stamp equal to the stream's last one            dropped as a duplicate (``dt = 0``)
stamp older than the stream's last one (the     dropped as late (out of order)
stepping stream: than the last step), by less
than ``control.max_backward_s``
stamp older than the stream's last one by more  full reset, then applied as the first event
(its clock jumped backwards)
gap above ``control.max_step_s``                integrated in equal sub-steps no longer
                                                than it (``long_gaps``)
gap above ``control.reset_gap_s``               network state reset (``gap_resets``)
NaN / Inf, wrong shape or dtype, unknown        rejected with a reason, never propagated
stream, unsupported image encoding
=============================================  ==========================================

Each stream is ordered against its own stamps: a message of one stream stamped before another
stream's latest (a camera frame that took longer to arrive than the IMU messages after it) is
the sensors' latency, not a clock jump; its age says how old it is.

Until every stream has delivered a valid message since the last reset nothing steps.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence
from typing import Any, NamedTuple, Optional, Union

import numpy as np

from lnn_control.policy.config import PolicyConfig, StreamSpec
from lnn_control.policy.events import PLAIN_RESULTS, EventOutcome, EventResult, Rejection, RuntimeStats
from lnn_control.units import NS

__all__ = ["EventAligner", "Held", "StepInput"]

#: a held value: a vector stream's values as float32 (``array("f")``, ``(n,)``) or an image
#: ``(H, W, C)`` uint8
Held = Union["array[float]", np.ndarray]
#: the ages of a policy without aged streams
NO_AGES: tuple[float, ...] = ()


class StepInput(NamedTuple):
    """One network (sub-)step (a named tuple: one is made per sensor event).

    :param stamp_ns: the instant the step ends at, nanoseconds.
    :param dt_s: the time it integrates over, seconds.
    :param ages: ``(len(aged_streams),)``: each aged stream's age scaled to [0, 1].
    :param reset: zero the network state before this step (first step after a long gap).
    """

    stamp_ns: int
    dt_s: float
    ages: Sequence[float]
    reset: bool = False


class _Rejected(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.rejection = Rejection(kind, message)


def _result(outcome: EventOutcome, cleared: bool) -> EventResult:
    return EventResult(outcome, cleared=True) if cleared else PLAIN_RESULTS[outcome]


class EventAligner:
    """Turn timestamped events into network steps; see the module docstring. Not thread-safe
    (the runtime serialises calls).

    :param config: the policy's config (streams, control timing).
    :param stats: counters to update (a new one by default).
    """

    def __init__(self, config: PolicyConfig, stats: Optional[RuntimeStats] = None) -> None:
        self.control = config.control
        self.specs = {spec.name: spec for spec in config.streams}
        self.stepping = self.control.stream if self.control.mode == "stream" else None
        self.aged = list(config.aged_streams)
        self.stats = stats or RuntimeStats()
        self._sizes = {spec.name: math.prod(spec.value_shape) for spec in config.streams}
        self._max_backward_ns = self.control.max_backward_s / NS
        for name in self.specs:
            self.stats.events.setdefault(name, 0)
        self.reset()

    def reset(self) -> None:
        """Forget held values and stamps (a new episode)."""
        #: each stream's latest valid value and its stamp
        self.held: dict[str, Held] = {}
        self.stamps: dict[str, int] = {}
        self.last_step: Optional[int] = None

    def restart(self) -> None:
        """Take the next step as the first after a reset (over ``nominal_dt_s``), keeping every
        stream's held value and stamp (see :meth:`PolicyRuntime.restart`)."""
        self.last_step = None

    @property
    def ready(self) -> bool:
        """Whether every stream has reported since the last reset."""
        return len(self.stamps) == len(self.specs)

    def on_event(
        self, stream: str, stamp_ns: int, value: np.ndarray, encoding: Optional[str] = None
    ) -> tuple[EventResult, list[StepInput]]:
        """Take one message: what became of it, and the steps it causes (empty unless
        ``STEPPED``). The result's ``cleared`` says a clock jump made the aligner forget every
        held value and stamp (the network must start from zero state); a gap beyond
        ``reset_gap_s`` is said by the step's ``reset``.

        :param encoding: image streams: the message's pixel encoding (rgb8 and bgr8 are
            converted into each other; anything else must match the stream's).
        """
        try:
            spec = self.specs.get(stream)
            if spec is None:
                raise _Rejected("unknown_stream", f"unknown stream {stream!r}; this policy "
                                f"reads {sorted(self.specs)}")
            checked = self._check(spec, value, encoding)
        except _Rejected as rejected:
            self.stats.reject(rejected.rejection)
            return EventResult(EventOutcome.REJECTED, rejection=rejected.rejection), []
        stamp = int(stamp_ns)
        dropped, cleared = self._order(stream, stamp)
        if dropped is not None:
            return PLAIN_RESULTS[dropped], []
        self.held[stream] = checked
        self.stamps[stream] = stamp
        self.stats.events[stream] += 1
        if not self.ready:
            return _result(EventOutcome.WAITING, cleared), []
        if stream != self.stepping:
            return _result(EventOutcome.HELD, cleared), []
        return _result(EventOutcome.STEPPED, cleared), self._advance(stamp)

    def tick(self, stamp_ns: int) -> tuple[EventResult, list[StepInput]]:
        """Timer mode: the steps that bring the network to ``stamp_ns``. ``STEPPED`` with them,
        else ``WAITING`` with none: not every stream has reported, the stamp is not later than
        the last step, or (``cleared``) it is earlier by more than ``max_backward_s``, a clock
        jump that resets."""
        waiting = PLAIN_RESULTS[EventOutcome.WAITING]
        if self.control.mode != "timer" or not self.ready:
            return waiting, []
        stamp = int(stamp_ns)
        last = self.last_step
        if last is not None and stamp < last - self._max_backward_ns:
            self.stats.clock_resets += 1
            self.reset()
            return _result(EventOutcome.WAITING, cleared=True), []
        if last is not None and stamp <= last:
            return waiting, []
        return PLAIN_RESULTS[EventOutcome.STEPPED], self._advance(stamp)

    # -- rules -----------------------------------------------------------------------------------
    def _check(self, spec: StreamSpec, value: Any, encoding: Optional[str]) -> Held:
        if spec.kind == "image":
            return self._check_image(spec, value, encoding)
        # to float32 with the array module: beyond float32's range becomes inf, as in numpy, at
        # a fraction of numpy's cost on a core that has just woken up (see bench/ros.py)
        try:
            values = array("f", value.tolist() if isinstance(value, np.ndarray) else value)
        except (TypeError, ValueError):
            values = None
        if values is None or len(values) != self._sizes[spec.name]:
            raise self._malformed(spec, value)
        if not math.isfinite(sum(values)):  # Python floats: no overflow
            raise _Rejected("non_finite", f"stream {spec.name!r}: value holds NaN or Inf")
        return values

    @staticmethod
    def _malformed(spec: StreamSpec, value: Any) -> _Rejected:
        """Why a vector value could not be read: not numbers, or the wrong shape."""
        try:
            shape = np.asarray(value, dtype=np.float32).shape
        except (TypeError, ValueError):
            return _Rejected("dtype", f"stream {spec.name!r}: value is not numeric")
        if shape == spec.value_shape:  # numbers numpy reads but Python does not (strings)
            return _Rejected("dtype", f"stream {spec.name!r}: value is not numeric")
        return _Rejected("shape", f"stream {spec.name!r}: shape {shape} does not match "
                         f"the expected {spec.value_shape}")

    @staticmethod
    def _check_image(spec: StreamSpec, value: np.ndarray, encoding: Optional[str]) -> np.ndarray:
        swap = encoding is not None and encoding != spec.encoding
        if swap and {encoding, spec.encoding} != {"rgb8", "bgr8"}:  # before the size: it reads the bytes
            raise _Rejected("encoding", f"image stream {spec.name!r}: encoding {encoding!r} "
                            f"cannot be used for a {spec.encoding} stream")
        image = np.asarray(value)
        if image.dtype != np.uint8:
            raise _Rejected("dtype", f"image stream {spec.name!r}: dtype {image.dtype}, "
                            "expected uint8")
        if image.ndim == 2:
            image = image[:, :, None]
        if image.shape != spec.value_shape:
            raise _Rejected("shape", f"image stream {spec.name!r}: size {image.shape} does not "
                            f"match the expected {spec.value_shape} (H, W, C); resize upstream")
        if swap:  # rgb8 <-> bgr8
            image = np.ascontiguousarray(image[:, :, ::-1])
        return image

    def _order(self, stream: str, stamp: int) -> tuple[Optional[EventOutcome], bool]:
        """Apply the ordering rules: why the event is dropped (``None``: it goes ahead), and
        whether a clock jump reset everything first."""
        last = self.stamps.get(stream)
        if last is not None and stamp == last:
            self.stats.duplicates += 1
            return EventOutcome.DUPLICATE, False
        if last is not None and stamp < last - self._max_backward_ns:
            self.stats.clock_resets += 1
            self.reset()
            return None, True
        step = self.last_step if stream == self.stepping else None
        if (last is not None and stamp < last) or (step is not None and stamp <= step):
            self.stats.late += 1
            return EventOutcome.LATE, False
        return None, False

    def _advance(self, stamp: int) -> list[StepInput]:
        control = self.control
        reset = False
        if self.last_step is None:
            steps, dt = 1, control.nominal_dt_s
        else:
            elapsed = (stamp - self.last_step) * NS
            if elapsed > control.reset_gap_s:
                self.stats.gap_resets += 1
                reset, steps, dt = True, 1, control.nominal_dt_s
            else:
                steps = max(1, math.ceil(elapsed / control.max_step_s - 1e-9))
                dt = elapsed / steps
                if steps > 1:
                    self.stats.long_gaps += 1
                    self.stats.sub_steps += steps
        self.stats.steps += 1
        self.last_step = stamp
        return [
            StepInput(at, dt, self._ages(at), reset and k == steps)
            for k in range(steps, 0, -1)
            for at in (stamp - round((k - 1) * dt / NS),)
        ]

    def _ages(self, now: int) -> Sequence[float]:
        if not self.aged:
            return NO_AGES
        scale = 1.0 / self.control.max_age_s
        return [min(max((now - self.stamps[s]) * NS, 0.0) * scale, 1.0) for s in self.aged]
