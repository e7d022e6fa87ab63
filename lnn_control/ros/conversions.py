"""rclpy glue: message classes by type name, messages from nested plain data, command messages
written fast (serialized), QoS profiles."""

from __future__ import annotations

import copy
import importlib
import struct
from collections.abc import Sequence
from typing import Any

from rclpy.qos import QoSProfile, qos_profile_sensor_data, qos_profile_system_default

from lnn_control.errors import ConfigError
from lnn_control.policy.messages.commands import CommandMessages

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
    """Command messages of one output, as
    :meth:`~lnn_control.policy.messages.commands.CommandMessages.build` lays them out, written
    serialized (CDR bytes, which a publisher sends as they are) in a few microseconds: a template
    message is serialized once, and each command writes only its stamp and values into a copy of
    those bytes, at the offsets where the template's marker values lie. Building a message object
    costs ~35 us of a 1 kHz node's budget, and publishing one ~50 us more than its bytes on a core
    that has just woken (it is converted and serialized on every publish).

    :param msgtype: one of :data:`~lnn_control.policy.messages.commands.COMMAND_TYPES`.
    :param action_names: the policy's actions (``(A,)``); the other parameters as for
        :class:`~lnn_control.policy.messages.commands.CommandMessages`.
    """

    def __init__(self, msgtype: str, action_names: Sequence[str], frame_id: str = "",
                 joint_names: Sequence[str] = (), twist_fields: Sequence[str] = ()) -> None:
        from rclpy.serialization import serialize_message

        messages = CommandMessages(msgtype, action_names, frame_id, joint_names, twist_fields)
        self.message_class = message_class(msgtype)
        markers = [_MARKER + k for k in range(len(action_names))]
        template = serialize_message(fill(self.message_class(), messages.build(markers, _MARKER_STAMP)))
        order = "<" if template[1:2] == b"\x01" else ">"  # the encapsulation's byte order
        self._template = template
        self._stamp_format, self._value_format = order + "iI", order + "d"
        self._stamp_at = (template.find(struct.pack(self._stamp_format, *divmod(_MARKER_STAMP, 1_000_000_000)))
                          if messages.layout.stamped else None)
        self._value_at = [template.find(struct.pack(self._value_format, m)) for m in markers]
        if self._stamp_at == -1 or min(self._value_at) < 0:
            raise AssertionError(f"the serialized {msgtype} does not hold its marker values")

    def __call__(self, command: Sequence[float], stamp: int) -> bytes:
        """The serialized message of ``command`` (``(A,)`` Python floats, physical units)
        computed from the sensor stamp ``stamp`` (ns)."""
        data = bytearray(self._template)
        if self._stamp_at is not None:
            struct.pack_into(self._stamp_format, data, self._stamp_at, *divmod(int(stamp), 1_000_000_000))
        for at, value in zip(self._value_at, command):
            struct.pack_into(self._value_format, data, at, value)
        return bytes(data)


#: values no command or stamp takes, whose bytes mark where a template's fields lie
_MARKER = 1234567.8912345678
_MARKER_STAMP = 1_234_567_891 * 1_000_000_000 + 987_654_321


def qos_profile(name: str, depth: int | None = None) -> QoSProfile:
    """``sensor_data`` (best effort, keep last 5: what sensor drivers publish) or ``reliable``
    (keep last 10), with a history ``depth`` other than those if given."""
    if name not in ("sensor_data", "reliable"):
        raise ConfigError(f"unknown QoS {name!r}; use sensor_data or reliable")
    profile = copy.copy(qos_profile_sensor_data if name == "sensor_data" else qos_profile_system_default)
    if depth is not None:
        profile.depth = depth
    return profile
