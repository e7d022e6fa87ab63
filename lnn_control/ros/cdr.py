"""``sensor_msgs/Imu`` read straight from its CDR serialization: the policy node's IMU path.

A raw subscription (``create_subscription(..., raw=True)``) hands the node the message's bytes
as DDS delivered them. Turning them into an rclpy ``Imu`` object builds a header, two vectors, a
quaternion and three covariance arrays: 21 us per message on this machine, several times that
on a core that has just woken, and at 1 kHz the largest single cost of the node. The six values
the policy reads sit at offsets fixed by the frame id's length, so :func:`imu_reader` unpacks
them with :mod:`struct` (under 1 us). The layout is ROS 2's (plain CDR, XCDR1): a 4-byte
encapsulation header saying the byte order, then the fields, each aligned to its size counted
from the end of that header. Tests compare it against rclpy's and rosbags' own serializers.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Optional

from lnn_control.errors import ShapeError

__all__ = ["imu_reader"]

#: encapsulation identifiers (first two bytes): plain CDR, big- or little-endian
_BYTE_ORDER = {b"\x00\x00": ">", b"\x00\x01": "<"}
#: doubles from the orientation's start to angular_velocity, and from there to
#: linear_acceleration (orientation 4 + its covariance 9; angular velocity 3 + its covariance 9)
_TO_ANGULAR, _TO_LINEAR = 13 * 8, 12 * 8
#: the message's doubles after the frame id: orientation, angular velocity and linear
#: acceleration, each with its covariance
_DOUBLES = (4 + 9 + 3 + 9 + 3 + 9) * 8


def imu_reader(accel_scale: float = 1.0) -> Callable[[bytes], tuple[int, list[float], Optional[str]]]:
    """A reader of serialized ``sensor_msgs/Imu``: ``bytes -> (stamp_ns, values, None)``, the
    values ``(6,)`` angular velocity (rad/s) then linear acceleration times ``accel_scale``
    (m/s^2), as :func:`lnn_control.policy.messages.sensors.stream_reader` gives for an imu stream.

    :raises ShapeError: the bytes are not a whole ``Imu`` in plain CDR.
    """

    def read(data: bytes) -> tuple[int, list[float], Optional[str]]:
        order = _BYTE_ORDER.get(data[:2])
        if order is None:
            raise ShapeError(f"Imu message is not plain CDR (encapsulation {data[:2].hex()})")
        try:
            sec, nanosec, length = struct.unpack_from(order + "iII", data, 4)
            start = 16 + length
            start += -(start - 4) % 8  # the orientation's doubles align to 8 in the body
            if len(data) < start + _DOUBLES:
                raise struct.error("too short")
            wx, wy, wz = struct.unpack_from(order + "3d", data, start + _TO_ANGULAR)
            ax, ay, az = struct.unpack_from(order + "3d", data, start + _TO_ANGULAR + _TO_LINEAR)
        except struct.error:
            raise ShapeError(f"Imu message of {len(data)} bytes is cut short") from None
        if accel_scale != 1.0:
            ax, ay, az = ax * accel_scale, ay * accel_scale, az * accel_scale
        return sec * 1_000_000_000 + nanosec, [wx, wy, wz, ax, ay, az], None

    return read
