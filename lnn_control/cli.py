"""``lnn-control <command> ...``: the project's one console entry point.

Thin on purpose: it parses arguments and calls library code. Each command lives in a module with
``add_arguments(parser)``, which declares its options and sets ``handler`` (a function taking the
parsed namespace and returning an exit code) with ``parser.set_defaults``. Command modules import
heavy dependencies (torch, mujoco, rclpy) inside their handlers so ``--help`` stays fast.

A command names what it writes with ``--out`` (a folder), ``--json`` or ``--onnx`` (a file), see
:data:`OUTPUT_OPTIONS`; one whose ``--out`` is a file says so with
``parser.set_defaults(outputs={"out": "file"})``. :func:`main` checks these paths before the
command runs, so a path under a file or into a read-only folder fails at once with one line,
not after the work with a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from lnn_control import __version__
from lnn_control.errors import LnnControlError
from lnn_control.files import OutputKind, check_output_path

__all__ = ["COMMANDS", "OUTPUT_OPTIONS", "build_parser", "check_outputs", "main"]

#: command name -> (module defining ``add_arguments``, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "bench": ("lnn_control.bench", "run a benchmark: prints a table and writes JSON"),
    "compare": ("lnn_control.train.compare", "train several cores the same way and compare them per scenario"),
    "demo": ("lnn_control.demo", "the main job: train, fly through ROS 2 while recording, replay, report"),
    "evaluate": ("lnn_control.train.evaluate_cli", "evaluate a policy checkpoint over seeded episodes per scenario"),
    "export": ("lnn_control.policy.engines.export_cli", "export a checkpoint's policy step to ONNX"),
    "launch": ("lnn_control.ros.launcher", "start a launch file's nodes without ROS launch"),
    "probe": ("lnn_control.train.probe_cli", "measure what a policy's core state knows of the hidden physics"),
    "record": ("lnn_control.sim.record", "record simulated episodes as a ROS 2 bag"),
    "replay": ("lnn_control.bags.cli", "replay a rosbag through a policy: report and output bag"),
    "rl": ("lnn_control.train.rl_cli", "reinforcement learning (PPO, liquid core): fine-tune a policy or train from scratch"),
    "sim": ("lnn_control.sim.cli", "simulation suite: view an env's episode, evaluate its expert"),
    "sweep": ("lnn_control.train.sweep", "search a training config's hyperparameters, each trial a training run"),
    "train": ("lnn_control.train.train_cli", "train a policy: demonstrations, behaviour cloning, DAgger, report"),
}

#: options that name what a command writes (namespace attribute -> "file" or "folder"); a command
#: overrides an entry with ``set_defaults(outputs={...})``
OUTPUT_OPTIONS: dict[str, OutputKind] = {"out": "folder", "json": "file", "onnx": "file"}


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, one subparser per entry of :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="lnn-control", description="Liquid neural network control policies for robots."
    )
    parser.add_argument("--version", action="version", version=f"lnn-control {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(module).add_arguments(sub)
    return parser


def check_outputs(args: argparse.Namespace) -> None:
    """Check every output path of a parsed command line (:data:`OUTPUT_OPTIONS`, with the
    command's own ``outputs``) before it runs.

    :raises OutputPathError: naming the path, what is in the way and the option to change.
    """
    kinds: dict[str, OutputKind] = {**OUTPUT_OPTIONS, **getattr(args, "outputs", {})}
    for name, kind in kinds.items():
        value = getattr(args, name, None)
        if value is not None:
            check_output_path(value, kind, f"--{name.replace('_', '-')}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit code (2 for a user error, with its message)."""
    args = build_parser().parse_args(argv)
    try:
        check_outputs(args)
        return int(args.handler(args) or 0)
    except LnnControlError as error:
        print(f"lnn-control {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
