"""``lnn-control export CKPT --onnx PATH``: write a checkpoint's policy step as ONNX, with its
fingerprint and layout (:func:`~lnn_control.policy.engines.export.export_policy_onnx`)."""

from __future__ import annotations

import argparse

__all__ = ["add_arguments"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``lnn-control export``."""
    parser.add_argument("checkpoint", help="checkpoint folder (policy.yaml + weights.safetensors)")
    parser.add_argument("--onnx", required=True, help="where to write the step (.onnx)")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from lnn_control.policy.checkpoint import load_checkpoint
    from lnn_control.policy.engines.export import export_policy_onnx, step_layout

    policy = load_checkpoint(args.checkpoint)
    path = export_policy_onnx(policy, args.onnx)
    layout = step_layout(policy)
    print(f"wrote {path}: x ({layout['ages']['start'] + len(layout['ages']['streams'])},) = "
          f"{layout['inputs']} + ages {layout['ages']['streams']}; h ({layout['state_size']},); "
          f"y = {layout['actions']['names']}")
    return 0
