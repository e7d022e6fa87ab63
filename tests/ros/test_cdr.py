"""The IMU read from its serialized bytes equals the message: against rclpy's serializer (what
DDS delivers to the node) and rosbags' (big-endian too), for every frame id length (each moves
the doubles' alignment)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from rclpy.serialization import serialize_message
from rosbags.typesys import Stores, get_typestore
from sensor_msgs.msg import Imu

from lnn_control.errors import ShapeError
from lnn_control.ros.cdr import imu_reader

ROSBAGS = get_typestore(Stores.ROS2_JAZZY)


def imu(frame_id: str, values: list[float], stamp: int) -> Imu:
    message = Imu()
    message.header.frame_id = frame_id
    message.header.stamp.sec, message.header.stamp.nanosec = divmod(stamp, 1_000_000_000)
    message.orientation.w = 1.0
    message.orientation_covariance[0] = message.linear_acceleration_covariance[8] = -1.0
    (message.angular_velocity.x, message.angular_velocity.y, message.angular_velocity.z,
     message.linear_acceleration.x, message.linear_acceleration.y, message.linear_acceleration.z) = values
    return message


def same(read: list[float], values: list[float]) -> bool:
    return all((math.isnan(a) and math.isnan(b)) or a == b for a, b in zip(read, values, strict=True))


@pytest.mark.parametrize("frame_id", ["", "a", "imu", "imu_link", "base_link_imu0", "x" * 31])
def test_rclpy_serialized_imu(frame_id: str) -> None:
    rng = np.random.default_rng(len(frame_id))
    for stamp in (0, 1_796_563_411_683_149_883, 5_000_000_001):
        values = rng.normal(scale=10.0, size=6).tolist()
        values[len(frame_id) % 6] = [math.nan, math.inf, -0.0][stamp % 3]
        read_stamp, read, encoding = imu_reader()(serialize_message(imu(frame_id, values, stamp)))
        assert read_stamp == stamp and encoding is None and same(read, values)


@pytest.mark.parametrize("little_endian", [True, False])
@pytest.mark.parametrize("frame_id", ["", "imu_link", "abcde"])
def test_rosbags_serialized_imu_either_byte_order(frame_id: str, little_endian: bool) -> None:
    types = ROSBAGS.types
    Time, Header = types["builtin_interfaces/msg/Time"], types["std_msgs/msg/Header"]
    Vector3, Quaternion = types["geometry_msgs/msg/Vector3"], types["geometry_msgs/msg/Quaternion"]
    covariance = np.zeros(9)
    message = types["sensor_msgs/msg/Imu"](
        Header(Time(sec=12, nanosec=345), frame_id), Quaternion(0.0, 0.0, 0.0, 1.0), covariance,
        Vector3(0.1, -0.2, 0.3), covariance, Vector3(0.4, 0.5, 9.81), covariance)
    data = bytes(ROSBAGS.serialize_cdr(message, "sensor_msgs/msg/Imu", little_endian=little_endian))
    stamp, values, _ = imu_reader(accel_scale=2.0)(data)
    assert stamp == 12_000_000_345
    assert values == [0.1, -0.2, 0.3, 0.8, 1.0, 19.62]


def test_bytes_that_are_not_a_whole_imu_are_refused() -> None:
    data = serialize_message(imu("imu_link", [0.0] * 6, 1))
    with pytest.raises(ShapeError, match=r"Imu message of 200 bytes is cut short"):
        imu_reader()(data[:200])
    with pytest.raises(ShapeError, match=r"not plain CDR \(encapsulation 0003\)"):
        imu_reader()(b"\x00\x03" + data[2:])
    with pytest.raises(ShapeError, match="cut short"):
        imu_reader()(data[:10])
