"""Processes of ``lnn-control bench ros``: an IMU publisher, a command receiver, a bare relay.

Each runs in its own process (``python -m lnn_control.bench.ros_probe MODE ...``) so that no two
share a Python interpreter lock, and all use the same clock (``time.time_ns``), so the latency
of a command is its arrival time minus the stamp of the IMU message it was computed from.

- ``publish RATE COUNT BLOCK OUT.json TOPIC...``: IMU messages (sensor-data QoS) stamped with the
  send time, paced by sleeping to each deadline, on the first topic for ``BLOCK`` messages, then
  the next, and round again, after ``WARMUP_S`` of unrecorded ones to the topics in turn; writes
  ``[stamp, topic index]`` of each message sent;
- ``sensors IMU_RATE CAMERA_RATE SECONDS OUT.json IMU_TOPIC CAMERA_TOPIC``: a 64x64 rgb8 camera
  (``sensor_msgs/Image``) and an IMU, both sensor-data QoS, each stamped with its send time and
  paced to its own rate; writes the IMU stamps sent and the monotonic time (s) of the first and
  last message (the window a CPU measurement covers);
- ``receive OUT.json [COMMAND_TOPIC]``: records (stamp, arrival) of every command (reliable, deep
  queue, so the probe itself drops nothing) and the policy node's latest runtime counters from
  ``/diagnostics`` until SIGINT, then writes them;
- ``relay IMU_TOPIC [COMMAND_TOPIC] [CAMERA_TOPIC]``: the reference node: republishes each IMU's
  stamp as a command, nothing else (with a camera topic it also takes every camera frame and
  keeps its pixels as a numpy array, as a minimal camera consumer), on the policy node's executor
  (:func:`lnn_control.ros.spinning.spin`).
"""

from __future__ import annotations

import json
import random
import signal
import sys
import time
from typing import Any

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import TwistStamped
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import Image, Imu

from lnn_control.policy.deployment import StreamTopic
from lnn_control.ros.conversions import qos_profile
from lnn_control.ros.spinning import spin

COMMAND_TOPIC = "/lnn_control/command"
#: seconds of IMU messages to each topic before the measured ones, in turn, not recorded: the
#: first messages after start-up and discovery (the receiver's match, a node's first steps) are
#: not what a running robot sees
WARMUP_S = 0.5


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
    warmup = int(WARMUP_S * rate) * len(publishers)  # unrecorded: start-up costs stay out
    for index in range(-warmup, count):
        deadline += period
        pause = deadline - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        which = index // block % len(publishers) if index >= 0 else index % len(publishers)
        stamp = time.time_ns()
        message.header.stamp.sec, message.header.stamp.nanosec = divmod(stamp, 10**9)
        publishers[which].publish(message)
        if index >= 0:
            sent.append((stamp, which))
    time.sleep(0.5)
    with open(out, "w") as stream:
        json.dump(sent, stream)


def sensors(imu_rate: float, camera_rate: float, seconds: float, out: str, imu_topic: str,
            camera_topic: str) -> None:
    node = rclpy.create_node("bench_sensor_publisher")
    imu_publisher = node.create_publisher(Imu, imu_topic, qos_profile_sensor_data)
    camera_publisher = node.create_publisher(Image, camera_topic, qos_profile_sensor_data)
    start = time.monotonic()
    while (node.count_subscribers(imu_topic) == 0 or node.count_subscribers(camera_topic) == 0) \
            and time.monotonic() - start < 30:
        time.sleep(0.05)
    time.sleep(1.0)  # let discovery settle on both sides
    imu = Imu()
    imu.linear_acceleration.z = 9.81
    frame = Image(height=64, width=64, encoding="rgb8", step=192,
                  data=bytes(random.Random(0).randrange(256) for _ in range(64 * 192)))
    sent: list[int] = []
    begin = time.monotonic()
    next_imu = next_frame = begin
    while next_imu < begin + seconds:
        deadline = min(next_imu, next_frame)
        pause = deadline - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        stamp = time.time_ns()
        if next_frame <= next_imu:
            frame.header.stamp.sec, frame.header.stamp.nanosec = divmod(stamp, 10**9)
            camera_publisher.publish(frame)
            next_frame += 1.0 / camera_rate
        else:
            imu.header.stamp.sec, imu.header.stamp.nanosec = divmod(stamp, 10**9)
            imu_publisher.publish(imu)
            sent.append(stamp)
            next_imu += 1.0 / imu_rate
    end = time.monotonic()
    time.sleep(0.5)
    with open(out, "w") as stream:
        json.dump({"imu_stamps": sent, "window": [begin, end]}, stream)


def receive(out: str, command_topic: str = COMMAND_TOPIC) -> None:
    node = rclpy.create_node("bench_command_receiver")
    arrivals: list[tuple[int, int]] = []
    counters: dict[str, str] = {}

    def record(message: TwistStamped) -> None:
        stamp = message.header.stamp.sec * 10**9 + message.header.stamp.nanosec
        arrivals.append((stamp, time.time_ns()))

    def keep_counters(message: DiagnosticArray) -> None:
        for status in message.status:
            if status.name.endswith(": controller"):
                counters.update({kv.key: kv.value for kv in status.values})

    qos = QoSProfile(depth=10_000, reliability=ReliabilityPolicy.RELIABLE)
    node.create_subscription(TwistStamped, command_topic, record, qos)
    node.create_subscription(DiagnosticArray, "/diagnostics", keep_counters, 10)
    _spin(node)
    with open(out, "w") as stream:
        json.dump({"arrivals": arrivals, "counters": counters}, stream)


def relay(imu_topic: str, command_topic: str = COMMAND_TOPIC, camera_topic: str = "") -> None:
    node = rclpy.create_node("bench_relay")
    publisher = node.create_publisher(TwistStamped, command_topic, 10)
    frames: list[np.ndarray] = []

    def forward(message: Imu) -> None:
        command = TwistStamped()
        command.header.stamp = message.header.stamp
        publisher.publish(command)

    def take(message: Image) -> None:
        frames[:] = [np.frombuffer(message.data, dtype=np.uint8).reshape(message.height, message.width, -1)]

    qos = qos_profile("sensor_data", StreamTopic.depth)  # the policy node's queue of 50 messages
    node.create_subscription(Imu, imu_topic, forward, qos)
    if camera_topic:
        node.create_subscription(Image, camera_topic, take, qos)
    spin(node)


if __name__ == "__main__":
    rclpy.init(args=None)
    mode, arguments = sys.argv[1], sys.argv[2:]
    if mode == "publish":
        publish(float(arguments[0]), int(arguments[1]), int(arguments[2]), arguments[3], arguments[4:])
    elif mode == "sensors":
        sensors(float(arguments[0]), float(arguments[1]), float(arguments[2]), *arguments[3:6])
    elif mode == "receive":
        receive(*arguments)
    else:
        relay(*arguments)
    rclpy.try_shutdown()
