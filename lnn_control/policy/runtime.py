"""The event-driven policy runtime: sensor events in, a safe actuator command out.

``on_event(stream, stamp_ns, value)`` takes each message with its sensor timestamp. The
:class:`~lnn_control.policy.aligner.EventAligner` validates it, applies the timing rules (late,
duplicate, long gaps, clock jumps: see its module) and says when the network steps and over what
time; the runtime encodes the held values (an image once, when it arrives) and runs each step on
a step engine. The ROS 2 node, the simulator, rosbag replay and evaluation all drive this same
object, and the same event sequence gives the same commands bit for bit, so replay equals live.

Until every stream has delivered a valid message since the last reset the command is the
configured safe command; a non-finite network output resets the state and sends it too. Every
command is finite and inside the limits. All public methods are thread-safe.
"""

from __future__ import annotations

import math
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from lnn_control.engines import ENGINES, EngineKind
from lnn_control.errors import ConfigError
from lnn_control.policy.aligner import EventAligner, EventOutcome, RuntimeStats, StepInput
from lnn_control.policy.model import LiquidPolicy, PolicyStep

__all__ = ["EventOutcome", "PolicyRuntime", "RuntimeStats", "make_engine"]

Engine = Callable[[np.ndarray, np.ndarray, float], tuple[np.ndarray, np.ndarray]]


class PolicyRuntime:
    """Drive a :class:`LiquidPolicy` from timestamped sensor events.

    :param policy: the policy (put in eval mode; its weights are read once).
    :param engine: how a step is computed: ``"torch"`` (eager PyTorch, the reference),
        ``"onnx"`` (onnxruntime), ``"compiled"`` (AOTInductor; needs a C++ compiler once),
        ``"native"`` (the exported step as generated C, compiled with ``cc`` when the runtime is
        built: the fastest, see :mod:`lnn_control.liquid.native`), or any callable with the
        signature of :func:`make_engine`'s result.
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
        self.stats = RuntimeStats()
        self.aligner = EventAligner(config, self.stats)
        step = policy.step_module()
        self.layout = step.layout
        self._ages = slice(step.ages_start, step.input_size)
        self._aged = step.input_size > step.ages_start
        self._engine = engine if callable(engine) else make_engine(step, engine, engine_file)
        self._safe = np.asarray(config.actions.safe_command, dtype=np.float32)
        # the limits as Python floats (float32 values): clipping a few values in Python costs a
        # fraction of two numpy calls on a core that has just woken up (see bench/ros.py)
        self._limits = list(zip(np.float32(config.actions.low).tolist(),
                                np.float32(config.actions.high).tolist()))
        self._input_size = step.input_size
        self._state_size = step.state_size
        self._lock = threading.Lock()
        self._clear()

    # -- public API ------------------------------------------------------------------------------
    def reset(self) -> None:
        """Start a new episode: zero state, forget held values and stamps, safe command."""
        with self._lock:
            self.aligner.reset()
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
            before = self.stats.clock_resets
            outcome, steps = self.aligner.on_event(stream, stamp_ns, value, encoding)
            if self.stats.clock_resets != before:
                self._clear()
            if outcome in (EventOutcome.STEPPED, EventOutcome.HELD, EventOutcome.WAITING):
                self._hold(stream)
            self._run(steps)
            return outcome

    def command(self, stamp_ns: int) -> np.ndarray:
        """The actuator command for ``stamp_ns`` (a copy; always finite and within limits).

        Mode ``stream``: the command of the last step. Mode ``timer``: first advances the
        network to ``stamp_ns`` (call it at the control rate with the current time).
        """
        with self._lock:
            if self.control.mode == "timer":
                before = self.stats.clock_resets
                steps = self.aligner.tick(stamp_ns)
                if self.stats.clock_resets != before:
                    self._clear()
                self._run(steps)
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
            return self.aligner.last_step

    # -- internals (called with the lock held) ---------------------------------------------------
    def _clear(self) -> None:
        self._h = np.zeros((1, self._state_size), dtype=np.float32)
        self._inputs = np.zeros((1, self._input_size), dtype=np.float32)
        self._command = self._safe.copy()

    def _hold(self, stream: str) -> None:
        """Put the stream's newly held value (an image as its embedding) into the inputs."""
        start, stop = self.layout[stream]
        value = self.aligner.held[stream]
        if self.specs[stream].kind == "image":
            with torch.inference_mode():
                feature = self.policy.encode(stream, torch.from_numpy(value)[None])
            self._inputs[0, start:stop] = feature[0].numpy()
        else:
            self._inputs[0, start:stop] = value

    def _run(self, steps: list[StepInput]) -> None:
        if not steps:
            return
        for step in steps:
            if step.reset:
                self._h[:] = 0.0
            if self._aged:
                self._inputs[0, self._ages] = step.ages
            action, h = self._engine(self._inputs, self._h, step.dt_s)
            values = action.tolist()
            # NaN or Inf anywhere; summed as Python floats (no overflow), since numpy's reductions
            # cost ~10x more on a core that has just woken up (see bench/ros.py)
            if not math.isfinite(sum(values) + sum(h[0].tolist())):
                self.stats.non_finite += 1
                self._h[:] = 0.0
                self._command = self._safe.copy()
                return
            self._h = h
        self._command = np.array([min(max(value, low), high) for value, (low, high) in zip(values, self._limits)],
                                 dtype=np.float32)


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
    from lnn_control.policy.export import check_policy_onnx, export_policy_onnx, open_policy_onnx

    if kind not in ENGINES:
        raise ConfigError(f"unknown engine {kind!r}; use one of {', '.join(ENGINES)}")
    # the exported file is only read while the engine is built: nothing is left in /tmp
    with tempfile.TemporaryDirectory(prefix="lnn_control_engine_") as scratch:
        folder = Path(scratch)
        if kind in ("onnx", "native"):
            path = engine_file or export_policy_onnx(step.policy, folder / "policy_step.onnx")
            if kind == "onnx":
                session = open_policy_onnx(path, step.policy)
            else:
                from lnn_control.liquid.native import NativeStep

                check_policy_onnx(path, step.policy)
                native = NativeStep(path, folder)
        else:
            from lnn_control.liquid.export import compile_step

            compiled = compile_step(step, folder / "policy_step.pt2")
    if kind == "native":

        def run_native(inputs: np.ndarray, h: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
            action, h_new = native(inputs, h, dt)
            return action[0], h_new

        return run_native
    if kind == "onnx":

        def run_onnx(inputs: np.ndarray, h: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
            action, h_new = session(inputs, h, np.full((1, 1), dt, dtype=np.float32))
            return action[0], h_new

        return run_onnx

    def run_compiled(inputs: np.ndarray, h: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
        action, h_new = compiled(torch.from_numpy(inputs), torch.from_numpy(h), torch.full((1, 1), dt))
        # copies: the compiled runner may reuse its output buffers on the next call
        return action[0].numpy().copy(), h_new.numpy().copy()

    return run_compiled
