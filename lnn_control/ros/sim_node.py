"""``sim_node``: a registered simulated robot as a ROS 2 node, so the stack runs as on a robot.

Each control period (paced by the wall clock times ``real_time_factor``) it applies the latest
command it received (physical units, converted to the env's action; the env's safe action until
the first one), steps the env, and publishes ``/clock`` (for ``use_sim_time``) and every sensor
message of the step on the standard message types with its modelled stamp, rate, jitter, latency
and dropouts, plus the privileged streams (``ground_truth`` odometry, the goal) it is asked to.
Episodes follow each other on one monotonic clock; each ends with a JSON summary on
``/sim/episode`` (success, final distance). This is the one ROS module that imports the
simulator (the dependency rule of the architecture).

Parameters (a ``sim_node: ros__parameters:`` section): ``env`` (a registered id), ``scenario``,
``seed``, ``episodes`` (stop after that many; 0 never), ``real_time_factor``, ``image_size``,
``frame_id``, ``start_delay_s``, ``wait_for_subscribers``, ``start_timeout_s``,
``streams.<env stream>.{topic, type, qos}`` and ``command.{topic, type,
twist_fields, joint_names}`` (the policy node's ``output`` settings).
"""

from __future__ import annotations

import json
from typing import Any, Optional

import numpy as np
from rclpy.node import Node
from rosgraph_msgs.msg import Clock
from std_msgs.msg import String

from lnn_control.config import config_from_dict
from lnn_control.errors import LnnControlError
from lnn_control.policy.deployment import nest_parameters, without_ros_parameters
from lnn_control.policy.messages.building import ns_to_stamp, stream_message
from lnn_control.policy.messages.commands import CommandMessages
from lnn_control.ros.conversions import fill, message_class, qos_profile
from lnn_control.ros.spinning import run_node
from lnn_control.sim.parameters import SimParameters

__all__ = ["SimNode", "main"]


