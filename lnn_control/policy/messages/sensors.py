"""Sensor messages -> stream events, without importing ROS: what the policy node and rosbag
replay read.

The readers read messages by their field names, so the same code serves ``rclpy`` messages (the
ROS 2 nodes) and ``rosbags`` messages (replay): both have ``header.stamp.sec``,
``angular_velocity.x`` and so on. :func:`stream_reader` is chosen once per topic and reads each
message as ``(stamp_ns, value, image encoding)``; :func:`lnn_control.policy.messages.building.stream_message`
is its inverse (what a simulated sensor sends).

Frames and units follow the stream kinds of :mod:`lnn_control.policy.events`. One conversion is
not a copy: ``nav_msgs/Odometry`` gives its linear velocity in the child (body) frame, the
``odometry`` stream in the world frame, so it is rotated by the pose's orientation.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np

from lnn_control.errors import ConfigError, ShapeError

__all__ = [
    "MESSAGE_TYPES",
    "StreamReader",
    "stamp_ns",
    "stream_reader",
    "stream_value",
    "world_velocity",
]

#: message types each stream kind can be read from
MESSAGE_TYPES: dict[str, tuple[str, ...]] = {
    "imu": ("sensor_msgs/msg/Imu",),
    "attitude": ("sensor_msgs/msg/Imu", "geometry_msgs/msg/QuaternionStamped"),
    "image": ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage"),
    "joint_state": ("sensor_msgs/msg/JointState",),
    "odometry": ("nav_msgs/msg/Odometry",),
    "vector": ("geometry_msgs/msg/PoseStamped", "geometry_msgs/msg/PointStamped",
               "std_msgs/msg/Float64MultiArray"),
}


def stamp_ns(stamp: Any) -> int:
    """A ``builtin_interfaces/Time`` as integer nanoseconds."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def _xyz(vector: Any) -> list[float]:
    return [vector.x, vector.y, vector.z]


def _quaternion(q: Any) -> np.ndarray:
    return np.array([q.x, q.y, q.z, q.w], dtype=np.float64)


def world_velocity(quaternion_xyzw: np.ndarray, body_velocity: np.ndarray) -> np.ndarray:
    """Rotate a body-frame vector into the world frame by a unit quaternion ``[x, y, z, w]``."""
    x, y, z, w = quaternion_xyzw / np.linalg.norm(quaternion_xyzw)
    u = np.array([x, y, z])
    return body_velocity + 2.0 * np.cross(u, np.cross(u, body_velocity) + w * body_velocity)


#: a message -> ``(stamp_ns or None, value, image encoding or None)`` (see :func:`stream_reader`)
StreamReader = Callable[[Any], tuple[int | None, Any, str | None]]


def stream_reader(
    kind: str,
    msgtype: str,
    joint_names: Sequence[str] = (),
    image_size: tuple[int, int] | None = None,
    *,
    accel_scale: float = 1.0,
) -> StreamReader:
    """How messages of one type are read as one stream's events (chosen once: a node reads
    each message with no more than the conversion itself).

    :param kind: the stream's kind (``imu``, ``image``, ...).
    :param msgtype: the messages' type name, e.g. ``sensor_msgs/msg/Imu``.
    :param joint_names: joint_state streams: the joints, in the policy's order (empty: as sent).
    :param image_size: image streams: the expected ``(height, width)``; another size is refused
        before any pixel is decoded (a huge or hostile image costs nothing).
    :param accel_scale: imu streams: the factor that converts the message's linear acceleration
        to m/s^2 (``streams.<name>.scale`` of the parameter file, e.g. 9.80665 for a driver that
        publishes g); the angular velocity is not scaled. 1 for every other kind.
    :return: a function of a message (rclpy or rosbags) giving ``(stamp_ns or None, value,
        image encoding or None)``; the stamp is ``None`` for messages without a header
        (``Float64MultiArray``): use the receive time. A vector value is a list of floats or a
        float64 array, as read: the runtime converts it to float32 (where a value beyond
        float32's range becomes inf, and is rejected). It raises
        :class:`~lnn_control.errors.ShapeError` for a message that cannot be read.
    :raises ConfigError: ``kind`` cannot be read from ``msgtype``, or ``accel_scale`` is not a
        finite number > 0, or not 1 for a stream other than ``imu``.
    """
    if msgtype not in MESSAGE_TYPES.get(kind, ()):
        raise ConfigError(
            f"a {kind} stream cannot be read from {msgtype}; use one of {MESSAGE_TYPES.get(kind)}"
        )
    if not 0.0 < accel_scale < math.inf:
        raise ConfigError(f"accel_scale must be a finite number > 0, got {accel_scale}")
    if accel_scale != 1.0 and kind != "imu":
        raise ConfigError(f"accel_scale {accel_scale} applies to imu streams only (the linear "
                          f"acceleration); a {kind} stream takes 1")
    if kind == "image":
        decode = _raw_image if msgtype == "sensor_msgs/msg/Image" else _compressed_image

        def read_image(msg: Any) -> tuple[int | None, np.ndarray, str | None]:
            image, encoding = decode(msg, image_size)
            return stamp_ns(msg.header.stamp), image, encoding

        return read_image
    if kind == "attitude":
        value = partial(_up_in_body, msgtype=msgtype)
    elif kind == "joint_state":
        value = partial(_joints, joint_names=joint_names)
    elif kind == "imu" and accel_scale != 1.0:
        value = _scaled_imu(accel_scale)
    else:
        value = VECTOR_READERS[msgtype]
    if msgtype == "std_msgs/msg/Float64MultiArray":
        return lambda msg: (None, value(msg), None)
    return lambda msg: (stamp_ns(msg.header.stamp), value(msg), None)


