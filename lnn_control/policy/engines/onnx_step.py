"""The ``onnx`` engine: a step exported as ONNX (:mod:`lnn_control.policy.engines.export`), run
in onnxruntime on the CPU."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from lnn_control.policy.engines import StepFunction
from lnn_control.policy.engines.export import (
    OUTPUT_NAMES,
    check_policy_onnx,
    export_policy_onnx,
)
from lnn_control.policy.model import PolicyStep

__all__ = ["OnnxStep", "onnx_step_function", "open_policy_onnx"]


class OnnxStep:
    """Run an exported step in onnxruntime (CPU, one thread by default).

    :param path: the ``.onnx`` file from :func:`~lnn_control.policy.engines.export.export_onnx`.
    :param threads: onnxruntime intra-op threads.
    """

    def __init__(self, path: str | os.PathLike[str], threads: int = 1) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.session = ort.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )

    def __call__(
        self, x: np.ndarray, h: np.ndarray, dt: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """float32 arrays ``x (B, F)``, ``h (B, S)``, ``dt (B, 1)`` -> ``(y, h_new)``."""
        y, h_new = self.session.run(OUTPUT_NAMES, {"x": x, "h": h, "dt": dt})
        return y, h_new


def open_policy_onnx(path: str | os.PathLike[str], policy: Any, threads: int = 1) -> OnnxStep:
    """An :class:`OnnxStep` for ``path``, after
    :func:`~lnn_control.policy.engines.export.check_policy_onnx`."""
    check_policy_onnx(path, policy)
    return OnnxStep(path, threads)


def onnx_step_function(
    step: PolicyStep, engine_file: str | os.PathLike[str] | None = None
) -> StepFunction:
    """``step`` as a :data:`~lnn_control.policy.engines.StepFunction` in onnxruntime.

    :param engine_file: the step exported with ``lnn-control export`` (checked to come from the
        policy's weights); without it the step is exported to a temporary folder, deleted once
        the session has read it.
    """
    with tempfile.TemporaryDirectory(prefix="lnn_control_engine_") as scratch:
        session = open_policy_onnx(engine_file or export_policy_onnx(step.policy, Path(scratch) / "policy_step.onnx"),
                                   step.policy)

    def run_onnx(inputs: np.ndarray, h: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
        action, h_new = session(inputs, h, np.full((1, 1), dt, dtype=np.float32))
        return action[0], h_new

    return run_onnx
