"""ROS-shaped messages <-> stream values and commands, without importing ROS.

The functions read messages by their field names, so the same code serves ``rclpy`` messages
(the ROS 2 nodes) and ``rosbags`` messages (replay, recording): both have ``header.stamp.sec``,
``angular_velocity.x`` and so on. Messages to send (commands, simulated sensors) are described as
nested plain data that each side turns into its own message class (:func:`command_message`,
:func:`stream_message`); :func:`stream_value` and :func:`command_value` read them back.

Frames and units follow the stream kinds of :mod:`lnn_control.policy.events`. One conversion is
not a copy: ``nav_msgs/Odometry`` gives its linear velocity in the child (body) frame, the
``odometry`` stream in the world frame, so it is rotated by the pose's orientation.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Optional

import numpy as np

from lnn_control.errors import ConfigError, ShapeError

__all__ = [
    "COMMAND_TYPES",
    "MESSAGE_TYPES",
    "command_message",
    "command_value",
    "ns_to_stamp",
    "stamp_ns",
    "stream_message",
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
#: command message types
COMMAND_TYPES = ("std_msgs/msg/Float64MultiArray", "trajectory_msgs/msg/JointTrajectory",
                 "geometry_msgs/msg/TwistStamped")


def stamp_ns(stamp: Any) -> int:
    """A ``builtin_interfaces/Time`` as integer nanoseconds."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def ns_to_stamp(ns: int) -> dict[str, int]:
    """Integer nanoseconds as ``{"sec", "nanosec"}``."""
    sec, nanosec = divmod(int(ns), 1_000_000_000)
    return {"sec": sec, "nanosec": nanosec}


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
StreamReader = Callable[[Any], tuple[Optional[int], Any, Optional[str]]]


def stream_reader(
    kind: str,
    msgtype: str,
    joint_names: Sequence[str] = (),
    image_size: Optional[tuple[int, int]] = None,
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

        def read_image(msg: Any) -> tuple[Optional[int], np.ndarray, Optional[str]]:
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
    image_size: Optional[tuple[int, int]] = None,
    *,
    accel_scale: float = 1.0,
) -> tuple[Optional[int], Any, Optional[str]]:
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


def _tilt_quaternion(up: Sequence[float]) -> dict[str, float]:
    """The yaw-free orientation (body to world) whose :func:`_up_in_body` is ``up`` (unit): the
    shortest rotation taking the body vector ``up`` onto the world's z axis."""
    x, y, z = (float(c) for c in up)
    if z < -1.0 + 1e-12:  # upside down: half a turn about the body x axis
        return {"x": 1.0, "y": 0.0, "z": 0.0, "w": 0.0}
    # axis up x e_z = (y, -x, 0), quaternion [axis, 1 + up . e_z] normalised
    norm = math.sqrt(y * y + x * x + (1.0 + z) ** 2)
    return {"x": y / norm, "y": -x / norm, "z": 0.0, "w": (1.0 + z) / norm}


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


def _raw_image(msg: Any, expected: Optional[tuple[int, int]]) -> tuple[np.ndarray, str]:
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


def _check_size(size: tuple[int, int], expected: Optional[tuple[int, int]]) -> None:
    if expected is not None and size != tuple(expected):
        raise ShapeError(f"image is {size[0]}x{size[1]} (height x width), expected "
                         f"{expected[0]}x{expected[1]}; resize upstream")


def _compressed_image(msg: Any, expected: Optional[tuple[int, int]]) -> tuple[np.ndarray, str]:
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
    :func:`stream_value`): what a simulated sensor publishes.

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


def command_value(
    msgtype: str, msg: Any, twist_fields: Sequence[str] = (), joint_names: Sequence[str] = ()
) -> tuple[Optional[int], np.ndarray]:
    """``(header stamp ns or None, command (A,) float64)`` of a command message: the inverse of
    :func:`command_message` with the same ``twist_fields`` / ``joint_names``.

    :raises ShapeError: a JointTrajectory lacks a joint or has no point.
    :raises ConfigError: ``msgtype`` is not a command type.
    """
    header = getattr(msg, "header", None)
    stamp = stamp_ns(header.stamp) if header is not None else None
    if msgtype == "std_msgs/msg/Float64MultiArray":
        return stamp, np.asarray(msg.data, dtype=np.float64)
    if msgtype == "geometry_msgs/msg/TwistStamped":
        parts = [f.split(".") for f in twist_fields]
        return stamp, np.array([getattr(getattr(msg.twist, p), axis) for p, axis in parts], dtype=np.float64)
    if msgtype == "trajectory_msgs/msg/JointTrajectory":
        names = list(msg.joint_names)
        missing = [n for n in joint_names if n not in names]
        if missing or not msg.points:
            raise ShapeError(f"a JointTrajectory lacks the joints {missing} (it names {names}) "
                             "or has no point")
        positions = np.asarray(msg.points[0].positions, dtype=np.float64)
        return stamp, positions[[names.index(n) for n in joint_names]]
    raise ConfigError(f"{msgtype} is not a command type; use one of {COMMAND_TYPES}")


def command_message(
    msgtype: str,
    command: np.ndarray,
    stamp: int,
    action_names: Sequence[str],
    frame_id: str = "",
    joint_names: Sequence[str] = (),
    twist_fields: Sequence[str] = (),
) -> dict[str, Any]:
    """A command as nested plain data in the fields of ``msgtype``.

    - ``std_msgs/msg/Float64MultiArray``: ``data`` = the command (ros2_control forward command
      controllers); the layout's one dimension is labelled with the action names.
    - ``trajectory_msgs/msg/JointTrajectory``: one point, ``positions`` = the command, reached at
      ``time_from_start`` 0; ``joint_names`` name the joints.
    - ``geometry_msgs/msg/TwistStamped``: ``twist_fields[i]`` (``linear.z``, ``angular.x``, ...)
      receives action ``i``; e.g. collective thrust on ``linear.z`` and body rates on ``angular``.

    :param stamp: the sensor stamp the command was computed from, nanoseconds.
    """
    values = [float(v) for v in command]
    header = {"stamp": ns_to_stamp(stamp), "frame_id": frame_id}
    if msgtype == "std_msgs/msg/Float64MultiArray":
        label = ",".join(action_names)
        return {"layout": {"dim": [{"label": label, "size": len(values), "stride": len(values)}],
                           "data_offset": 0}, "data": values}
    if msgtype == "trajectory_msgs/msg/JointTrajectory":
        if len(joint_names) != len(values):
            raise ConfigError(f"output.joint_names must name the {len(values)} joints, one per action")
        point = {"positions": values, "velocities": [], "accelerations": [], "effort": [],
                 "time_from_start": {"sec": 0, "nanosec": 0}}
        return {"header": header, "joint_names": list(joint_names), "points": [point]}
    if msgtype == "geometry_msgs/msg/TwistStamped":
        if len(twist_fields) != len(values):
            raise ConfigError(f"output.twist_fields must give a field for each of the {len(values)} actions")
        twist = {"linear": {"x": 0.0, "y": 0.0, "z": 0.0}, "angular": {"x": 0.0, "y": 0.0, "z": 0.0}}
        for field, value in zip(twist_fields, values):
            part, axis = field.split(".")
            twist[part][axis] = value
        return {"header": header, "twist": twist}
    raise ConfigError(f"unknown command type {msgtype!r}; use one of {COMMAND_TYPES}")
