"""Processes of ``lnn-control bench ros``: an IMU publisher, a command receiver, a bare relay.

Each runs in its own process (``python -m lnn_control.bench.ros_probe MODE ...``) so that no two
share a Python interpreter lock, and all use the same clock (``time.time_ns``), so the latency
of a command is its arrival time minus the stamp of the IMU message it was computed from.

- ``publish RATE COUNT BLOCK OUT.json TOPIC...``: IMU messages (sensor-data QoS) stamped with the
  send time, paced by sleeping to each deadline, on the first topic for ``BLOCK`` messages, then
  the next, and round again; writes ``[stamp, topic index]`` of each message sent;
- ``receive OUT.json``: records (stamp, arrival) of every command (reliable, deep queue, so the
  probe itself drops nothing) until SIGINT, then writes them;
- ``relay IMU_TOPIC``: the reference node: republishes each IMU's stamp as a command, nothing
  else, on the policy node's executor (:func:`lnn_control.ros.spinning.spin`).
"""

from __future__ import annotations

import json
import signal
import sys
import time
from typing import Any

import rclpy
from geometry_msgs.msg import TwistStamped
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import Imu

from lnn_control.ros.spinning import spin

COMMAND_TOPIC = "/lnn_control/command"


def _spin(node: Any, seconds: float | None = None) -> None:
    """Spin until SIGINT (or ``seconds``)."""
    from rclpy.executors import SingleThreadedExecutor

    executor = SingleThreadedExecutor()
    executor.add_node(node)
    stop = {"now": False}
    signal.signal(signal.SIGINT, lambda *_: stop.update(now=True))
    end = None if seconds is None else time.monotonic() + seconds
    while not stop["now"] and (end is None or time.monotonic() < end):
        executor.spin_once(timeout_sec=0.05)


def publish(rate: float, count: int, block: int, out: str, topics: list[str]) -> None:
    node = rclpy.create_node("bench_imu_publisher")
    publishers = [node.create_publisher(Imu, topic, qos_profile_sensor_data) for topic in topics]
    start = time.monotonic()
    while any(node.count_subscribers(t) == 0 for t in topics) and time.monotonic() - start < 30:
        time.sleep(0.05)
    time.sleep(1.0)  # let discovery settle on both sides
    message = Imu()
    message.linear_acceleration.z = 9.81
    sent = []
    period, deadline = 1.0 / rate, time.monotonic()
    for index in range(count):
        deadline += period
        pause = deadline - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        which = index // block % len(publishers)
        stamp = time.time_ns()
        message.header.stamp.sec, message.header.stamp.nanosec = divmod(stamp, 10**9)
        publishers[which].publish(message)
        sent.append((stamp, which))
    time.sleep(0.5)
    with open(out, "w") as stream:
        json.dump(sent, stream)


def receive(out: str) -> None:
    node = rclpy.create_node("bench_command_receiver")
    arrivals: list[tuple[int, int]] = []

    def record(message: TwistStamped) -> None:
        stamp = message.header.stamp.sec * 10**9 + message.header.stamp.nanosec
        arrivals.append((stamp, time.time_ns()))

    qos = QoSProfile(depth=10_000, reliability=ReliabilityPolicy.RELIABLE)
    node.create_subscription(TwistStamped, COMMAND_TOPIC, record, qos)
    _spin(node)
    with open(out, "w") as stream:
        json.dump(arrivals, stream)


def relay(imu_topic: str) -> None:
    node = rclpy.create_node("bench_relay")
    publisher = node.create_publisher(TwistStamped, COMMAND_TOPIC, 10)

    def forward(message: Imu) -> None:
        command = TwistStamped()
        command.header.stamp = message.header.stamp
        publisher.publish(command)

    node.create_subscription(Imu, imu_topic, forward, qos_profile_sensor_data)
    spin(node)


if __name__ == "__main__":
    rclpy.init(args=None)
    mode, arguments = sys.argv[1], sys.argv[2:]
    if mode == "publish":
        publish(float(arguments[0]), int(arguments[1]), int(arguments[2]), arguments[3], arguments[4:])
    elif mode == "receive":
        receive(arguments[0])
    else:
        relay(arguments[0])
    rclpy.try_shutdown()
