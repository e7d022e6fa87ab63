"""The fast command writer writes the very message the generic path (plain data -> ``fill``)
builds, serialized as rclpy serializes it."""

from __future__ import annotations

import numpy as np
import pytest
from rclpy.serialization import deserialize_message, serialize_message

from lnn_control.policy.messages.commands import COMMAND_TYPES, CommandMessages
from lnn_control.ros.conversions import CommandWriter, fill, message_class

NAMES = ["collective_thrust", "roll_rate", "pitch_rate", "yaw_rate"]
OPTIONS = {"frame_id": "base_link", "joint_names": ["j1", "j2", "j3", "j4"],
           "twist_fields": ["linear.z", "angular.x", "angular.y", "angular.z"]}


@pytest.mark.parametrize("msgtype", COMMAND_TYPES)
def test_command_writer_equals_the_generic_message(msgtype: str) -> None:
    writer = CommandWriter(msgtype, NAMES, **OPTIONS)
    rng = np.random.default_rng(0)
    for stamp in (0, 1_700_000_000_123_456_789, 5_000_000_001):  # every call overwrites the last
        command = rng.normal(size=len(NAMES))
        expected = fill(message_class(msgtype)(), CommandMessages(msgtype, NAMES, **OPTIONS).build(command, stamp))
        assert writer(command.tolist(), stamp) == serialize_message(expected)


def test_twist_axes_without_an_action_stay_zero() -> None:
    writer = CommandWriter("geometry_msgs/msg/TwistStamped", NAMES[:2], twist_fields=["linear.z", "angular.x"])
    message = deserialize_message(writer([0.3, -1.0], 10), message_class("geometry_msgs/msg/TwistStamped"))
    assert (message.twist.linear.z, message.twist.angular.x) == (0.3, -1.0)
    assert (message.twist.linear.x, message.twist.angular.y, message.twist.angular.z) == (0.0, 0.0, 0.0)