class SimNode(Node):
    """See the module docstring."""

    def __init__(self, node_name: str = "sim_node", **kwargs: Any) -> None:
        super().__init__(node_name, allow_undeclared_parameters=True,
                         automatically_declare_parameters_from_overrides=True, **kwargs)
        import gymnasium
        from gymnasium.envs.registration import load_env_creator

        import lnn_control.sim.envs  # noqa: F401 - registers the envs

        parameters = {k: p.value for k, p in self.get_parameters_by_prefix("").items()}
        self.parameters: SimParameters = config_from_dict(
            SimParameters, without_ros_parameters(nest_parameters(parameters)), "parameters")
        p = self.parameters
        offered = load_env_creator(gymnasium.spec(p.env).entry_point).STREAMS
        unknown = sorted(set(p.streams) - set(offered))
        if unknown:
            raise LnnControlError(f"{p.env} has no streams {unknown}; it offers {sorted(offered)}")
        observed = [name for name in p.streams if not offered[name].privileged]
        self.env = gymnasium.make(p.env, scenario=p.scenario, image_size=p.image_size,
                                  streams=observed)
        self.robot = self.env.unwrapped
        self.spec = self.robot.action_spec()
        self._stream_publishers = {
            name: self.create_publisher(message_class(topic.type), topic.topic, qos_profile(topic.qos))
            for name, topic in p.streams.items()
        }
        self._clock_publisher = self.create_publisher(Clock, "/clock", 10)
        self._episode_topic = self.create_publisher(String, "/sim/episode", 10)
        self.create_subscription(message_class(p.command.type), p.command.topic, self._on_command, 10)
        self._command: Optional[np.ndarray] = None
        self._offset_ns = 0
        self._episode = 0
        self._return = 0.0
        self._waits = self._subscriber_waits(p.wait_for_subscribers)
        self._created = self.get_clock().now().nanoseconds
        self._timer = self.create_timer(self.robot.control_dt / p.real_time_factor, self._tick,
                                        autostart=False)
        self._starter = self.create_timer(0.05, self._start)

    def _subscriber_waits(self, entries: list[str]) -> list[tuple[Any, str, int]]:
        waits = []
        by_topic = {t.topic: name for name, t in self.parameters.streams.items()}
        for entry in entries:
            topic, _, count = entry.rpartition(":")
            if topic not in by_topic or not count.isdigit():
                raise LnnControlError(f"wait_for_subscribers entry {entry!r} must be "
                                      f"'<published topic>:<count>' with a topic of {sorted(by_topic)}")
            waits.append((self._stream_publishers[by_topic[topic]], topic, int(count)))
        return waits

    def _start(self) -> None:
        """Start the first episode once the delay has passed and the subscribers are there."""
        waited = (self.get_clock().now().nanoseconds - self._created) * 1e-9
        missing = [f"{topic} ({publisher.get_subscription_count()}/{count})"
                   for publisher, topic, count in self._waits
                   if publisher.get_subscription_count() < count]
        if waited < self.parameters.start_delay_s or (missing and waited < self.parameters.start_timeout_s):
            return
        if missing:
            self.get_logger().warning(f"starting without every subscriber: {missing}")
        self._starter.cancel()
        self._start_episode()
        self._timer.reset()

    def _on_command(self, message: Any) -> None:
        command = self.parameters.command
        try:
            _, value = CommandMessages(command.type, joint_names=command.joint_names,
                                       twist_fields=command.twist_fields).read(message)
        except LnnControlError as error:
            self.get_logger().warning(f"command ignored: {error}", throttle_duration_sec=1.0)
            return
        if value.shape != (len(self.spec.names),) or not np.isfinite(value).all():
            self.get_logger().warning(f"command ignored: {value} is not {len(self.spec.names)} "
                                      "finite numbers", throttle_duration_sec=1.0)
            return
        self._command = value

    def _start_episode(self) -> None:
        _, info = self.env.reset(seed=self.parameters.seed + self._episode)
        self._return = 0.0
        self._publish(info)

    def _tick(self) -> None:
        command = self._command if self._command is not None else np.asarray(self.spec.safe_command)
        _, reward, terminated, truncated, info = self.env.step(self.robot.to_action(command))
        self._return += float(reward)
        self._publish(info)
        if terminated or truncated:
            self._finish_episode(info, terminated)

    def _finish_episode(self, info: dict[str, Any], terminated: bool) -> None:
        moved, goal = self.robot.task_positions()
        summary = {"episode": self._episode, "success": bool(info.get("is_success", False)),
                   "terminated": bool(terminated),
                   "final_distance_m": float(np.linalg.norm(moved - goal)),
                   "return": self._return, "end_stamp_ns": self._offset_ns + self.robot.now_ns}
        self._episode_topic.publish(String(data=json.dumps(summary)))
        self.get_logger().info(f"episode {self._episode}: {summary}")
        self._episode += 1
        self._offset_ns += self.robot.now_ns + round(self.robot.control_dt * 1e9)
        if self.parameters.episodes and self._episode >= self.parameters.episodes:
            self._timer.cancel()
            return
        self._start_episode()

    def _publish(self, info: dict[str, Any]) -> None:
        self._clock_publisher.publish(fill(Clock(), {"clock": ns_to_stamp(self._offset_ns + self.robot.now_ns)}))
        for event in (*info["sensor_events"], *info["privileged_events"]):
            topic = self.parameters.streams.get(event.stream)
            if topic is None:
                continue
            kind = self.robot.STREAMS[event.stream].kind
            data = stream_message(kind, topic.type, event.value, self._offset_ns + event.stamp_ns,
                                  self.parameters.frame_id, topic.joint_names)
            self._stream_publishers[event.stream].publish(fill(message_class(topic.type)(), data))


def main(args: Optional[list[str]] = None) -> None:
    """Entry point of ``ros2 run lnn_control sim_node``."""
    run_node("sim_node", SimNode, args)


if __name__ == "__main__":
    main()
