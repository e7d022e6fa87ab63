"""Deploy a cell's single step ``(x, h, dt) -> (y, h_new)`` outside eager PyTorch.

Three paths, all tested to match eager outputs within 1e-5:

- TorchScript: every cell and sequence module passes ``torch.jit.script`` as it is.
- ONNX: :func:`export_onnx` writes the step (dynamic batch size) for onnxruntime or any ONNX
  runtime; :class:`OnnxStep` runs it in onnxruntime.
- AOTInductor: :func:`compile_step` compiles the step to native code in a ``.pt2`` package
  (needs a C++ compiler when compiling, not when loading); :class:`CompiledStep` runs it with
  about a microsecond of call overhead. This is the fastest path on a CPU.

Inputs are ``x (B, input_size)``, ``h (B, state_size)`` and ``dt (B, 1)`` float32 (seconds);
outputs ``y (B, output_size)`` and ``h_new (B, state_size)``. Besides cells, any module with
``input_size`` and ``state_size`` attributes and that ``forward`` exports the same way (a
policy's :class:`~lnn_control.policy.model.PolicyStep`).
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from lnn_control.errors import ConfigError, ShapeError
from lnn_control.liquid.base import LiquidCell

__all__ = ["CellStep", "CompiledStep", "OnnxStep", "compile_step", "export_onnx"]

INPUT_NAMES = ["x", "h", "dt"]
OUTPUT_NAMES = ["y", "h_new"]


class CellStep(nn.Module):
    """A cell's single step with a tensor time step, the form that is exported.

    :param cell: any :class:`~lnn_control.liquid.base.LiquidCell`.
    """

    def __init__(self, cell: LiquidCell) -> None:
        super().__init__()
        self.cell = cell
        self.input_size = cell.input_size
        self.state_size = cell.state_size

    def forward(self, x: Tensor, h: Tensor, dt: Tensor) -> tuple[Tensor, Tensor]:
        """``x (B, F)``, ``h (B, S)``, ``dt (B, 1)`` seconds -> ``(y (B, O), h_new (B, S))``."""
        return self.cell(x, h, dt)


def _as_step(module: nn.Module) -> nn.Module:
    """A cell wrapped in :class:`CellStep`; a step module as it is; in eval mode."""
    return (CellStep(module) if isinstance(module, LiquidCell) else module).eval()


def _example(step: nn.Module, batch_size: int) -> tuple[Tensor, Tensor, Tensor]:
    return (
        torch.zeros(batch_size, int(step.input_size)),
        torch.zeros(batch_size, int(step.state_size)),
        torch.full((batch_size, 1), 0.01),
    )


def _writable(path: str | os.PathLike[str], suffix: str) -> Path:
    target = Path(path)
    if target.suffix != suffix:
        raise ConfigError(f"the output file must end in {suffix}, got {str(target)!r}")
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def export_onnx(module: nn.Module, path: str | os.PathLike[str]) -> Path:
    """Write a cell's (or step module's) step as ONNX: inputs ``x``, ``h``, ``dt``; outputs
    ``y``, ``h_new``; dynamic batch size. Written to a temporary file first: a failed export
    leaves ``path`` as it was. Needs the ``onnx`` and ``onnxscript`` packages.

    :return: the path written.
    """
    target = _writable(path, ".onnx")
    step = _as_step(module)
    partial = target.with_name(target.name + ".partial.onnx")
    exporter_log = logging.getLogger("torch.onnx")
    level = exporter_log.level
    exporter_log.setLevel(logging.ERROR)  # it logs one line per absent torchvision operator
    try:
        _export_onnx(step, partial)
    finally:
        exporter_log.setLevel(level)
    partial.replace(target)
    return target


def _export_onnx(step: nn.Module, path: Path) -> None:
    batch = torch.export.Dim("batch")
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            step,
            _example(step, 2),
            input_names=INPUT_NAMES,
            output_names=OUTPUT_NAMES,
            dynamic_shapes=({0: batch}, {0: batch}, {0: batch}),
            dynamo=True,
            verbose=False,
        )
        program.save(str(path))


class OnnxStep:
    """Run an exported step in onnxruntime (CPU, one thread by default).

    :param path: the ``.onnx`` file from :func:`export_onnx`.
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


def compile_step(
    module: nn.Module, path: str | os.PathLike[str], batch_size: int = 1
) -> CompiledStep:
    """Compile a cell's (or step module's) step for a fixed batch size with AOTInductor into a
    ``.pt2`` package.

    Takes seconds to a minute and needs a C++ compiler; loading the package later needs neither.
    The weights are baked in: recompile after training.

    :return: the loaded :class:`CompiledStep`.
    """
    target = _writable(path, ".pt2")
    step = _as_step(module)
    example = _example(step, batch_size)
    shapes = json.dumps([list(t.shape) for t in example])
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        program = torch.export.export(step, example)
        torch._inductor.aoti_compile_and_package(
            program,
            package_path=str(target),
            inductor_configs={
                # Fold the weight-only work (masks, gate concatenation) into constants; keep
                # plain matmuls: oneDNN's prepacked ones are slower at these sizes.
                "freezing": True,
                "cpp.weight_prepack": False,
                "aot_inductor.metadata": {"input_shapes": shapes},
            },
        )
    return CompiledStep(target)


class CompiledStep:
    """A step compiled by :func:`compile_step`, called through AOTInductor's package loader.

    The native code targets the CPU it was compiled on (its instruction set is in the package
    metadata): compile on, or for, the robot's computer.

    :param path: the ``.pt2`` package.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        package: Any = torch._inductor.aoti_load_package(str(path))
        metadata = package.get_metadata()
        if "input_shapes" not in metadata:
            raise ConfigError(f"{path} was not written by compile_step (no input_shapes metadata)")
        #: input shapes the code was compiled for: x, h, dt
        self.shapes = [tuple(shape) for shape in json.loads(metadata["input_shapes"])]
        # The loader takes and returns flat tensor lists: about 1 us a call, where the package
        # object's own __call__ adds ~8 us of pytree handling. It does not check shapes (a wrong
        # shape gives a wrong answer, not an error), so __call__ does.
        self._run = package.loader.run

    def __call__(self, x: Tensor, h: Tensor, dt: Tensor) -> tuple[Tensor, Tensor]:
        """float32 ``x (B, F)``, ``h (B, S)``, ``dt (B, 1)`` with the compiled ``B`` -> outputs."""
        for name, tensor, shape in zip(INPUT_NAMES, (x, h, dt), self.shapes):
            if tuple(tensor.shape) != shape:
                raise ShapeError(
                    f"compiled step input {name} must have shape {list(shape)}, got "
                    f"{list(tensor.shape)}; compile again for another batch size"
                )
        y, h_new = self._run([x, h, dt])
        return y, h_new

