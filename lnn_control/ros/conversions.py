"""rclpy glue: message classes by type name, messages from nested plain data, QoS profiles."""

from __future__ import annotations

import copy
import importlib
from typing import Any, Optional

from rclpy.qos import QoSProfile, qos_profile_sensor_data, qos_profile_system_default

from lnn_control.errors import ConfigError

__all__ = ["fill", "message_class", "qos_profile"]


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


def qos_profile(name: str, depth: Optional[int] = None) -> QoSProfile:
    """``sensor_data`` (best effort, keep last 5: what sensor drivers publish) or ``reliable``
    (keep last 10), with a history ``depth`` other than those if given."""
    if name not in ("sensor_data", "reliable"):
        raise ConfigError(f"unknown QoS {name!r}; use sensor_data or reliable")
    profile = copy.copy(qos_profile_sensor_data if name == "sensor_data" else qos_profile_system_default)
    if depth is not None:
        profile.depth = depth
    return profile
