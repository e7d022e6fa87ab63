"""``policy_node``: sensor topics in, actuator commands out, as a ROS 2 lifecycle node.

Lifecycle: ``configure`` loads the controller (a checkpoint through :class:`PolicyRuntime`, or a
controller factory) and creates subscriptions, publishers and timers; ``activate`` starts
commanding from a fresh network state; ``deactivate`` publishes the safe command once and stops;
``cleanup`` releases everything. ``autostart: true`` configures and activates at start-up.
Commands go out on a lifecycle publisher (enabled while active; serialized bytes, as before, at
~0.3 us more a call for its activation check); ``/diagnostics`` on a plain one, so that an
inactive node still reports.

Parameters (:mod:`lnn_control.ros.policy_parameters`): each declared with a descriptor, those
not given holding their defaults; one given that the node cannot take (an unknown name, a wrong
type, out of range) fails configure, naming it; a change while configured is refused.

Each message is converted by :func:`lnn_control.policy.messages.sensors.stream_reader` (an IMU is read
from its serialized bytes: :mod:`lnn_control.ros.cdr`) and handed to the controller with its
``header.stamp`` (the node's clock stamps messages without a header; with ``use_sim_time`` the
node's clock is the simulation's). A command is published after every
accepted message of the stepping stream (or at ``timer_rate_hz`` in timer mode), stamped with the
sensor stamp it was computed from. A message is refused, counted and dropped when it cannot be
read, when its stamp is more than ``max_future_s`` ahead of the node's clock or more than its
stream's ``timeout_s`` behind it (stale data, or a sensor clock that is not synchronised), or
when the runtime rejects it (NaN or Inf, wrong shape or encoding, a duplicate or out-of-order
stamp): the node never crashes on input and never publishes a non-finite command. A message of
the stepping stream that the runtime keeps but cannot step on, because another stream has not
reported yet (a goal never sent, or forgotten after a clock jump), is counted the same way and
says which stream the network waits for.

Watchdog: proof of life is a *valid* message, one the runtime accepted (and, of the stepping
stream, stepped on: the network commands). A stream with
``timeout_s > 0`` that has delivered none for longer than that trips the watchdog, whether it
went silent or its messages are all refused (checked every command period:
``control.nominal_dt_s``, or the timer's period): the node then publishes the safe command every
command period, and ``/diagnostics`` reports
at once, at WARN (ERROR once the stream has been without valid data for ``watchdog_error_s``),
naming each such stream and why its messages were refused. When every watched stream has valid
data again the network restarts from zero state (:meth:`PolicyRuntime.restart`: the values held
are kept, so the next message of the stepping stream is commanded at once). ``/diagnostics``
also carries each stream's rate, age and refusals, the inference time, the runtime's counters and
the longest interval between two watchdog checks (``watchdog_gap_ms_max``: well beyond the command
period, the node's thread was held up, and neither commands nor safe commands went out).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import rclpy
import torch
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import SetParametersResult
from rclpy.duration import Duration
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.subscription import Subscription
from rclpy.timer import Timer

from lnn_control.errors import ConfigError, LnnControlError
from lnn_control.policy.config import PolicyConfig
from lnn_control.policy.deployment import Deployment, deployment_from_parameters, load_controller
from lnn_control.policy.events import EventOutcome, Runtime
from lnn_control.policy.gravity_check import GravityCheck
from lnn_control.policy.messages.sensors import stream_reader
from lnn_control.ros.cdr import imu_reader
from lnn_control.ros.conversions import CommandWriter, message_class, qos_profile
from lnn_control.ros.policy_parameters import declare_parameters, is_ros_own
from lnn_control.ros.spinning import run_node

__all__ = ["PolicyNode", "main"]

SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE


@dataclass
class _StreamMonitor:
    """Proof of life of one stream (node clock, nanoseconds): valid messages count, refused
    ones only say why."""

    timeout_ns: int
    received: int = 0
    #: messages refused (by the node or the runtime), in all and since the last valid one
    rejected: int = 0
    refused_in_a_row: int = 0
    #: why the latest message was refused
    last_refusal: str = ""
    #: arrival of the last valid message
    last_valid: Optional[int] = None
    window: int = 0  # messages since the last diagnostics

    def silent_for(self, now: int, since: int) -> float:
        """Seconds without a valid message (since ``since`` if none came)."""
        return (now - (self.last_valid if self.last_valid is not None else since)) * 1e-9

    def fault(self, now: int, since: int) -> str:
        """Why the stream is without valid data, for the logs and ``/diagnostics``."""
        silent = f"no valid message for {self.silent_for(now, since):.3f} s"
        if self.refused_in_a_row:
            return f"{silent}: {self.refused_in_a_row} refused, the last: {self.last_refusal}"
        return f"{silent}: silent"


class PolicyNode(LifecycleNode):
    """See the module docstring. Parameters: :class:`~lnn_control.policy.deployment.Deployment`.

    :param node_name: the node's name (its parameter file section).
    """

    def __init__(self, node_name: str = "policy_node", **kwargs: Any) -> None:
        super().__init__(node_name, automatically_declare_parameters_from_overrides=True, **kwargs)
        #: why each parameter given that the node cannot take was refused: configure fails with it
        self._refused_parameters = declare_parameters(self)
        for refusal in self._refused_parameters:
            self.get_logger().error(refusal)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._active = False
        self._sim_time = True  # until configured: the node's clock, whichever it is
        self._controller: Optional[Runtime] = None
        #: made at configure, destroyed at cleanup
        self._stream_subscriptions: list[Subscription] = []
        self._periodic_timers: list[Timer] = []
        self._configure_error = ""
        if self.get_parameter("autostart").value:
            # a node that cannot start does nothing: say so and exit (status 2, see run_node)
            # rather than wait unconfigured where a launch would never learn of it
            if self.trigger_configure() != SUCCESS:
                raise LnnControlError(f"autostart: cannot configure: {self._configure_error}")
            if self.trigger_activate() != SUCCESS:
                raise LnnControlError("autostart: cannot activate")

    # -- lifecycle -------------------------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            if self._refused_parameters:
                raise ConfigError("; ".join(self._refused_parameters)
                                  + " (correct the parameter file or -p, and restart the node)")
            parameters = {k: p.value for k, p in self.get_parameters_by_prefix("").items()}
            self.deployment: Deployment = deployment_from_parameters(parameters)
            torch.set_num_threads(self.deployment.torch_threads)
            controller, config = load_controller(self.deployment)
            self.deployment.check(config)
        except LnnControlError as error:
            self._configure_error = str(error)
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
        self._tripped = False
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

    def _on_set_parameters(self, parameters: list[Parameter]) -> SetParametersResult:
        """Refuse a change of the node's parameters while it is configured: they are read at
        configure, and a change accepted now would not be honoured (ROS's own are ROS's)."""
        taken = [p.name for p in parameters if not is_ros_own(p.name)]
        if taken and self._controller is not None:
            return SetParametersResult(successful=False, reason=(
                f"{', '.join(taken)}: read at configure; clean up the node (deactivated first if active), "
                f"set the parameter, then configure it again"))
        return SetParametersResult(successful=True)

    def _set_up(self, config: PolicyConfig) -> None:
        deployment = self.deployment
        self._sim_time = bool(self.get_parameter("use_sim_time").value)
        self._specs = {spec.name: spec for spec in config.streams}
        #: the stream whose messages step the network (None in timer mode)
        self._stepping = config.control.stream if config.control.mode == "stream" else None
        self._monitors = {
            name: _StreamMonitor(int(topic.timeout_s * 1e9))
            for name, topic in deployment.streams.items()
        }
        #: each stream's message -> (stamp or None, value, encoding), sizes and joints bound
        #: IMU streams arrive serialized and are read from their bytes (see lnn_control.ros.cdr)
        raw = {name for name, topic in deployment.streams.items()
               if self._specs[name].kind == "imu" and topic.type == "sensor_msgs/msg/Imu"}
        self._readers = {
            name: imu_reader(topic.scale) if name in raw else
            stream_reader(self._specs[name].kind, topic.type, topic.joint_names,
                          self._specs[name].value_shape[:2] if self._specs[name].kind == "image" else None,
                          accel_scale=topic.scale)
            for name, topic in deployment.streams.items()
        }
        #: IMU streams whose units are still being checked (see GravityCheck)
        self._gravity = {name: GravityCheck(name, topic.scale)
                         for name, topic in deployment.streams.items() if self._specs[name].kind == "imu"}
        self._max_future_ns = deployment.max_future_s * 1e9
        self._low = np.asarray(config.actions.low, dtype=np.float64)
        self._high = np.asarray(config.actions.high, dtype=np.float64)
        self._last_command: Optional[list[float]] = None
        self._published = 0
        self._next_warning_ns = 0  # time.monotonic_ns() before which rejections are not logged
        self._inference_ns: list[int] = []
        #: the last watchdog check (time.perf_counter_ns) and the longest interval between two in
        #: the diagnostics period: beyond the command period, the node's thread was held up
        self._watchdog_at: Optional[int] = None
        self._watchdog_gap_ns = 0
        self._window_start = self._now()  # of the diagnostics' rates and inference times
        #: the watchdog tripped: the safe command goes out every command period
        self._tripped = False
        self._activated_at = self._now()
        output = deployment.output
        self._command_writer = CommandWriter(output.type, config.actions.names, output.frame_id,
                                             output.joint_names, output.twist_fields)
        #: commands: a lifecycle publisher, enabled while the node is active (the node publishes
        #: only then, and the safe command on deactivate before it is disabled)
        self._publisher = self.create_lifecycle_publisher(self._command_writer.message_class, output.topic, 10)
        #: /diagnostics: a plain publisher, so that a configured, inactive node still reports
        self._diagnostics = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._stream_subscriptions = [
            self.create_subscription(
                message_class(topic.type), topic.topic, lambda msg, name=name: self._on_message(name, msg),
                qos_profile(topic.qos, topic.depth), raw=name in raw)
            for name, topic in deployment.streams.items()]
        rate = deployment.timer_rate_hz or 1.0 / config.control.nominal_dt_s
        #: the command period (s): how often commands go out, the safe one included
        self.command_period = 1.0 / rate
        self._periodic_timers = []
        if any(t.timeout_s > 0 for t in deployment.streams.values()):
            self._periodic_timers.append(self.create_timer(self.command_period, self._on_watchdog))
        self._periodic_timers.append(self.create_timer(deployment.diagnostics_period_s, self._report))
        if config.control.mode == "timer":
            self._periodic_timers.append(self.create_timer(self.command_period, self._on_control_timer))

    def _tear_down(self) -> None:
        """Destroy what :meth:`_set_up` made (nothing if the node is not configured)."""
        if self._controller is None:
            return
        for subscription in self._stream_subscriptions:
            self.destroy_subscription(subscription)
        for timer in self._periodic_timers:
            self.destroy_timer(timer)
        self._stream_subscriptions, self._periodic_timers = [], []
        self.destroy_lifecycle_publisher(self._publisher)
        self.destroy_publisher(self._diagnostics)
        self._controller = None

    # -- data ------------------------------------------------------------------------------------
    def _on_message(self, name: str, msg: Any) -> None:
        now = self._now()
        monitor = self._monitors[name]
        monitor.received += 1
        monitor.window += 1
        try:
            stamp, value, encoding = self._readers[name](msg)
        except LnnControlError as error:
            self._refuse(monitor, name, str(error))
            return
        if stamp is None:
            stamp = now
        elif stamp > now + self._max_future_ns:
            self._refuse(monitor, name, f"stamp {(stamp - now) * 1e-9:.3f} s ahead of the node's clock "
                         f"(max_future_s {self.deployment.max_future_s}): is the sensor's clock synchronised?")
            return
        elif monitor.timeout_ns and stamp < now - monitor.timeout_ns:
            self._refuse(monitor, name, f"stamp {(now - stamp) * 1e-9:.3f} s behind the node's clock, older "
                         f"than the stream's timeout_s: stale data, or the sensor's clock is not synchronised")
            return
        controller = self._controller
        assert controller is not None
        if self._tripped and self._all_streams_back(now, name):
            controller.restart()  # before the event: if it is valid, the network starts afresh with it
        start = time.perf_counter_ns()
        result = controller.on_event(name, stamp, value, encoding)
        if not result.accepted:  # a valid message is proof of life; a refused one says why
            self._refuse(monitor, name, result.reason)
            return
        if result.outcome is EventOutcome.WAITING and name == self._stepping:
            # stored, but the network cannot step on it: no proof of life either
            self._refuse(monitor, name, self._waiting(controller.waiting_for))
            return
        monitor.last_valid, monitor.refused_in_a_row = now, 0
        if self._gravity:
            self._check_units(name, value)
        if self._tripped and self._all_streams_back(now):
            self._tripped = False
            self.get_logger().info("watchdog: every stream has valid data; the network restarts")
            self._report(periodic=False)
        if result.stepped and self._active and not self._tripped:
            self._publish(self._command(stamp), stamp)
            self._inference_ns.append(time.perf_counter_ns() - start)

    def _on_control_timer(self) -> None:
        if self._active and not self._tripped and self._controller is not None:
            stamp = self._now()
            start = time.perf_counter_ns()
            self._publish(self._command(stamp), stamp)
            self._inference_ns.append(time.perf_counter_ns() - start)

    def _on_watchdog(self) -> None:
        """Every command period: trip on a watched stream without valid data for longer than its
        timeout, and publish the safe command while tripped. (A timer that slept until the first
        stream could become late, its period changed and reset on each call, was measured to
        trip up to 0.6 s late on a loaded machine: rclpy's events executor can miss the reset.)"""
        checked = time.perf_counter_ns()
        if self._watchdog_at is not None:
            self._watchdog_gap_ns = max(self._watchdog_gap_ns, checked - self._watchdog_at)
        self._watchdog_at = checked
        if not self._active:
            return
        now = self._now()
        if self._tripped:
            self._publish(self._safe(), now)
            return
        late = {name: m for name, m in self._monitors.items()
                if m.timeout_ns and m.silent_for(now, self._activated_at) * 1e9 > m.timeout_ns}
        if not late:
            return
        self._tripped = True
        faults = "; ".join(f"{name}: {m.fault(now, self._activated_at)}" for name, m in late.items())
        self.get_logger().warning(f"watchdog: publishing the safe command ({faults})")
        self._publish(self._safe(), now)
        self._report(periodic=False)

    def _all_streams_back(self, now: int, arriving: Optional[str] = None) -> bool:
        """Whether every watched stream has had a valid message within its timeout (the stream
        ``arriving`` counted as if its message now were valid)."""
        return all(not m.timeout_ns or name == arriving
                   or m.silent_for(now, self._activated_at) * 1e9 <= m.timeout_ns
                   for name, m in self._monitors.items())

    def _check_units(self, name: str, value: Any) -> None:
        """Feed a valid IMU value to its stream's gravity check until it has decided."""
        check = self._gravity.get(name)
        if check is None:
            return
        warning = check.observe(value)
        if check.decided:
            del self._gravity[name]
        if warning is not None:
            self.get_logger().warning(warning)

    @staticmethod
    def _waiting(streams: tuple[str, ...]) -> str:
        """Why a stepping message did not step the network: it waits for ``streams``."""
        return (f"the network waits for a first message of {', '.join(streams)} (it steps once every "
                f"stream has reported since the node started or a clock jump made it forget them): "
                f"publish {'it' if len(streams) == 1 else 'them'}, e.g. a goal sent once must be sent again")

    def _refuse(self, monitor: _StreamMonitor, name: str, reason: str) -> None:
        monitor.rejected += 1
        monitor.refused_in_a_row += 1
        monitor.last_refusal = reason
        now = time.monotonic_ns()
        if now >= self._next_warning_ns:  # at most one a second (rclpy's own throttle costs ~0.3 ms
            self._next_warning_ns = now + 1_000_000_000  # a call even when it drops the message)
            self.get_logger().warning(f"{name}: {reason} ({monitor.rejected} refused so far)")

    # -- output ----------------------------------------------------------------------------------
    def _safe(self) -> list[float]:
        mode = self.deployment.safe_command
        if mode == "hold" and self._last_command is not None:
            return self._last_command
        if mode == "zeros":
            return np.clip(np.zeros_like(self._low), self._low, self._high).tolist()
        return np.asarray(self.config.actions.safe_command, dtype=np.float64).tolist()

    def _command(self, stamp: int) -> list[float]:
        """The controller's command for ``stamp`` (finite and within limits: a runtime's by
        construction, a factory's controller checked by its GuardedController)."""
        controller = self._controller
        assert controller is not None
        return controller.command_values(stamp)

    def _publish(self, command: list[float], stamp: int) -> None:
        """Publish ``command`` (``(A,)`` Python floats) stamped ``stamp`` (ns)."""
        self._publisher.publish(self._command_writer(command, stamp))
        self._last_command = command
        self._published += 1

    def _report(self, periodic: bool = True) -> None:
        """Publish ``/diagnostics``: every ``diagnostics_period_s`` (``periodic``: the rates and
        inference times cover the period, then start afresh), and at once when the watchdog
        trips or recovers (over the period so far)."""
        now = self._now()
        period = max((now - self._window_start) * 1e-9, 1e-9)
        inference = np.asarray(self._inference_ns or [0]) / 1e3
        watchdog_gap_ms = self._watchdog_gap_ns / 1e6
        if periodic:
            self._inference_ns, self._window_start, self._watchdog_gap_ns = [], now, 0
        stats = vars(self._controller.stats) if self._controller is not None else {}
        levels = {name: self._level(monitor, now) for name, monitor in self._monitors.items()}
        level = max(levels.values(), default=DiagnosticStatus.OK)
        faults = {name: self._monitors[name].fault(now, self._activated_at)
                  for name, stream_level in levels.items() if stream_level != DiagnosticStatus.OK}
        summary = {
            "state": "active" if self._active else "inactive",
            "engine": self.deployment.engine,
            "watchdog": "tripped" if self._tripped else "ok",
            "commands_published": self._published,
            "inference_us_mean": f"{inference.mean():.1f}",
            "inference_us_max": f"{inference.max():.1f}",
            "watchdog_gap_ms_max": f"{watchdog_gap_ms:.1f}",
            **{k: v for k, v in stats.items() if k != "events"},
        }
        message = ("watchdog tripped: " + "; ".join(f"{name}: {fault}" for name, fault in faults.items())
                   if self._tripped else summary["state"])
        statuses = [self._status(level, "controller", message, summary)]
        for name, monitor in self._monitors.items():
            values = {"topic": self.deployment.streams[name].topic,
                      "rate_hz": f"{monitor.window / period:.1f}",
                      "age_s": f"{monitor.silent_for(now, self._activated_at):.3f}",
                      "received": monitor.received, "rejected": monitor.rejected,
                      "last_rejection": monitor.last_refusal,
                      "accepted_by_runtime": stats.get("events", {}).get(name, "-")}
            if periodic:
                monitor.window = 0
            statuses.append(self._status(levels[name], f"stream {name}", faults.get(name, ""), values))
        array = DiagnosticArray(status=statuses)
        array.header.stamp = self.get_clock().now().to_msg()
        self._diagnostics.publish(array)

    def _level(self, monitor: _StreamMonitor, now: int) -> bytes:
        """OK; WARN without a valid message for longer than the stream's timeout; ERROR for
        longer than ``watchdog_error_s``."""
        silent_ns = monitor.silent_for(now, self._activated_at) * 1e9
        if not monitor.timeout_ns or silent_ns <= monitor.timeout_ns:
            return DiagnosticStatus.OK
        return DiagnosticStatus.ERROR if silent_ns > self.deployment.watchdog_error_s * 1e9 else DiagnosticStatus.WARN

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
