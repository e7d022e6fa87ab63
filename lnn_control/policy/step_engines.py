"""Step engines: the network's input vector and state, and the step that advances them.

The runtime writes each held value into an engine's inputs (batch size 1, float32) and advances
it one step at a time; the engine keeps the state between steps. ``native`` keeps inputs and
state in its compiled library and checks the step's outputs there, so an IMU event's values
pass from the message to the command as Python floats without one numpy call: on a core that
has just woken from a sleep each numpy call costs ~10 us (see ``bench/ros.py``). The other
engines, and a custom step function, keep them in numpy arrays (:class:`ArrayEngine`).
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Optional, Protocol

import numpy as np
import torch

from lnn_control.engines import ENGINES, EngineKind
from lnn_control.errors import ConfigError
from lnn_control.policy.model import PolicyStep

__all__ = ["ArrayEngine", "StepEngine", "StepFunction", "make_engine", "step_function"]

#: ``(inputs (1, D), h (1, S), dt s) -> (action (A,), h_new (1, S))`` on float32 numpy arrays
StepFunction = Callable[[np.ndarray, np.ndarray, float], tuple[np.ndarray, np.ndarray]]


class StepEngine(Protocol):
    """The network's inputs ``(D,)`` and state ``(S,)`` (float32), and its step."""

    def clear(self) -> None:
        """Zero the inputs and the state."""

    def zero_state(self) -> None:
        """Zero the state."""

    def write(self, start: int, values: Sequence[float]) -> None:
        """``inputs[start:start + len(values)] = values`` (rounded to float32)."""

    def advance(self, dt: float) -> Optional[list[float]]:
        """One step over ``dt`` seconds: the action ``(A,)`` as Python floats, and the state
        advanced; ``None``, the state left as it was, if the action or the new state holds NaN
        or Inf."""

    @property
    def state(self) -> np.ndarray:
        """The state ``(S,)`` float32 (a copy)."""


class ArrayEngine:
    """A :class:`StepEngine` over a :data:`StepFunction`, inputs and state in numpy arrays.

    :param function: the step.
    :param input_size: ``D``; :param state_size: ``S``.
    """

    def __init__(self, function: StepFunction, input_size: int, state_size: int) -> None:
        self._function = function
        self._inputs = np.zeros((1, input_size), dtype=np.float32)
        self._h = np.zeros((1, state_size), dtype=np.float32)

    def clear(self) -> None:
        self._inputs[:] = 0.0
        self.zero_state()

    def zero_state(self) -> None:
        # a new array: the function's result may be a buffer it reuses
        self._h = np.zeros_like(self._h)

    def write(self, start: int, values: Sequence[float]) -> None:
        self._inputs[0, start:start + len(values)] = values

    def advance(self, dt: float) -> Optional[list[float]]:
        action, h = self._function(self._inputs, self._h, dt)
        values = action.tolist()
        # NaN or Inf anywhere; summed as Python floats (no overflow)
        if not math.isfinite(sum(values) + sum(h[0].tolist())):
            return None
        self._h = h
        return values

    @property
    def state(self) -> np.ndarray:
        return self._h[0].copy()


def make_engine(
    step: PolicyStep, kind: EngineKind, engine_file: Optional[str | os.PathLike[str]] = None
) -> StepEngine:
    """The :class:`StepEngine` computing ``step`` with the named engine (see
    :class:`~lnn_control.policy.runtime.PolicyRuntime`)."""
    if kind not in ENGINES:
        raise ConfigError(f"unknown engine {kind!r}; use one of {', '.join(ENGINES)}")
    if kind != "native":
        return ArrayEngine(step_function(step, kind, engine_file), step.input_size, step.state_size)
    from lnn_control.liquid.native import NativeStep
    from lnn_control.policy.export import check_policy_onnx, export_policy_onnx

    # the exported file is only read while the engine is built: nothing is left in /tmp
    with tempfile.TemporaryDirectory(prefix="lnn_control_engine_") as scratch:
        path = engine_file or export_policy_onnx(step.policy, Path(scratch) / "policy_step.onnx")
        check_policy_onnx(path, step.policy)
        return NativeStep(path, scratch)


def step_function(
    step: PolicyStep, kind: EngineKind, engine_file: Optional[str | os.PathLike[str]] = None
) -> StepFunction:
    """``step`` as a :data:`StepFunction` computed by the named engine (``torch``, ``onnx`` or
    ``compiled``); ``engine_file``: ``onnx``, the step exported with ``lnn-control export``."""
    if kind == "torch":
        with torch.inference_mode():
            prep = step.policy.core.prepare()

        def run_torch(inputs: np.ndarray, h: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
            with torch.inference_mode():
                action, h_new = step.run(torch.from_numpy(inputs), torch.from_numpy(h),
                                         torch.full((1, 1), dt), prep)
            return action[0].numpy(), h_new.numpy()

        return run_torch
    if kind not in ("onnx", "compiled"):
        raise ConfigError(f"engine {kind!r} has no step function; use torch, onnx or compiled")
    with tempfile.TemporaryDirectory(prefix="lnn_control_engine_") as scratch:
        folder = Path(scratch)
        if kind == "onnx":
            from lnn_control.policy.export import export_policy_onnx, open_policy_onnx

            session = open_policy_onnx(engine_file or export_policy_onnx(step.policy, folder / "policy_step.onnx"),
                                       step.policy)

            def run_onnx(inputs: np.ndarray, h: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
                action, h_new = session(inputs, h, np.full((1, 1), dt, dtype=np.float32))
                return action[0], h_new

            return run_onnx
        from lnn_control.liquid.export import compile_step

        compiled = compile_step(step, folder / "policy_step.pt2")

    def run_compiled(inputs: np.ndarray, h: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
        action, h_new = compiled(torch.from_numpy(inputs), torch.from_numpy(h), torch.full((1, 1), dt))
        # copies: the compiled runner may reuse its output buffers on the next call
        return action[0].numpy().copy(), h_new.numpy().copy()

    return run_compiled
