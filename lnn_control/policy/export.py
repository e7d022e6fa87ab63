"""Export a policy's step for deployment, and ``lnn-control export CKPT --onnx PATH``.

The exported step is :class:`~lnn_control.policy.model.PolicyStep`:
``(x (B, D), h (B, S), dt (B, 1) s) -> (y = command (B, A), h_new (B, S))``. The file carries, as
metadata, the fingerprint of the weights it was made from and the layout of ``x`` (each stream's
slice, the ages, the action names and limits), so another runtime can feed it, and a runtime
given a file made from other weights refuses it instead of computing wrong commands.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from lnn_control.errors import ConfigError

__all__ = ["add_arguments", "check_policy_onnx", "export_policy_onnx", "open_policy_onnx", "policy_fingerprint"]

FINGERPRINT_KEY = "lnn_control.weights_sha256"
LAYOUT_KEY = "lnn_control.layout"


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

    from lnn_control.liquid.export import export_onnx

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


def open_policy_onnx(path: str | os.PathLike[str], policy: Any, threads: int = 1) -> Any:
    """An :class:`~lnn_control.liquid.export.OnnxStep` for ``path``, after
    :func:`check_policy_onnx`."""
    from lnn_control.liquid.export import OnnxStep

    check_policy_onnx(path, policy)
    return OnnxStep(path, threads)


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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``lnn-control export``."""
    parser.add_argument("checkpoint", help="checkpoint folder (policy.yaml + weights.safetensors)")
    parser.add_argument("--onnx", required=True, help="where to write the step (.onnx)")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from lnn_control.policy.checkpoint import load_checkpoint

    policy = load_checkpoint(args.checkpoint)
    path = export_policy_onnx(policy, args.onnx)
    layout = step_layout(policy)
    print(f"wrote {path}: x ({layout['ages']['start'] + len(layout['ages']['streams'])},) = "
          f"{layout['inputs']} + ages {layout['ages']['streams']}; h ({layout['state_size']},); "
          f"y = {layout['actions']['names']}")
    return 0
