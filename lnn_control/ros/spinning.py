"""Running and spinning a node until SIGINT/SIGTERM, shared by the package's nodes (no heavy
imports)."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from typing import Any, Optional

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.experimental import EventsExecutor
from rclpy.signals import SignalHandlerOptions

from lnn_control.errors import LnnControlError

__all__ = ["run_node", "spin"]


def run_node(name: str, make: Callable[[], Any], args: Optional[list[str]] = None,
             finish: Callable[[Any], None] = lambda node: None) -> None:
    """A node executable's whole life: init rclpy with ``args`` (default ``sys.argv``), build the
    node with ``make`` (a user error exits with status 2 and its message), :func:`spin` it, then
    ``finish(node)`` (while the context is still up, e.g. to publish a last command) and shut down.
    """
    rclpy.init(args=args if args is not None else sys.argv, signal_handler_options=SignalHandlerOptions.NO)
    try:
        node = make()
    except LnnControlError as error:
        print(f"{name}: {error}", file=sys.stderr)
        rclpy.try_shutdown()
        sys.exit(2)
    try:
        spin(node)
    finally:
        finish(node)
        node.destroy_node()
        rclpy.try_shutdown()


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
