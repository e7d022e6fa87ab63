"""The event-driven policy runtime: sensor events in, a safe actuator command out.

``on_event(stream, stamp_ns, value)`` takes each message with its sensor timestamp. The
:class:`~lnn_control.policy.aligner.EventAligner` validates it, applies the timing rules (late,
duplicate, long gaps, clock jumps: see its module) and says when the network steps and over what
time; the runtime encodes the held values (an image once, when it arrives) and runs each step on
a step engine. The ROS 2 node, the simulator, rosbag replay and evaluation all drive this same
object, and the same event sequence gives the same commands bit for bit, so replay equals live.

Until every stream has delivered a valid message since the last reset the command is the
configured safe command; a non-finite network output resets the state and sends it too. Every
command is finite and inside the limits. Each event (and, in timer mode, each tick) returns what
became of it (:class:`~lnn_control.policy.events.EventResult`). All public methods are
thread-safe; the runtime is a :class:`~lnn_control.policy.events.Runtime`.
"""

from __future__ import annotations

import os
import threading
from typing import Optional

import numpy as np
import torch

from lnn_control.policy.aligner import EventAligner, StepInput
from lnn_control.policy.engines import ArrayEngine, EngineKind, StepFunction, make_engine
from lnn_control.policy.events import EventResult, RuntimeStats
from lnn_control.policy.model import LiquidPolicy

__all__ = ["PolicyRuntime"]