def stream_value(
    kind: str,
    msgtype: str,
    msg: Any,
    joint_names: Sequence[str] = (),
    image_size: tuple[int, int] | None = None,
    *,
    accel_scale: float = 1.0,
) -> tuple[int | None, Any, str | None]:
    """One message as a stream event: ``stream_reader(kind, msgtype, ...)(msg)``."""
    return stream_reader(kind, msgtype, joint_names, image_size, accel_scale=accel_scale)(msg)


def _imu(msg: Any) -> list[float]:
    w, a = msg.angular_velocity, msg.linear_acceleration
    return [w.x, w.y, w.z, a.x, a.y, a.z]


def _scaled_imu(scale: float) -> Callable[[Any], list[float]]:
    """:func:`_imu` with the linear acceleration multiplied by ``scale`` (to m/s^2), in Python
    floats like it (no numpy call on the IMU path)."""

    def read(msg: Any) -> list[float]:
        w, a = msg.angular_velocity, msg.linear_acceleration
        return [w.x, w.y, w.z, scale * a.x, scale * a.y, scale * a.z]

    return read


def _odometry(msg: Any) -> np.ndarray:
    pose, twist = msg.pose.pose, msg.twist.twist
    q = _quaternion(pose.orientation)
    velocity = world_velocity(q, np.array(_xyz(twist.linear)))
    return np.concatenate([_xyz(pose.position), q, velocity, _xyz(twist.angular)])


def _up_in_body(msg: Any, msgtype: str) -> list[float]:
    """The world's up direction in the body frame, ``R^T [0, 0, 1]``, from an orientation
    quaternion (body to world): an ``Imu``'s ``orientation`` or a ``QuaternionStamped``'s."""
    if msgtype == "sensor_msgs/msg/Imu":
        if msg.orientation_covariance[0] == -1.0:
            raise ShapeError("this Imu message carries no orientation (orientation_covariance[0] "
                             "is -1, REP 145); subscribe the attitude stream to the topic of the "
                             "flight controller's attitude estimate, e.g. /mavros/imu/data")
        q = msg.orientation
    else:
        q = msg.quaternion
    x, y, z, w = q.x, q.y, q.z, q.w
    norm = x * x + y * y + z * z + w * w  # 0 gives NaN, which the runtime rejects
    scale = 2.0 / norm if norm > 0.0 else float("nan")
    return [scale * (x * z - w * y), scale * (y * z + w * x), 1.0 - scale * (x * x + y * y)]


def _joints(msg: Any, joint_names: Sequence[str]) -> np.ndarray:
    names = list(msg.name)
    position = np.asarray(msg.position, dtype=np.float64)
    velocity = np.asarray(msg.velocity, dtype=np.float64)
    if len(velocity) == 0:
        velocity = np.zeros_like(position)
    if joint_names:
        missing = [n for n in joint_names if n not in names]
        if missing:
            raise ShapeError(f"JointState lacks the joints {missing}; it has {names}")
        order = [names.index(n) for n in joint_names]
        position, velocity = position[order], velocity[order]
    return np.concatenate([position, velocity])


#: how a vector stream's value is read from each message type (attitude and joint_state aside)
VECTOR_READERS: dict[str, Callable[[Any], Any]] = {
    "sensor_msgs/msg/Imu": _imu,
    "nav_msgs/msg/Odometry": _odometry,
    "geometry_msgs/msg/PoseStamped": lambda msg: _xyz(msg.pose.position),
    "geometry_msgs/msg/PointStamped": lambda msg: _xyz(msg.point),
    "std_msgs/msg/Float64MultiArray": lambda msg: np.asarray(msg.data, dtype=np.float64),
}


def _raw_image(msg: Any, expected: tuple[int, int] | None) -> tuple[np.ndarray, str]:
    """``sensor_msgs/Image`` -> ``(H, W, C)`` uint8 (rows may be padded: ``step`` bytes each)."""
    _check_size((int(msg.height), int(msg.width)), expected)
    encoding = str(msg.encoding)
    channels = {"rgb8": 3, "bgr8": 3, "mono8": 1}.get(encoding)
    if channels is None:  # left to the runtime to reject, with the encoding named
        return np.zeros((0, 0, 0), dtype=np.uint8), encoding
    data = np.frombuffer(bytearray(msg.data), dtype=np.uint8)  # a copy torch may read
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if data.size < height * step or step < width * channels:
        raise ShapeError(
            f"Image data holds {data.size} bytes, less than height {height} x step {step}"
        )
    rows = data[: height * step].reshape(height, step)[:, : width * channels]
    return rows.reshape(height, width, channels), encoding


def _check_size(size: tuple[int, int], expected: tuple[int, int] | None) -> None:
    if expected is not None and size != tuple(expected):
        raise ShapeError(f"image is {size[0]}x{size[1]} (height x width), expected "
                         f"{expected[0]}x{expected[1]}; resize upstream")


def _compressed_image(msg: Any, expected: tuple[int, int] | None) -> tuple[np.ndarray, str]:
    """``sensor_msgs/CompressedImage`` (JPEG or PNG) -> ``(H, W, C)`` uint8, rgb8 or mono8."""
    from PIL import Image, UnidentifiedImageError

    try:
        picture = Image.open(io.BytesIO(bytes(msg.data)))  # reads the header only
        _check_size((picture.height, picture.width), expected)
        picture.load()
    except (UnidentifiedImageError, OSError) as error:
        raise ShapeError(f"CompressedImage ({msg.format}) could not be decoded: {error}") from None
    if picture.mode in ("L", "I;16"):
        return np.asarray(picture.convert("L"))[:, :, None], "mono8"
    return np.asarray(picture.convert("RGB")), "rgb8"
