"""Real ROS 2 over DDS for the tests: loopback only, a domain of the test process's own.

:func:`ros_environment` must run before ``rclpy.init``; node processes inherit it.
"""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import rclpy
from rclpy.executors import SingleThreadedExecutor

ROOT = Path(__file__).resolve().parents[2]


def ros_environment() -> dict:
    """DDS stays on this machine (no multicast off loopback) and each test process gets its own
    domain, so parallel test workers and runs do not hear each other."""
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    os.environ["ROS_DOMAIN_ID"] = str(110 + os.getpid() % 100)
    return dict(os.environ)


class NodeProcess:
    """A node run as its own process (as on a robot), output kept in a log file. Every one
    started is remembered, so :func:`stop_all` can sweep up after a failed test."""

    started: list["NodeProcess"] = []

    def __init__(self, args: list[str], log: Path) -> None:
        self.log = log
        self._stream = log.open("w")
        self.process = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=dict(os.environ),
                                        stdout=self._stream, stderr=subprocess.STDOUT)
        NodeProcess.started.append(self)

    def alive(self) -> bool:
        return self.process.poll() is None

    @classmethod
    def stop_all(cls, since: int = 0) -> None:
        """Stop every node started since the ``since``-th one (a test that failed midway leaves
        none behind)."""
        for node in cls.started[since:]:
            node.stop()
        del cls.started[since:]

    def stop(self) -> int:
        """SIGINT, as Ctrl-C or a launch shutdown does; returns the exit code."""
        if self.alive():
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if not self._stream.closed:
            self._stream.close()
        return self.process.returncode

    def output(self) -> str:
        return self.log.read_text()

    def wait_ready(self, marker: str = "configured", timeout: float = 60) -> None:
        """Wait for ``marker`` in this node's log (DDS discovery may still list an earlier,
        stopped node on the same topics, so subscriber counts alone can mislead)."""
        wait_for(lambda: marker in self.output() or not self.alive(), timeout, f"{marker!r} in the log")
        assert self.alive(), self.output()


def policy_node(params: Path, log: Path, **overrides) -> NodeProcess:
    args = ["-m", "lnn_control.ros.policy_node", "--ros-args", "--params-file", str(params)]
    for key, value in overrides.items():
        args += ["-p", f"{key}:={value}"]
    return NodeProcess(args, log)


class Probe:
    """The test's own node: publishers and subscribers, spun on a background thread."""

    def __init__(self, name: str = "test_probe") -> None:
        self.node = rclpy.create_node(name)
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self._running = True
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while self._running:
            self.executor.spin_once(timeout_sec=0.02)

    def collect(self, msgtype, topic: str, qos=10) -> list:
        """A list that fills with (arrival time_ns, message) of ``topic``."""
        received: list = []
        self.node.create_subscription(msgtype, topic, lambda m: received.append((time.time_ns(), m)), qos)
        return received

    def close(self) -> None:
        self._running = False
        self._thread.join()
        self.executor.shutdown()
        self.node.destroy_node()


def wait_for(predicate, timeout: float, what: str) -> None:
    """Poll ``predicate`` until true; fail the test with ``what`` after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
