"""``lnn-control launch {policy,sim}``: the launch files' nodes as processes, without ROS launch.

``ros2 launch`` (the ``launch`` and ``launch_ros`` packages) comes with a ROS install and is not
on PyPI. This starts the same executables with the same parameter files as
``launch/policy.launch.py`` and ``launch/sim.launch.py`` (a test checks that the two agree), each
as its own process, and stops them all on Ctrl-C. Parameter files default to the installed
``share/lnn_control/config/ros`` (or the checkout's ``config/ros``).
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from lnn_control.errors import ConfigError
from lnn_control.resources import config_path

__all__ = ["PLANS", "NodeSpec", "add_arguments", "commands"]


@dataclass(frozen=True)
class NodeSpec:
    """One node of a launch file."""

    #: console script (``ros2 run lnn_control <executable>``) and the module it runs
    executable: str
    module: str
    #: the launch argument naming its parameter file, and that file's default (config/ros/)
    params_argument: str
    default_params: str
    #: parameters set by the launch file itself
    overrides: dict[str, str] = field(default_factory=dict)


PLANS: dict[str, list[NodeSpec]] = {
    "policy": [
        NodeSpec("policy_node", "lnn_control.ros.policy_node", "params", "imu_policy.yaml"),
    ],
    "sim": [
        NodeSpec("sim_node", "lnn_control.ros.sim_node", "sim_params", "quad_hover_sim.yaml"),
        NodeSpec("policy_node", "lnn_control.ros.policy_node", "params", "quad_hover_policy.yaml",
                 {"autostart": "true", "use_sim_time": "true"}),
    ],
}


def commands(
    plan: str, checkpoint: str, files: dict[str, str], namespace: str = "", autostart: bool = True
) -> list[list[str]]:
    """The command line of every node of ``plan``.

    :param files: parameter files by launch argument name (``params``, ``sim_params``);
        missing ones take the plan's defaults.
    """
    lines = []
    for spec in PLANS[plan]:
        params = Path(files.get(spec.params_argument) or config_path(f"ros/{spec.default_params}"))
        if not params.is_file():
            raise ConfigError(f"parameter file {params} ({spec.params_argument}) does not exist")
        overrides = dict(spec.overrides)
        if spec.executable == "policy_node":
            overrides.setdefault("autostart", str(autostart).lower())
            overrides["checkpoint"] = checkpoint
        line = [sys.executable, "-m", spec.module, "--ros-args", "--params-file", str(params)]
        if namespace:
            line += ["-r", f"__ns:={namespace}"]
        for key, value in overrides.items():
            line += ["-p", f"{key}:={value}"]
        lines.append(line)
    return lines


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``lnn-control launch``."""
    parser.add_argument("plan", choices=sorted(PLANS), help="which launch file to mirror")
    parser.add_argument("--checkpoint", required=True, help="checkpoint folder for policy_node")
    parser.add_argument("--params", help="policy_node parameter file")
    parser.add_argument("--sim-params", help="sim_node parameter file (plan sim)")
    parser.add_argument("--namespace", default="", help="namespace of every node")
    parser.add_argument("--no-autostart", action="store_true",
                        help="leave policy_node unconfigured (drive its lifecycle yourself)")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    files = {"params": args.params, "sim_params": args.sim_params}
    lines = commands(args.plan, args.checkpoint, files, args.namespace, not args.no_autostart)
    processes = [subprocess.Popen(line) for line in lines]
    print(f"started {len(processes)} node(s); Ctrl-C stops them")
    signal.signal(signal.SIGINT, lambda *_: None)  # the children get the same Ctrl-C
    try:
        codes = [process.wait() for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                process.wait(timeout=20)
    return max(codes, default=0)
