"""rclpy glue: message classes by type name, messages from nested plain data, command messages
written fast, QoS profiles."""

from __future__ import annotations

import array
import copy
import importlib
from collections.abc import Sequence
from typing import Any, Optional

import numpy as np
from rclpy.qos import QoSProfile, qos_profile_sensor_data, qos_profile_system_default

from lnn_control.errors import ConfigError
from lnn_control.policy.messages import command_message

__all__ = ["CommandWriter", "fill", "message_class", "qos_profile"]


def message_class(type_name: str) -> type:
    """The rclpy message class of ``package/msg/Name`` (e.g. ``sensor_msgs/msg/Imu``)."""
    package, kind, name = (type_name.split("/") + ["", ""])[:3]
    if kind != "msg" or not package or not name:
        raise ConfigError(f"{type_name!r} is not a message type name like sensor_msgs/msg/Imu")
    try:
        return getattr(importlib.import_module(f"{package}.msg"), name)
    except (ImportError, AttributeError):
        raise ConfigError(f"message type {type_name!r} is not installed") from None


def fill(message: Any, data: dict[str, Any]) -> Any:
    """Set ``message``'s fields from nested plain data (nested messages filled in place, lists of
    messages built from their element class); returns ``message``."""
    for key, value in data.items():
        current = getattr(message, key)
        if isinstance(value, dict):
            fill(current, value)
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            # field types read e.g. 'sequence<trajectory_msgs/JointTrajectoryPoint>'
            element = message.get_fields_and_field_types()[key].split("<")[1].rstrip(">")
            package, name = element.split("/")
            cls = message_class(f"{package}/msg/{name}")
            setattr(message, key, [fill(cls(), item) for item in value])
        else:
            setattr(message, key, value)
    return message


class CommandWriter:
    """Command messages of one output type, as :func:`~lnn_control.policy.messages.command_message`
    lays them out, written in a few microseconds: the fields that never change (layout, joint
    names, frame, unused twist axes) are set once in a template, and each command sets only its
    stamp and values (building and filling a message from plain data costs ~35 us of a 1 kHz
    node's budget). rclpy serializes a message when it is published, so the one template is
    reused for every command.

    :param msgtype: one of :data:`~lnn_control.policy.messages.COMMAND_TYPES`.
    :param action_names: the policy's actions (``(A,)``); the other parameters as for
        ``command_message``.
    """

    def __init__(self, msgtype: str, action_names: Sequence[str], frame_id: str = "",
                 joint_names: Sequence[str] = (), twist_fields: Sequence[str] = ()) -> None:
        self.message_class = message_class(msgtype)
        zeros = np.zeros(len(action_names))
        self._message = fill(self.message_class(), command_message(
            msgtype, zeros, 0, action_names, frame_id, joint_names, twist_fields))
        self._type = msgtype
        self._header = getattr(self._message, "header", None)
        if msgtype == "geometry_msgs/msg/TwistStamped":
            twist = self._message.twist
            self._axes = [(getattr(twist, f.split(".")[0]), f.split(".")[1]) for f in twist_fields]

    def __call__(self, command: Sequence[float], stamp: int) -> Any:
        """The message of ``command`` (``(A,)`` Python floats, physical units) computed from the
        sensor stamp ``stamp`` (ns); valid until the next call."""
        message = self._message
        if self._header is not None:
            self._header.stamp.sec, self._header.stamp.nanosec = divmod(int(stamp), 1_000_000_000)
        if self._type == "geometry_msgs/msg/TwistStamped":
            for (vector, axis), value in zip(self._axes, command):
                setattr(vector, axis, value)
        elif self._type == "std_msgs/msg/Float64MultiArray":
            message.data = array.array("d", command)
        else:  # JointTrajectory: one point
            message.points[0].positions = array.array("d", command)
        return message


def qos_profile(name: str, depth: Optional[int] = None) -> QoSProfile:
    """``sensor_data`` (best effort, keep last 5: what sensor drivers publish) or ``reliable``
    (keep last 10), with a history ``depth`` other than those if given."""
    if name not in ("sensor_data", "reliable"):
        raise ConfigError(f"unknown QoS {name!r}; use sensor_data or reliable")
    profile = copy.copy(qos_profile_sensor_data if name == "sensor_data" else qos_profile_system_default)
    if depth is not None:
        profile.depth = depth
    return profile
