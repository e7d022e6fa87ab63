"""The ``compiled`` engine: a step compiled to native code with AOTInductor into a ``.pt2``
package (needs a C++ compiler when compiling, not when loading) and called with about a
microsecond of overhead. Outputs match eager within 1e-5."""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from lnn_control.errors import ConfigError, ShapeError
from lnn_control.liquid.cell_step import as_step_module
from lnn_control.policy.engines import StepFunction
from lnn_control.policy.engines.export import INPUT_NAMES, example_inputs, step_file
from lnn_control.policy.model import PolicyStep

__all__ = ["CompiledStep", "compile_step", "compiled_step_function"]


def compile_step(
    module: nn.Module, path: str | os.PathLike[str], batch_size: int = 1
) -> CompiledStep:
    """Compile a cell's (or step module's) step for a fixed batch size with AOTInductor into a
    ``.pt2`` package.

    Takes seconds to a minute and needs a C++ compiler; loading the package later needs neither.
    The weights are baked in: recompile after training.

    :return: the loaded :class:`CompiledStep`.
    """
    target = step_file(path, ".pt2")
    step = as_step_module(module)
    example = example_inputs(step, batch_size)
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


def compiled_step_function(step: PolicyStep) -> StepFunction:
    """``step`` as a :data:`~lnn_control.policy.engines.StepFunction` compiled with
    AOTInductor for batch size 1 (in a temporary folder, deleted once the package is loaded)."""
    with tempfile.TemporaryDirectory(prefix="lnn_control_engine_") as scratch:
        compiled = compile_step(step, Path(scratch) / "policy_step.pt2")

    def run_compiled(inputs: np.ndarray, h: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
        action, h_new = compiled(torch.from_numpy(inputs), torch.from_numpy(h), torch.full((1, 1), dt))
        # copies: the compiled runner may reuse its output buffers on the next call
        return action[0].numpy().copy(), h_new.numpy().copy()

    return run_compiled
