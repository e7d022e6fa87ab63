"""The event-driven policy runtime: sensor events in, a safe actuator command out.

``on_event(stream, stamp_ns, value)`` takes each message with its sensor timestamp. Events of the
stepping stream (control mode ``stream``) or each ``command(stamp_ns)`` call (mode ``timer``)
advance the network by the real time elapsed since the previous step; other streams' latest
values are held in between (an image as its CNN embedding) and their ages are network inputs.
The ROS 2 node, the simulator, rosbag replay and evaluation all drive this same object, and the
same event sequence gives the same commands bit for bit, so replay equals live.

What real sensors do, and what the runtime does about it (each counted in :class:`RuntimeStats`):

=============================================  ==========================================
stamp equal to the stream's last one            dropped as a duplicate (``dt = 0``)
stamp older than the last applied, by less      dropped as late (out of order)
than ``control.max_backward_s``
stamp older by more (a clock jump backwards)    full reset, then applied as the first event
gap above ``control.max_step_s``                integrated in equal sub-steps no longer
                                                than it (``long_gaps``)
gap above ``control.reset_gap_s``               network state reset (``gap_resets``)
NaN / Inf, wrong shape or dtype, unknown        rejected with a reason, never propagated
stream, unsupported image encoding
network output not finite                       state reset, safe command (``non_finite``)
=============================================  ==========================================

Until every stream has delivered a valid message since the last reset the network does not step
and the command is the configured safe command. Every command is finite and inside the limits.
All public methods are thread-safe.
"""

from __future__ import annotations

import enum
import math
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional

import numpy as np
import torch

from lnn_control.errors import ConfigError
from lnn_control.policy.config import StreamSpec
from lnn_control.policy.model import LiquidPolicy, PolicyStep

__all__ = ["EventOutcome", "PolicyRuntime", "RuntimeStats", "make_engine"]

Engine = Callable[[np.ndarray, np.ndarray, float], tuple[np.ndarray, np.ndarray]]
EngineKind = Literal["torch", "onnx", "compiled"]
NS = 1e-9


class EventOutcome(str, enum.Enum):
    """What :meth:`PolicyRuntime.on_event` did with an event."""

    STEPPED = "stepped"  #: the network advanced to the event's stamp
    HELD = "held"  #: the value is stored for the next step
    WAITING = "waiting"  #: stored, but not every stream has reported yet: no step, safe command
    DUPLICATE = "duplicate"  #: same stamp as the stream's last event: dropped
    LATE = "late"  #: older than the last applied stamp: dropped
    REJECTED = "rejected"  #: invalid value or unknown stream: dropped (see stats.last_rejection)


@dataclass
class RuntimeStats:
    """Counters of everything the runtime did, cumulative over resets."""

    #: accepted events per stream
    events: dict[str, int] = field(default_factory=dict)
    #: network steps, and sub-steps taken inside long gaps
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

    def reject(self, kind: str, message: str) -> None:
        self.rejected[kind] = self.rejected.get(kind, 0) + 1
        self.last_rejection_kind = kind
        self.last_rejection = message