class PolicyRuntime:
    """Drive a :class:`LiquidPolicy` from timestamped sensor events.

    :param policy: the policy (put in eval mode; its weights are read once).
    :param engine: how a step is computed: ``"torch"`` (eager PyTorch, the reference),
        ``"onnx"`` (onnxruntime), ``"compiled"`` (AOTInductor; needs a C++ compiler once),
        ``"native"`` (the exported step as generated C, compiled with ``cc`` when the runtime is
        built: the fastest, see :mod:`lnn_control.policy.engines.native_step`), or a step
        function (:data:`~lnn_control.policy.engines.StepFunction`).
    :param engine_file: ``onnx``: a step exported with ``lnn-control export`` (checked to come
        from this policy's weights); without it the step is exported to a temporary folder.
    """

    def __init__(
        self,
        policy: LiquidPolicy,
        engine: EngineKind | StepFunction = "torch",
        engine_file: Optional[str | os.PathLike[str]] = None,
    ) -> None:
        self.policy = policy.eval()
        config = policy.config
        self.control = config.control
        self.specs = {spec.name: spec for spec in config.streams}
        self.stats = RuntimeStats()
        self.aligner = EventAligner(config, self.stats)
        step = policy.step_module()
        self.layout = step.layout
        self._ages_start = step.ages_start
        self._aged = step.input_size > step.ages_start
        self._engine = (ArrayEngine(engine, step.input_size, step.state_size) if callable(engine)
                        else make_engine(step, engine, engine_file))
        self._safe = np.float32(config.actions.safe_command).tolist()
        # the command is computed as Python floats (float32 values), without numpy: on a core
        # that has just woken up each numpy call costs ~10 us (see bench/ros.py)
        self._limits = list(zip(np.float32(config.actions.low).tolist(),
                                np.float32(config.actions.high).tolist()))
        self._lock = threading.Lock()
        self._clear()

    # -- public API ------------------------------------------------------------------------------
    def reset(self) -> None:
        """Start a new episode: zero state, forget held values and stamps, safe command."""
        with self._lock:
            self.aligner.reset()
            self._clear()

    def restart(self) -> None:
        """Start the network afresh after a sensor fault: zero state, the next step taken as the
        first (over ``nominal_dt_s``), the safe command until then. Unlike :meth:`reset`, each
        stream's latest valid value and stamp are kept (a goal sent once stays), so the next
        event of the stepping stream steps at once."""
        with self._lock:
            self.aligner.restart()
            self._engine.zero_state()
            self._command = self._safe

    def on_event(
        self, stream: str, stamp_ns: int, value: np.ndarray, encoding: Optional[str] = None
    ) -> EventResult:
        """Take one sensor message: what became of it (stepped, held, or dropped and why; whether
        the network state was cleared).

        :param stream: the stream's name in the policy config.
        :param stamp_ns: the sensor timestamp (``header.stamp``), nanoseconds.
        :param value: the measurement (see :mod:`lnn_control.policy.events`).
        :param encoding: image streams: the message's pixel encoding (rgb8 and bgr8 are
            converted into each other; anything else must match the stream's).
        """
        with self._lock:
            result, steps = self.aligner.on_event(stream, stamp_ns, value, encoding)
            if result.cleared:
                self._clear()
            if result.accepted:
                self._hold(stream)
            return self._run(result, steps)

    def tick(self, stamp_ns: int) -> EventResult:
        """Mode ``timer``: advance the network to ``stamp_ns`` (what :meth:`command` does first);
        ``STEPPED`` if it advanced. Mode ``stream``: nothing (``WAITING``)."""
        with self._lock:
            return self._tick(stamp_ns)

    def command(self, stamp_ns: int) -> np.ndarray:
        """The actuator command ``(A,)`` float32 for ``stamp_ns`` (always finite and within limits).

        Mode ``stream``: the command of the last step. Mode ``timer``: first advances the
        network to ``stamp_ns`` (call it at the control rate with the current time).
        """
        return np.array(self.command_values(stamp_ns), dtype=np.float32)

    def command_values(self, stamp_ns: int) -> list[float]:
        """:meth:`command` as Python floats (float32 values; a new list): what a publisher
        writes into a message, without a numpy call."""
        with self._lock:
            if self.control.mode == "timer":
                self._tick(stamp_ns)
            return list(self._command)

    @property
    def state(self) -> np.ndarray:
        """The network state ``(state_size,)`` (a copy)."""
        with self._lock:
            return self._engine.state

    @property
    def waiting_for(self) -> tuple[str, ...]:
        """The streams the network waits for (mode ``stream``: it steps only once every stream has
        reported since the last reset or clock jump), in the config's order."""
        with self._lock:
            return tuple(name for name in self.specs if name not in self.aligner.stamps)

    @property
    def last_step_ns(self) -> Optional[int]:
        """Stamp of the last step: the stamp the current command was computed for."""
        with self._lock:
            return self.aligner.last_step

    # -- internals (called with the lock held) ---------------------------------------------------
    def _clear(self) -> None:
        self._engine.clear()
        self._command = self._safe

    def _hold(self, stream: str) -> None:
        """Put the stream's newly held value (an image as its embedding) into the inputs."""
        start = self.layout[stream][0]
        value = self.aligner.held[stream]
        if self.specs[stream].kind == "image":
            with torch.inference_mode():
                value = self.policy.encode(stream, torch.from_numpy(value)[None])[0].tolist()
        self._engine.write(start, value)

    def _tick(self, stamp_ns: int) -> EventResult:
        result, steps = self.aligner.tick(stamp_ns)
        if result.cleared:
            self._clear()
        return self._run(result, steps)

    def _run(self, result: EventResult, steps: list[StepInput]) -> EventResult:
        """Take the aligner's steps; the event's result, ``cleared`` if a step zeroed the state
        (a gap beyond ``reset_gap_s``, a non-finite output)."""
        if not steps:
            return result
        engine = self._engine
        cleared = False
        for step in steps:
            if step.reset:
                engine.zero_state()
                cleared = True
            if self._aged:
                engine.write(self._ages_start, step.ages)
            action = engine.advance(step.dt_s)
            if action is None:
                self.stats.non_finite += 1
                engine.zero_state()
                self._command = self._safe
                return EventResult(result.outcome, cleared=True)
        self._command = [min(max(value, low), high) for value, (low, high) in zip(action, self._limits)]
        return EventResult(result.outcome, cleared=True) if cleared and not result.cleared else result
