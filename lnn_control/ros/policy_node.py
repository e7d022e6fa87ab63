"""``policy_node``: sensor topics in, actuator commands out, as a ROS 2 lifecycle node.

Lifecycle: ``configure`` loads the controller (a checkpoint through :class:`PolicyRuntime`, or a
controller factory) and creates subscriptions, publishers and timers; ``activate`` starts
commanding from a fresh network state; ``deactivate`` publishes the safe command once and stops;
``cleanup`` releases everything. ``autostart: true`` configures and activates at start-up.

Each message is converted by :func:`lnn_control.policy.messages.stream_reader` and handed to the
controller with its ``header.stamp`` (the node's clock, so ``use_sim_time`` works, stamps messages
without a header and rejects stamps more than ``max_future_s`` ahead). A command is published
after every accepted message of the stepping stream (or at ``timer_rate_hz`` in timer mode),
stamped with the sensor stamp it was computed from. A malformed message is counted and dropped:
the node never crashes on input and never publishes a non-finite command.

Watchdog: if a stream with ``timeout_s > 0`` is silent longer than that, the node publishes the
safe command every watchdog period and reports it on ``/diagnostics``; when every stream is back
the network state is reset (if data had flowed before the silence; the wait for the first
messages after activation is not a dropout). ``/diagnostics`` carries per-stream rate, age, drops and rejects, the
inference time and the watchdog state.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.duration import Duration
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn

from lnn_control.errors import LnnControlError
from lnn_control.policy.config import PolicyConfig
from lnn_control.policy.deployment import Deployment, deployment_from_parameters, load_controller
from lnn_control.policy.events import Controller
from lnn_control.policy.messages import stream_reader
from lnn_control.policy.runtime import EventOutcome, PolicyRuntime
from lnn_control.ros.conversions import CommandWriter, message_class, qos_profile
from lnn_control.ros.spinning import run_node

__all__ = ["PolicyNode", "main"]

SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE


@dataclass
class _StreamMonitor:
    """Arrival bookkeeping of one stream (node clock, nanoseconds)."""

    timeout_ns: int
    received: int = 0
    rejected: int = 0
    last_arrival: Optional[int] = None
    window: int = 0  # messages since the last diagnostics

    def silent_for(self, now: int, since: int) -> float:
        """Seconds since the last message (or since ``since`` if none arrived)."""
        return (now - (self.last_arrival if self.last_arrival is not None else since)) * 1e-9


class PolicyNode(LifecycleNode):
    """See the module docstring. Parameters: :class:`~lnn_control.policy.deployment.Deployment`.

    :param node_name: the node's name (its parameter file section).
    """

    def __init__(self, node_name: str = "policy_node", **kwargs: Any) -> None:
        super().__init__(node_name, allow_undeclared_parameters=True,
                         automatically_declare_parameters_from_overrides=True, **kwargs)
        self._active = False
        self._sim_time = True  # until configured: the node's clock, whichever it is
        self._controller: Optional[Controller] = None
        self._entities: list[Any] = []
        if self.get_parameter_or("autostart", rclpy.Parameter("autostart", value=False)).value:
            if self.trigger_configure() == SUCCESS:
                self.trigger_activate()

    # -- lifecycle -------------------------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            parameters = {k: p.value for k, p in self.get_parameters_by_prefix("").items()}
            self.deployment: Deployment = deployment_from_parameters(parameters)
            controller, config = load_controller(self.deployment)
            self.deployment.check(config)
        except LnnControlError as error:
            self.get_logger().error(f"cannot configure: {error}")
            return FAILURE
        self._controller, self.config = controller, config
        self._set_up(config)
        self.get_logger().info(
            f"configured: streams {[s.name for s in config.streams]} -> "
            f"{self.deployment.output.topic} ({self.deployment.output.type}), "
            f"engine {self.deployment.engine}"
        )
        return SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        assert self._controller is not None
        self._controller.reset()
        self._activated_at = self._now()
        self._tripped = self._stale = self._received = False
        self._active = True
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        self._publish(self._safe(), self._now())
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._tear_down()
        return SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.stop()
        self._tear_down()
        return SUCCESS

    def _set_up(self, config: PolicyConfig) -> None:
        deployment = self.deployment
        self._sim_time = bool(self.get_parameter("use_sim_time").value)
        self._specs = {spec.name: spec for spec in config.streams}
        self._stepping = config.control.stream if config.control.mode == "stream" else None
        self._monitors = {
            name: _StreamMonitor(int(topic.timeout_s * 1e9))
            for name, topic in deployment.streams.items()
        }
        #: each stream's message -> (stamp or None, value, encoding), sizes and joints bound
        self._readers = {
            name: stream_reader(self._specs[name].kind, topic.type, topic.joint_names,
                                self._specs[name].value_shape[:2] if self._specs[name].kind == "image" else None)
            for name, topic in deployment.streams.items()
        }
        self._max_future_ns = deployment.max_future_s * 1e9
        self._low = np.asarray(config.actions.low, dtype=np.float64)
        self._high = np.asarray(config.actions.high, dtype=np.float64)
        self._last_command: Optional[list[float]] = None
        self._published = 0
        self._next_warning_ns = 0  # time.monotonic_ns() before which rejections are not logged
        self._inference_ns: list[int] = []
        #: watchdog tripped; the silence came after data had flowed; data has flowed since reset
        self._tripped = self._stale = self._received = False
        self._activated_at = self._now()
        output = deployment.output
        self._command_writer = CommandWriter(output.type, config.actions.names, output.frame_id,
                                             output.joint_names, output.twist_fields)
        self._publisher = self.create_publisher(self._command_writer.message_class, output.topic, 10)
        self._diagnostics = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._entities = [self._publisher, self._diagnostics]
        for name, topic in deployment.streams.items():
            self._entities.append(self.create_subscription(
                message_class(topic.type), topic.topic,
                lambda msg, name=name: self._on_message(name, msg), qos_profile(topic.qos, topic.depth)))
        timeouts = [t.timeout_s for t in deployment.streams.values() if t.timeout_s > 0]
        if timeouts:
            self.watchdog_period = float(np.clip(min(timeouts) / 4, 0.005, 0.05))
            self._entities.append(self.create_timer(self.watchdog_period, self._on_watchdog))
        self._entities.append(self.create_timer(deployment.diagnostics_period_s, self._on_diagnostics))
        if config.control.mode == "timer":
            rate = deployment.timer_rate_hz or 1.0 / config.control.nominal_dt_s
            self._entities.append(self.create_timer(1.0 / rate, self._on_control_timer))

    def _tear_down(self) -> None:
        for entity in self._entities:
            destroy = {"Publisher": self.destroy_publisher, "Subscription": self.destroy_subscription}
            destroy.get(type(entity).__name__, self.destroy_timer)(entity)
        self._entities = []
        self._controller = None

    # -- data ------------------------------------------------------------------------------------
    def _on_message(self, name: str, msg: Any) -> None:
        now = self._now()
        monitor = self._monitors[name]
        monitor.received += 1
        monitor.window += 1
        monitor.last_arrival = now
        try:
            stamp, value, encoding = self._readers[name](msg)
        except LnnControlError as error:
            self._reject(monitor, f"{name}: {error}")
            return
        stamp = now if stamp is None else stamp
        if stamp > now + self._max_future_ns:
            self._reject(monitor, f"{name}: stamp {(stamp - now) * 1e-9:.3f} s in the future")
            return
        controller = self._controller
        assert controller is not None
        if self._tripped and self._all_streams_back(now):
            self._tripped = False
            if self._stale:  # data had flowed before the silence: start afresh
                self._stale = False
                controller.reset()
                self.get_logger().info("watchdog: every stream is back; network state reset")
            else:
                self.get_logger().info("watchdog: every stream is up")
        self._received = True
        start = time.perf_counter_ns()
        if isinstance(controller, PolicyRuntime):
            outcome = controller.on_event(name, stamp, value, encoding)
            accepted = outcome == EventOutcome.STEPPED
        else:
            controller.on_event(name, stamp, value)
            accepted = True
        if name == self._stepping and accepted and self._active and not self._tripped:
            self._publish(self._command(stamp), stamp)
            self._inference_ns.append(time.perf_counter_ns() - start)

    def _on_control_timer(self) -> None:
        if self._active and not self._tripped and self._controller is not None:
            stamp = self._now()
            start = time.perf_counter_ns()
            self._publish(self._command(stamp), stamp)
            self._inference_ns.append(time.perf_counter_ns() - start)

    def _on_watchdog(self) -> None:
        if not self._active:
            return
        now = self._now()
        silent = [name for name, m in self._monitors.items()
                  if m.timeout_ns and m.silent_for(now, self._activated_at) * 1e9 > m.timeout_ns]
        if silent:
            if not self._tripped:
                self.get_logger().warning(f"watchdog: {silent} silent; publishing the safe command")
                self._stale = self._received
            self._tripped = True
            self._publish(self._safe(), now)

    def _all_streams_back(self, now: int) -> bool:
        return all(not m.timeout_ns or m.silent_for(now, self._activated_at) * 1e9 <= m.timeout_ns
                   for m in self._monitors.values())

    def _reject(self, monitor: _StreamMonitor, reason: str) -> None:
        monitor.rejected += 1
        self._last_rejection = reason
        now = time.monotonic_ns()
        if now >= self._next_warning_ns:  # at most one a second (rclpy's own throttle costs ~0.3 ms
            self._next_warning_ns = now + 1_000_000_000  # a call even when it drops the message)
            self.get_logger().warning(f"{reason} ({monitor.rejected} rejected so far)")

    # -- output ----------------------------------------------------------------------------------
    def _safe(self) -> list[float]:
        mode = self.deployment.safe_command
        if mode == "hold" and self._last_command is not None:
            return self._last_command
        if mode == "zeros":
            return np.clip(np.zeros_like(self._low), self._low, self._high).tolist()
        return np.asarray(self.config.actions.safe_command, dtype=np.float64).tolist()

    def _command(self, stamp: int) -> list[float]:
        """The controller's command for ``stamp``: the runtime's as it is (finite and within
        limits), another controller's checked (a plugin's bug must not reach a robot)."""
        controller = self._controller
        assert controller is not None
        if isinstance(controller, PolicyRuntime):
            return controller.command_values(stamp)
        command = np.asarray(controller.command(stamp), dtype=np.float64)
        if not np.isfinite(command).all():
            command = np.asarray(self.config.actions.safe_command, dtype=np.float64)
        return np.minimum(np.maximum(command, self._low), self._high).tolist()

    def _publish(self, command: list[float], stamp: int) -> None:
        """Publish ``command`` (``(A,)`` Python floats) stamped ``stamp`` (ns)."""
        self._publisher.publish(self._command_writer(command, stamp))
        self._last_command = command
        self._published += 1

    def _on_diagnostics(self) -> None:
        now = self._now()
        period = self.deployment.diagnostics_period_s
        inference = np.asarray(self._inference_ns or [0]) / 1e3
        self._inference_ns = []
        runtime = self._controller if isinstance(self._controller, PolicyRuntime) else None
        stats = vars(runtime.stats) if runtime is not None else {}
        level = DiagnosticStatus.WARN if self._tripped else DiagnosticStatus.OK
        summary = {
            "state": "active" if self._active else "inactive",
            "engine": self.deployment.engine,
            "watchdog": "tripped" if self._tripped else "ok",
            "commands_published": self._published,
            "inference_us_mean": f"{inference.mean():.1f}",
            "inference_us_max": f"{inference.max():.1f}",
            **{k: v for k, v in stats.items() if k != "events"},
        }
        statuses = [self._status(level, "controller", "watchdog tripped" if self._tripped
                                 else summary["state"], summary)]
        for name, monitor in self._monitors.items():
            silent = monitor.silent_for(now, self._activated_at)
            values = {"topic": self.deployment.streams[name].topic,
                      "rate_hz": f"{monitor.window / period:.1f}", "age_s": f"{silent:.3f}",
                      "received": monitor.received, "rejected": monitor.rejected,
                      "accepted_by_runtime": stats.get("events", {}).get(name, "-")}
            monitor.window = 0
            stream_level = (DiagnosticStatus.WARN if monitor.timeout_ns and silent * 1e9 > monitor.timeout_ns
                            else DiagnosticStatus.OK)
            statuses.append(self._status(stream_level, f"stream {name}", "", values))
        array = DiagnosticArray(status=statuses)
        array.header.stamp = self.get_clock().now().to_msg()
        self._diagnostics.publish(array)

    def _status(self, level: bytes, part: str, message: str, values: dict[str, Any]) -> DiagnosticStatus:
        return DiagnosticStatus(
            level=level, name=f"{self.get_name()}: {part}", message=message,
            hardware_id=self.get_name(),
            values=[KeyValue(key=str(k), value=str(v)) for k, v in values.items()],
        )

    def stop(self) -> None:
        """Publish the safe command if commanding (the process is stopping), then go inactive.

        Waits (up to 0.5 s) until reliable subscribers have acknowledged it: the process may
        exit right after, and a writer destroyed before delivery loses its last sample."""
        if self._active:
            self._publish(self._safe(), self._now())
            self._publisher.wait_for_all_acked(Duration(seconds=0.5))
        self._active = False

    def _now(self) -> int:
        """The node's clock, ns: simulated time under ``use_sim_time`` (read at configure), else
        the system clock read directly (the same value without building an rclpy ``Time``)."""
        return self.get_clock().now().nanoseconds if self._sim_time else time.time_ns()


def main(args: Optional[list[str]] = None) -> None:
    """Entry point of ``ros2 run lnn_control policy_node``: on SIGINT or SIGTERM it publishes
    the safe command (if it was commanding) before it exits."""
    run_node("policy_node", PolicyNode, args, finish=lambda node: node.stop() if rclpy.ok() else None)


if __name__ == "__main__":
    main()
