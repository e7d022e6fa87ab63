"""``lnn-control launch {policy,sim}``: the launch files' nodes as processes, without ROS launch.

``ros2 launch`` (the ``launch`` and ``launch_ros`` packages) comes with a ROS install and is not
on PyPI. This starts the same executables with the same parameter files as
``launch/policy.launch.py`` and ``launch/sim.launch.py`` (a test checks that the two agree), each
as its own process, and stops them all on Ctrl-C (or SIGTERM). If a node exits with an error
(``policy_node`` exits with status 2 when its autostart configure fails, e.g. on a missing
checkpoint), the others are stopped too and the command fails with that node's error. Parameter
files default to the installed ``share/lnn_control/config/ros`` (or the checkout's ``config/ros``).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from lnn_control.errors import ConfigError, LnnControlError
from lnn_control.resources import config_path
from lnn_control.ros.processes import interrupt

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


#: terminal colour codes, removed before a log line is read for its message
_COLOUR = re.compile(r"\x1b\[[0-9;]*m")
#: an rcutils console line at ERROR or FATAL: ``[ERROR] [1712.5] [policy_node]: message``
_ERROR_LOG = re.compile(r"^\[(?:ERROR|FATAL)\] \[[^]]*\] \[[^]]*\]: (?P<message>.+)$")


class _NodeProcess:
    """One node process of a plan; its stderr (where ROS logs go) is passed through line by line
    and its error lines are kept, so that its failure can be reported in one line.

    :param name: the node's executable name (``policy_node``).
    :param line: its command line (:func:`commands`).
    """

    def __init__(self, name: str, line: list[str], environment: dict[str, str]) -> None:
        self.name = name
        #: messages of its ERROR/FATAL log lines and of its ``<name>: ...`` lines, in order
        self.errors: list[str] = []
        #: its last non-empty stderr line (a traceback's last line, say)
        self.last_line = ""
        self.process = subprocess.Popen(line, env=environment, stderr=subprocess.PIPE, text=True,
                                        errors="replace", bufsize=1)
        self._reader = threading.Thread(target=self._pass_through, name=f"{name} stderr", daemon=True)
        self._reader.start()

    def _pass_through(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            sys.stderr.write(line)
            sys.stderr.flush()
            text = _COLOUR.sub("", line).strip()
            if not text:
                continue
            self.last_line = text
            logged = _ERROR_LOG.match(text)
            if logged:
                self.errors.append(logged["message"])
            elif text.startswith(f"{self.name}: "):
                self.errors.append(text[len(self.name) + 2:])

    def stop(self, timeout_s: float = 20.0) -> int:
        """SIGINT (as Ctrl-C) if still running, killed after ``timeout_s``; returns the exit code
        once its stderr is read to the end."""
        code = interrupt(self.process, timeout_s)
        self._reader.join(timeout=5.0)
        return code

    def reason(self) -> str:
        """Why it failed: its first error message, else its last stderr line."""
        return self.errors[0] if self.errors else (self.last_line or "it printed no error")


def _exit_status(code: int) -> int:
    """A process's status as a shell reports it (killed by signal N: 128 + N)."""
    return code if code >= 0 else 128 - code


def _run(args: argparse.Namespace) -> int:
    files = {"params": args.params, "sim_params": args.sim_params}
    lines = commands(args.plan, args.checkpoint, files, args.namespace, not args.no_autostart)
    environment = dict(os.environ)
    if sys.stderr.isatty():  # ROS colours its log lines on a terminal; they now pass through a pipe
        environment.setdefault("RCUTILS_COLORIZED_OUTPUT", "1")
    stopping = threading.Event()
    previous = {number: signal.signal(number, lambda *_: stopping.set())
                for number in (signal.SIGINT, signal.SIGTERM)}
    nodes: list[_NodeProcess] = []
    failed: Optional[_NodeProcess] = None
    try:
        for spec, line in zip(PLANS[args.plan], lines):
            nodes.append(_NodeProcess(spec.executable, line, environment))
        print(f"started {', '.join(f'{n.name} (pid {n.process.pid})' for n in nodes)}; Ctrl-C stops them",
              flush=True)
        while not stopping.is_set():
            failed = next((n for n in nodes if n.process.poll() not in (None, 0)), None)
            if failed is not None or all(n.process.poll() is not None for n in nodes):
                break
            stopping.wait(0.1)
    finally:
        codes = [node.stop() for node in nodes]  # after Ctrl-C they have it already; again is harmless
        for number, handler in previous.items():
            signal.signal(number, handler)
    if failed is not None:
        others = [n.name for n in nodes if n is not failed]
        raise LnnControlError(
            f"{failed.name} exited with status {_exit_status(failed.process.returncode)}: {failed.reason()}"
            + (f"; stopped {', '.join(others)}" if others else ""))
    return max((_exit_status(code) for code in codes), default=0)
