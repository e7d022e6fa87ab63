"""Real ROS 2 over DDS for the tests: loopback only, a domain of the test process's own.

:func:`ros_environment` must run before ``rclpy.init``; node processes inherit it.
"""

import os
import threading
import time
from pathlib import Path

import rclpy
from rclpy.executors import SingleThreadedExecutor

from lnn_control.ros import processes

ROOT = Path(__file__).resolve().parents[2]


def ros_environment() -> dict:
    """DDS stays on this machine (no multicast off loopback) and each test process gets its own
    domain, so parallel test workers and runs do not hear each other."""
    os.environ.update(processes.local_environment())
    return dict(os.environ)


class NodeProcess(processes.NodeProcess):
    """A node process started from the checkout. Every one started is remembered, so
    :func:`stop_all` can sweep up after a failed test."""

    started: list["NodeProcess"] = []

    def __init__(self, args: list[str], log: Path) -> None:
        super().__init__(args, log, cwd=ROOT)
        NodeProcess.started.append(self)

    @classmethod
    def stop_all(cls, since: int = 0) -> None:
        """Stop every node started since the ``since``-th one (a test that failed midway leaves
        none behind)."""
        for node in cls.started[since:]:
            node.stop()
        del cls.started[since:]

    def wait_ready(self, marker: str = "configured", timeout: float = 60) -> None:
        """Wait for ``marker`` in this node's log (DDS discovery may still list an earlier,
        stopped node on the same topics, so subscriber counts alone can mislead)."""
        self.wait_for_log(marker, timeout)


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


def diagnostic_values(array, part: str) -> dict:
    """The key-value pairs (strings) of the status in the ``DiagnosticArray`` ``array`` whose name
    ends with ``part`` (``"controller"``, ``"stream imu"``, ...); empty if it has none."""
    for status in array.status:
        if status.name.endswith(part):
            return {kv.key: kv.value for kv in status.values}
    return {}


def wait_for(predicate, timeout: float, what: str) -> None:
    """Poll ``predicate`` until true; fail the test with ``what`` after ``timeout`` seconds."""
    try:
        processes.wait_for(predicate, timeout, what)
    except TimeoutError as error:
        raise AssertionError(str(error)) from None
