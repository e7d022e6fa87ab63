"""Stream values -> messages to send, as nested plain data, without importing ROS: what the
simulator publishes (``sim_node``) and records (``lnn-control sim record``).

Each side turns the nested plain data into its own message class: ``rclpy`` with
:func:`lnn_control.ros.conversions.fill`, ``rosbags`` with
:func:`lnn_control.bags.typed.build_message`. :func:`stream_message` is the inverse of
:func:`lnn_control.policy.messages.sensors.stream_reader`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from lnn_control.errors import ConfigError
from lnn_control.policy.messages.sensors import MESSAGE_TYPES, world_velocity

__all__ = ["ns_to_stamp", "stream_message"]


def ns_to_stamp(ns: int) -> dict[str, int]:
    """Integer nanoseconds as ``{"sec", "nanosec"}``."""
    sec, nanosec = divmod(int(ns), 1_000_000_000)
    return {"sec": sec, "nanosec": nanosec}



def stream_message(
    kind: str,
    msgtype: str,
    value: np.ndarray,
    stamp: int,
    frame_id: str = "",
    joint_names: Sequence[str] = (),
    encoding: str = "rgb8",
) -> dict[str, Any]:
    """A stream value as nested plain data in the fields of ``msgtype`` (inverse of
    :func:`~lnn_control.policy.messages.sensors.stream_value`): what a simulated sensor publishes.

    :param frame_id: the header's frame (odometry: the world frame; its child is ``base_link``).
    :param stamp: the measurement's stamp, nanoseconds.
    """
    if msgtype not in MESSAGE_TYPES.get(kind, ()):
        raise ConfigError(f"a {kind} stream cannot be sent as {msgtype}; use one of {MESSAGE_TYPES.get(kind)}")
    header = {"stamp": ns_to_stamp(stamp), "frame_id": frame_id}
    v = [float(x) for x in np.asarray(value).reshape(-1)] if kind != "image" else []
    if kind == "attitude" and msgtype == "geometry_msgs/msg/QuaternionStamped":
        return {"header": header, "quaternion": _tilt_quaternion(v)}
    if kind == "attitude":  # an Imu with the orientation only (covariances 0: given; -1: not given)
        return {"header": header, "orientation": _tilt_quaternion(v), "orientation_covariance": [0.0] * 9,
                "angular_velocity": _vector([0.0] * 3), "angular_velocity_covariance": [-1.0] + [0.0] * 8,
                "linear_acceleration": _vector([0.0] * 3),
                "linear_acceleration_covariance": [-1.0] + [0.0] * 8}
    if msgtype == "sensor_msgs/msg/Imu":
        return {"header": header,
                "orientation": {"x": 0.0, "y": 0.0, "z": 0.0, "w": 1.0},
                "orientation_covariance": [-1.0] + [0.0] * 8,  # REP 145: no orientation given
                "angular_velocity": _vector(v[0:3]), "angular_velocity_covariance": [0.0] * 9,
                "linear_acceleration": _vector(v[3:6]), "linear_acceleration_covariance": [0.0] * 9}
    if msgtype == "nav_msgs/msg/Odometry":
        q = np.array(v[3:7])
        body = world_velocity(q * np.array([-1.0, -1.0, -1.0, 1.0]), np.array(v[7:10]))
        return {"header": header, "child_frame_id": "base_link",
                "pose": {"pose": {"position": _vector(v[0:3]),
                                  "orientation": dict(zip("xyzw", v[3:7]))}, "covariance": [0.0] * 36},
                "twist": {"twist": {"linear": _vector(body), "angular": _vector(v[10:13])},
                          "covariance": [0.0] * 36}}
    if msgtype == "sensor_msgs/msg/JointState":
        n = len(v) // 2
        names = list(joint_names) or [f"joint_{i}" for i in range(n)]
        return {"header": header, "name": names, "position": v[:n], "velocity": v[n:], "effort": []}
    if msgtype == "sensor_msgs/msg/Image":
        image = np.ascontiguousarray(value, dtype=np.uint8)
        height, width, channels = image.shape if image.ndim == 3 else (*image.shape, 1)
        return {"header": header, "height": height, "width": width, "encoding": encoding,
                "is_bigendian": 0, "step": width * channels, "data": image.tobytes()}
    if msgtype == "geometry_msgs/msg/PoseStamped":
        return {"header": header, "pose": {"position": _vector(v[0:3]),
                                           "orientation": {"x": 0.0, "y": 0.0, "z": 0.0, "w": 1.0}}}
    if msgtype == "geometry_msgs/msg/PointStamped":
        return {"header": header, "point": _vector(v[0:3])}
    if msgtype == "std_msgs/msg/Float64MultiArray":
        return {"layout": {"dim": [], "data_offset": 0}, "data": v}
    raise ConfigError(f"{msgtype} cannot be sent from a simulated {kind} stream")


def _vector(xyz: Sequence[float]) -> dict[str, float]:
    return {"x": float(xyz[0]), "y": float(xyz[1]), "z": float(xyz[2])}


def _tilt_quaternion(up: Sequence[float]) -> dict[str, float]:
    """The yaw-free orientation (body to world) in which the world's up direction, in the body
    frame, is ``up`` (unit; what :mod:`~lnn_control.policy.messages.sensors` reads as an attitude):
    the shortest rotation taking the body vector ``up`` onto the world's z axis."""
    x, y, z = (float(c) for c in up)
    if z < -1.0 + 1e-12:  # upside down: half a turn about the body x axis
        return {"x": 1.0, "y": 0.0, "z": 0.0, "w": 0.0}
    # axis up x e_z = (y, -x, 0), quaternion [axis, 1 + up . e_z] normalised
    norm = math.sqrt(y * y + x * x + (1.0 + z) ** 2)
    return {"x": y / norm, "y": -x / norm, "z": 0.0, "w": (1.0 + z) / norm}
