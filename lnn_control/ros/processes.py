"""Nodes as processes of their own, as on a robot: start, watch the log, stop with Ctrl-C.

Used by ``lnn-control demo`` and the tests. :func:`local_environment` keeps DDS on loopback in
a domain of the caller's own, so a demo or a test run never talks to a robot on the network.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Optional

__all__ = ["NodeProcess", "interrupt", "local_environment", "wait_for"]


def local_environment(domain_base: int = 110) -> dict[str, str]:
    """This process's environment with DDS discovery on loopback only and a domain id of this
    process's own (``domain_base + pid % 100``); node processes started with it join it."""
    environment = dict(os.environ)
    environment["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    environment["ROS_DOMAIN_ID"] = str(domain_base + os.getpid() % 100)
    return environment


class NodeProcess:
    """A Python module run as a node process, its stdout and stderr kept in ``log``.

    :param args: the arguments after ``python``, e.g. ``["-m", "lnn_control.ros.sim_node", ...]``.
    :param environment: the process's environment (default: this one's).
    """

    def __init__(self, args: Sequence[str], log: Path, environment: Optional[Mapping[str, str]] = None,
                 cwd: Optional[Path] = None) -> None:
        self.log = log
        self._stream = log.open("w")
        self.process = subprocess.Popen([sys.executable, *args], cwd=cwd,
                                        env=dict(environment if environment is not None else os.environ),
                                        stdout=self._stream, stderr=subprocess.STDOUT)

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout_s: float = 20.0) -> int:
        """SIGINT, as Ctrl-C or a launch shutdown sends; killed after ``timeout_s``. Returns the
        exit code."""
        interrupt(self.process, timeout_s)
        if not self._stream.closed:
            self._stream.close()
        return self.process.returncode

    def output(self) -> str:
        return self.log.read_text()

    def wait_for_log(self, marker: str, timeout_s: float = 60.0) -> None:
        """Wait until ``marker`` is in the log.

        :raises RuntimeError: the process ended first, or ``timeout_s`` passed (with its log).
        """
        wait_for(lambda: marker in self.output() or not self.alive(), timeout_s, f"{marker!r} in {self.log}")
        if not self.alive():
            raise RuntimeError(f"{self.log.stem} exited with code {self.process.returncode}:\n{self.output()}")


def interrupt(process: subprocess.Popen, timeout_s: float = 20.0) -> int:
    """Stop ``process`` as Ctrl-C does (SIGINT) if it still runs, killed after ``timeout_s``;
    returns its exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def wait_for(predicate: Callable[[], object], timeout_s: float, what: str) -> None:
    """Poll ``predicate`` every 20 ms until it is true.

    :raises TimeoutError: after ``timeout_s`` seconds, naming ``what``.
    """
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.02)
    raise TimeoutError(f"timed out after {timeout_s} s waiting for {what}")
