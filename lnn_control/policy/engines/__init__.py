"""Step engines: every way to run a policy's step, and the network's input vector and state.

An engine holds the network's inputs ``(D,)`` and state ``(S,)`` (float32, batch size 1) and
advances them one step at a time (:class:`StepEngine`). The runtime writes each held value into
the inputs and calls :meth:`StepEngine.advance`. The engines, by name (:data:`EngineKind`):

- ``torch``: eager PyTorch, the reference (:mod:`.torch_step`);
- ``onnx``: the step exported as ONNX, run in onnxruntime (:mod:`.onnx_step`);
- ``compiled``: the step compiled with AOTInductor; needs a C++ compiler once (:mod:`.compiled_step`);
- ``native``: the exported step as generated C; needs ``cc`` (:mod:`.native_step`).

``native`` keeps inputs and state in its compiled library and checks the step's outputs there,
so an IMU event's values pass from the message to the command as Python floats without one
numpy call: on a core that has just woken from a sleep each numpy call costs ~10 us (see
``bench/ros.py``). The other engines, and a custom step function, keep them in numpy arrays
(:class:`ArrayEngine`). :mod:`.export` writes the step to a file (``lnn-control export``,
:mod:`.export_cli`). The engine modules import onnx, onnxruntime and the compilers only when
an engine that needs them is made.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal, Protocol, get_args

import numpy as np

from lnn_control.errors import ConfigError

if TYPE_CHECKING:
    from lnn_control.policy.model import PolicyStep

__all__ = ["ENGINES", "ArrayEngine", "EngineKind", "StepEngine", "StepFunction", "make_engine",
           "step_function"]

EngineKind = Literal["torch", "onnx", "compiled", "native"]
ENGINES: tuple[str, ...] = get_args(EngineKind)

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

    def advance(self, dt: float) -> list[float] | None:
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

    def advance(self, dt: float) -> list[float] | None:
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
    step: PolicyStep, kind: EngineKind, engine_file: str | os.PathLike[str] | None = None
) -> StepEngine:
    """The :class:`StepEngine` computing ``step`` with the named engine (see
    :class:`~lnn_control.policy.runtime.PolicyRuntime`)."""
    if kind not in ENGINES:
        raise ConfigError(f"unknown engine {kind!r}; use one of {', '.join(ENGINES)}")
    if kind != "native":
        return ArrayEngine(step_function(step, kind, engine_file), step.input_size, step.state_size)
    from lnn_control.policy.engines.native_step import native_engine

    return native_engine(step, engine_file)


def step_function(
    step: PolicyStep, kind: EngineKind, engine_file: str | os.PathLike[str] | None = None
) -> StepFunction:
    """``step`` as a :data:`StepFunction` computed by the named engine (``torch``, ``onnx`` or
    ``compiled``); ``engine_file``: ``onnx``, the step exported with ``lnn-control export``."""
    if kind == "torch":
        from lnn_control.policy.engines.torch_step import torch_step_function

        return torch_step_function(step)
    if kind == "onnx":
        from lnn_control.policy.engines.onnx_step import onnx_step_function

        return onnx_step_function(step, engine_file)
    if kind == "compiled":
        from lnn_control.policy.engines.compiled_step import compiled_step_function

        return compiled_step_function(step)
    raise ConfigError(f"engine {kind!r} has no step function; use torch, onnx or compiled")
