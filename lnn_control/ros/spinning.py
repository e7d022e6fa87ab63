"""Spinning a node until SIGINT/SIGTERM, shared by the package's nodes (no heavy imports)."""

from __future__ import annotations

import signal
from typing import Any

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.experimental import EventsExecutor

__all__ = ["spin"]


def spin(node: Any) -> None:
    """Run ``node`` on an events executor until SIGINT, SIGTERM or shutdown.

    ``EventsExecutor.spin()`` busy-waits when idle in this rclpy (measured: 40-80 % of a core
    with nothing to do), so the loop calls ``spin_once`` with a timeout, which idles at ~1 %.
    The signals only end the loop, so that the caller can still publish (the safe command)
    before the context shuts down.
    """
    stopping = {"now": False}
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stopping.update(now=True))
    executor = EventsExecutor()
    executor.add_node(node)
    try:
        while rclpy.ok() and not stopping["now"]:
            executor.spin_once(timeout_sec=0.1)
    except ExternalShutdownException:
        pass
    finally:
        executor.shutdown()
