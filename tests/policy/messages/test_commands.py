"""Each command type's layout: a built message reads back as the command and its stamp, a
JointTrajectory is read by joint name, and settings that do not give one place per action are
refused with the key named."""

from __future__ import annotations

import numpy as np
import pytest
from rosbags.typesys import Stores, get_typestore

from lnn_control.bags.typed import build_message
from lnn_control.errors import ConfigError, ShapeError
from lnn_control.policy.messages.commands import COMMAND_TYPES, CommandMessages

TYPES = get_typestore(Stores.ROS2_JAZZY)
NAMES = ["collective_thrust", "roll_rate", "pitch_rate", "yaw_rate"]
SETTINGS = {"frame_id": "base_link", "joint_names": ["j1", "j2", "j3", "j4"],
            "twist_fields": ["linear.z", "angular.x", "angular.y", "angular.z"]}
TRAJECTORY = "trajectory_msgs/msg/JointTrajectory"


def rosbags_message(messages: CommandMessages, command: np.ndarray, stamp: int):
    return build_message(TYPES, messages.msgtype, messages.build(command, stamp))


@pytest.mark.parametrize("msgtype", COMMAND_TYPES)
def test_a_built_message_reads_back_as_its_command_and_stamp(msgtype: str) -> None:
    messages = CommandMessages(msgtype, NAMES, **SETTINGS)
    command = np.random.default_rng(1).normal(size=len(NAMES))
    stamp, values = messages.read(rosbags_message(messages, command, 1_700_000_000_123_456_789))
    assert stamp == (1_700_000_000_123_456_789 if COMMAND_TYPES[msgtype].stamped else None)
    np.testing.assert_array_equal(values, command)


def test_a_float64_multi_array_is_labelled_with_the_actions_and_read_whole() -> None:
    messages = CommandMessages("std_msgs/msg/Float64MultiArray", NAMES)
    data = messages.build([1.0, 2.0, 3.0, 4.0], 0)
    assert data["layout"]["dim"] == [{"label": ",".join(NAMES), "size": 4, "stride": 4}]
    longer = rosbags_message(CommandMessages(messages.msgtype, NAMES + ["extra"]), np.arange(5.0), 0)
    np.testing.assert_array_equal(messages.read(longer)[1], np.arange(5.0))


def test_a_twist_axis_without_an_action_stays_zero() -> None:
    data = CommandMessages("geometry_msgs/msg/TwistStamped", NAMES[:2],
                           twist_fields=["linear.z", "angular.x"]).build([0.3, -1.0], 10)
    assert data["twist"] == {"linear": {"x": 0.0, "y": 0.0, "z": 0.3},
                             "angular": {"x": -1.0, "y": 0.0, "z": 0.0}}
    assert data["header"] == {"stamp": {"sec": 0, "nanosec": 10}, "frame_id": ""}


def test_a_joint_trajectory_is_read_by_joint_name() -> None:
    sent = CommandMessages(TRAJECTORY, NAMES + ["gripper"], joint_names=["j3", "gripper", "j1", "j4", "j2"])
    msg = rosbags_message(sent, np.array([3.0, 9.0, 1.0, 4.0, 2.0]), 5)
    stamp, values = CommandMessages(TRAJECTORY, joint_names=["j1", "j2", "j3", "j4"]).read(msg)
    assert stamp == 5
    np.testing.assert_array_equal(values, [1.0, 2.0, 3.0, 4.0])
    with pytest.raises(ShapeError, match=r"lacks the joints \['j5'\]"):
        CommandMessages(TRAJECTORY, joint_names=["j1", "j5"]).read(msg)
    msg.points = []
    with pytest.raises(ShapeError, match="or has no point"):
        CommandMessages(TRAJECTORY, joint_names=["j1"]).read(msg)


def test_settings_without_one_place_per_action_are_refused() -> None:
    with pytest.raises(ConfigError, match="output.joint_names must name the 4 joints"):
        CommandMessages(TRAJECTORY, NAMES, joint_names=["j1"]).build(np.zeros(4), 0)
    with pytest.raises(ConfigError, match="output.twist_fields must give a field for each of the 4"):
        CommandMessages("geometry_msgs/msg/TwistStamped", NAMES).build(np.zeros(4), 0)
    with pytest.raises(ConfigError, match="unknown command type 'std_msgs/msg/String'"):
        CommandMessages("std_msgs/msg/String")
