"""Write a step ``(x, h, dt) -> (y, h_new)`` to a file: ONNX for the ``onnx`` and ``native``
engines, with a policy's fingerprint and input layout; the conventions the exported forms share.

Inputs are ``x (B, input_size)``, ``h (B, state_size)`` and ``dt (B, 1)`` float32 (seconds);
outputs ``y (B, output_size)`` and ``h_new (B, state_size)``. A liquid cell is exported as its
:class:`~lnn_control.liquid.cell_step.CellStep`; any other module with ``input_size`` and
``state_size`` attributes and that ``forward`` exports as it is (a policy's
:class:`~lnn_control.policy.model.PolicyStep`). Every cell's export matches eager outputs
within 1e-5 (the AOTInductor form: :mod:`lnn_control.policy.engines.compiled_step`).

A policy's exported step (:func:`export_policy_onnx`, ``lnn-control export CKPT --onnx PATH``)
carries, as metadata, the fingerprint of the weights it was made from and the layout of ``x``
(each stream's slice, the ages, the action names and limits), so another runtime can feed it,
and a runtime given a file made from other weights refuses it instead of computing wrong
commands (:func:`check_policy_onnx`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from lnn_control.errors import ConfigError
from lnn_control.liquid.cell_step import as_step_module

__all__ = ["INPUT_NAMES", "OUTPUT_NAMES", "check_policy_onnx", "example_inputs", "export_onnx",
           "export_policy_onnx", "policy_fingerprint", "step_file", "step_layout"]

INPUT_NAMES = ["x", "h", "dt"]
OUTPUT_NAMES = ["y", "h_new"]
FINGERPRINT_KEY = "lnn_control.weights_sha256"
LAYOUT_KEY = "lnn_control.layout"


def example_inputs(step: nn.Module, batch_size: int) -> tuple[Tensor, Tensor, Tensor]:
    """Inputs to trace ``step`` with: zero ``x (B, D)`` and ``h (B, S)``, ``dt (B, 1)`` of 0.01 s."""
    return (
        torch.zeros(batch_size, int(step.input_size)),
        torch.zeros(batch_size, int(step.state_size)),
        torch.full((batch_size, 1), 0.01),
    )


def step_file(path: str | os.PathLike[str], suffix: str) -> Path:
    """``path``, checked to end in ``suffix``, its folder made.

    :raises ConfigError: another suffix.
    """
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
    target = step_file(path, ".onnx")
    step = as_step_module(module)
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
            example_inputs(step, 2),
            input_names=INPUT_NAMES,
            output_names=OUTPUT_NAMES,
            dynamic_shapes=({0: batch}, {0: batch}, {0: batch}),
            dynamo=True,
            verbose=False,
        )
        program.save(str(path))


def policy_fingerprint(policy: Any) -> str:
    """SHA-256 over the policy's tensors (names, shapes and values), in state-dict order."""
    digest = hashlib.sha256()
    for name, tensor in policy.state_dict().items():
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def step_layout(policy: Any) -> dict[str, Any]:
    """What the exported step's input and output hold."""
    step = policy.step_module()
    actions = policy.config.actions
    return {
        "inputs": {name: list(span) for name, span in step.layout.items()},
        "ages": {"start": step.ages_start, "streams": list(policy.aged_streams),
                 "scale_s": policy.config.control.max_age_s},
        "state_size": step.state_size,
        "actions": {"names": actions.names, "units": actions.units, "low": actions.low,
                    "high": actions.high},
    }


def export_policy_onnx(policy: Any, path: str | os.PathLike[str]) -> Path:
    """Write the policy's step as ONNX with its fingerprint and layout as metadata."""
    import onnx

    target = export_onnx(policy.step_module(), path)
    model = onnx.load(str(target))
    for key, value in ((FINGERPRINT_KEY, policy_fingerprint(policy)),
                       (LAYOUT_KEY, json.dumps(step_layout(policy)))):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    partial = target.with_name(target.name + ".partial.onnx")
    onnx.save(model, str(partial))
    partial.replace(target)
    return target


def check_policy_onnx(path: str | os.PathLike[str], policy: Any) -> None:
    """Raise :class:`ConfigError` unless ``path`` is a step exported from ``policy``'s weights."""
    import onnx

    if not Path(path).is_file():
        raise ConfigError(f"exported step {str(path)!r} does not exist")
    metadata = onnx.load(str(path), load_external_data=False).metadata_props
    stored = {entry.key: entry.value for entry in metadata}.get(FINGERPRINT_KEY)
    if stored != policy_fingerprint(policy):
        raise ConfigError(
            f"{path} was not exported from this policy's weights (fingerprint "
            f"{str(stored)[:12]}... vs {policy_fingerprint(policy)[:12]}...); export it again "
            "with `lnn-control export CKPT --onnx PATH`"
        )