class _Rejected(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class PolicyRuntime:
    """Drive a :class:`LiquidPolicy` from timestamped sensor events.

    :param policy: the policy (put in eval mode; its weights are read once).
    :param engine: how a step is computed: ``"torch"`` (eager PyTorch, the reference),
        ``"onnx"`` (onnxruntime), ``"compiled"`` (AOTInductor; needs a C++ compiler once), or
        any callable with the signature of :func:`make_engine`'s result.
    :param engine_file: ``onnx``: a step exported with ``lnn-control export`` (checked to come
        from this policy's weights); without it the step is exported to a temporary folder.
    """

    def __init__(
        self,
        policy: LiquidPolicy,
        engine: EngineKind | Engine = "torch",
        engine_file: Optional[str | os.PathLike[str]] = None,
    ) -> None:
        self.policy = policy.eval()
        config = policy.config
        self.control = config.control
        self.specs = {spec.name: spec for spec in config.streams}
        self._stepping = self.control.stream if self.control.mode == "stream" else None
        step = policy.step_module()
        self.layout = step.layout
        self._ages_start = step.ages_start
        self._aged = list(policy.aged_streams)
        self._engine = engine if callable(engine) else make_engine(step, engine, engine_file)
        self._safe = np.asarray(config.actions.safe_command, dtype=np.float32)
        self._low = np.asarray(config.actions.low, dtype=np.float32)
        self._high = np.asarray(config.actions.high, dtype=np.float32)
        self._input_size = step.input_size
        self._state_size = step.state_size
        self._lock = threading.Lock()
        self.stats = RuntimeStats(events={name: 0 for name in self.specs})
        self._clear()

    # -- public API ------------------------------------------------------------------------------
    def reset(self) -> None:
        """Start a new episode: zero state, forget held values and stamps, safe command."""
        with self._lock:
            self._clear()

    def on_event(
        self, stream: str, stamp_ns: int, value: np.ndarray, encoding: Optional[str] = None
    ) -> EventOutcome:
        """Take one sensor message.

        :param stream: the stream's name in the policy config.
        :param stamp_ns: the sensor timestamp (``header.stamp``), nanoseconds.
        :param value: the measurement (see :mod:`lnn_control.policy.events`).
        :param encoding: image streams: the message's pixel encoding (rgb8 and bgr8 are
            converted into each other; anything else must match the stream's).
        """
        with self._lock:
            try:
                spec = self.specs.get(stream)
                if spec is None:
                    raise _Rejected("unknown_stream", f"unknown stream {stream!r}; this policy "
                                    f"reads {sorted(self.specs)}")
                checked = self._check(spec, value, encoding)
            except _Rejected as rejection:
                self.stats.reject(rejection.kind, str(rejection))
                return EventOutcome.REJECTED
            stamp = int(stamp_ns)
            outcome = self._order(stream, stamp)
            if outcome is not None:
                return outcome
            self._hold(stream, stamp, checked)
            if not self._ready():
                return EventOutcome.WAITING
            if stream != self._stepping:
                return EventOutcome.HELD
            self._advance(stamp)
            return EventOutcome.STEPPED

    def command(self, stamp_ns: int) -> np.ndarray:
        """The actuator command for ``stamp_ns`` (a copy; always finite and within limits).

        Mode ``stream``: the command of the last step. Mode ``timer``: first advances the
        network to ``stamp_ns`` (call it at the control rate with the current time).
        """
        with self._lock:
            if self.control.mode == "timer" and self._ready():
                stamp = int(stamp_ns)
                last = self._last_step
                if last is not None and stamp < last - self.control.max_backward_s / NS:
                    self.stats.clock_resets += 1
                    self._clear()
                elif last is None or stamp > last:
                    self._advance(stamp)
            return self._command.copy()

    @property
    def state(self) -> np.ndarray:
        """The network state ``(state_size,)`` (a copy)."""
        with self._lock:
            return self._h[0].copy()

    @property
    def last_step_ns(self) -> Optional[int]:
        """Stamp of the last step: the stamp the current command was computed for."""
        with self._lock:
            return self._last_step

    # -- internals (called with the lock held) ---------------------------------------------------
    def _clear(self) -> None:
        self._h = np.zeros((1, self._state_size), dtype=np.float32)
        self._inputs = np.zeros((1, self._input_size), dtype=np.float32)
        self._last_stamp: dict[str, int] = {}
        self._last_step: Optional[int] = None
        self._latest = -(2**63)  # latest stamp applied on any stream
        self._command = self._safe.copy()

    def _ready(self) -> bool:
        return len(self._last_stamp) == len(self.specs)

    def _check(self, spec: StreamSpec, value: np.ndarray, encoding: Optional[str]) -> np.ndarray:
        if spec.kind == "image":
            return self._check_image(spec, value, encoding)
        try:
            array = np.asarray(value, dtype=np.float32)
        except (TypeError, ValueError):
            raise _Rejected("dtype", f"stream {spec.name!r}: value is not numeric") from None
        if array.shape != spec.value_shape:
            raise _Rejected("shape", f"stream {spec.name!r}: shape {array.shape} does not match "
                            f"the expected {spec.value_shape}")
        if not math.isfinite(float(array.sum(dtype=np.float64))):  # float64: no overflow
            raise _Rejected("non_finite", f"stream {spec.name!r}: value holds NaN or Inf")
        return array

    def _check_image(
        self, spec: StreamSpec, value: np.ndarray, encoding: Optional[str]
    ) -> np.ndarray:
        image = np.asarray(value)
        if image.dtype != np.uint8:
            raise _Rejected("dtype", f"image stream {spec.name!r}: dtype {image.dtype}, "
                            "expected uint8")
        if image.ndim == 2:
            image = image[:, :, None]
        if image.shape != spec.value_shape:
            raise _Rejected("shape", f"image stream {spec.name!r}: size {image.shape} does not "
                            f"match the expected {spec.value_shape} (H, W, C); resize upstream")
        if encoding is not None and encoding != spec.encoding:
            if {encoding, spec.encoding} == {"rgb8", "bgr8"}:
                image = image[:, :, ::-1]
            else:
                raise _Rejected("encoding", f"image stream {spec.name!r}: encoding {encoding!r} "
                                f"cannot be used for a {spec.encoding} stream")
        return image

    def _order(self, stream: str, stamp: int) -> Optional[EventOutcome]:
        """Apply the ordering rules; ``None`` if the event goes ahead (possibly after a reset)."""
        last = self._last_stamp.get(stream)
        if last is not None and stamp == last:
            self.stats.duplicates += 1
            return EventOutcome.DUPLICATE
        if stamp < self._latest - self.control.max_backward_s / NS:
            self.stats.clock_resets += 1
            self._clear()
            return None
        step = self._last_step if stream == self._stepping else None
        if (last is not None and stamp < last) or (step is not None and stamp <= step):
            self.stats.late += 1
            return EventOutcome.LATE
        return None

    def _hold(self, stream: str, stamp: int, value: np.ndarray) -> None:
        start, stop = self.layout[stream]
        if self.specs[stream].kind == "image":
            with torch.inference_mode():
                feature = self.policy.encode(stream, torch.from_numpy(np.ascontiguousarray(value))[None])
            self._inputs[0, start:stop] = feature[0].numpy()
        else:
            self._inputs[0, start:stop] = value
        self._last_stamp[stream] = stamp
        self._latest = max(self._latest, stamp)
        self.stats.events[stream] += 1

    def _advance(self, stamp: int) -> None:
        control = self.control
        if self._last_step is None:
            steps, dt = 1, control.nominal_dt_s
        else:
            elapsed = (stamp - self._last_step) * NS
            if elapsed > control.reset_gap_s:
                self.stats.gap_resets += 1
                self._h[:] = 0.0
                steps, dt = 1, control.nominal_dt_s
            else:
                steps = max(1, math.ceil(elapsed / control.max_step_s - 1e-9))
                dt = elapsed / steps
                if steps > 1:
                    self.stats.long_gaps += 1
                    self.stats.sub_steps += steps
        action = self._command
        for k in range(steps, 0, -1):
            if self._aged:
                self._set_ages(stamp - round((k - 1) * dt / NS))
            action, h = self._engine(self._inputs, self._h, dt)
            # NaN or Inf anywhere makes the float64 sums non-finite
            total = float(action.sum(dtype=np.float64)) + float(h.sum(dtype=np.float64))
            if not math.isfinite(total):
                self.stats.non_finite += 1
                self._h[:] = 0.0
                action = self._safe
                break
            self._h = h
        self.stats.steps += 1
        self._last_step = stamp
        command = np.asarray(action, dtype=np.float32)
        self._command = np.minimum(np.maximum(command, self._low), self._high)

    def _set_ages(self, now: int) -> None:
        start, scale = self._ages_start, 1.0 / self.control.max_age_s
        for i, stream in enumerate(self._aged):
            age = (now - self._last_stamp[stream]) * NS
            self._inputs[0, start + i] = min(max(age, 0.0) * scale, 1.0)


def make_engine(
    step: PolicyStep, kind: EngineKind, engine_file: Optional[str | os.PathLike[str]] = None
) -> Engine:
    """A function ``(inputs (1, D), h (1, S), dt s) -> (action (A,), h_new (1, S))`` on float32
    numpy arrays computing ``step`` with the named engine (see :class:`PolicyRuntime`)."""
    if kind == "torch":
        with torch.inference_mode():
            prep = step.policy.core.prepare()

        def run_torch(inputs: np.ndarray, h: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
            with torch.inference_mode():
                action, h_new = step.run(torch.from_numpy(inputs), torch.from_numpy(h),
                                         torch.full((1, 1), dt), prep)
            return action[0].numpy(), h_new.numpy()

        return run_torch
    from lnn_control.policy.export import export_policy_onnx, open_policy_onnx

    folder = Path(tempfile.mkdtemp(prefix="lnn_control_engine_"))
    if kind == "onnx":
        path = engine_file or export_policy_onnx(step.policy, folder / "policy_step.onnx")
        session = open_policy_onnx(path, step.policy)

        def run_onnx(inputs: np.ndarray, h: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
            action, h_new = session(inputs, h, np.full((1, 1), dt, dtype=np.float32))
            return action[0], h_new

        return run_onnx
    if kind == "compiled":
        from lnn_control.liquid.export import compile_step

        compiled = compile_step(step, folder / "policy_step.pt2")

        def run_compiled(inputs: np.ndarray, h: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
            action, h_new = compiled(torch.from_numpy(inputs), torch.from_numpy(h),
                                     torch.full((1, 1), dt))
            # copies: the compiled runner may reuse its output buffers on the next call
            return action[0].numpy().copy(), h_new.numpy().copy()

        return run_compiled
    raise ConfigError(f"unknown engine {kind!r}; use 'torch', 'onnx' or 'compiled'")
