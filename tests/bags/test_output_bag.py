"""The output bag, read back with rosbags: every input message unchanged, and one command per
policy step with the step's stamp, value and log time."""

import numpy as np
import pytest
from bagfiles import read_topic, stamp
from rosbags.highlevel import AnyReader

from lnn_control.bags.pipeline import REPLAY_TOPIC

@pytest.mark.parametrize("fmt", ["rosbag1", "sqlite3"])
def test_output_bag_holds_the_input_messages_and_one_command_per_step(
    husky_replays, husky_bag, husky_ros2, fmt
):
    replayed = husky_replays[fmt]
    source = husky_bag if fmt == "rosbag1" else husky_ros2["sqlite3"]
    output = replayed.output_bag
    storage = replayed.report["output_bag"]["storage"]
    assert storage == ("mcap" if fmt == "rosbag1" else "sqlite3")
    assert list(output.glob("*.mcap" if storage == "mcap" else "*.db3"))
    with AnyReader([source]) as reader:
        inputs = {topic: (info.msgtype, info.msgcount) for topic, info in reader.topics.items()}
    with AnyReader([output]) as reader:
        outputs = {topic: (info.msgtype, info.msgcount) for topic, info in reader.topics.items()}
    steps = len(replayed.arrays["commands"])
    assert outputs == {**inputs, REPLAY_TOPIC: ("geometry_msgs/msg/TwistStamped", steps)}

    # input messages: same receive times, stamps, frames and values (ROS 1 converted to ROS 2)
    for topic, fields in (("/imu/data", ("angular_velocity", "linear_acceleration")),
                          ("/fix", ("latitude", "longitude", "altitude"))):
        before, after = read_topic(source, topic), read_topic(output, topic)
        assert [t for t, _ in after] == [t for t, _ in before]
        assert [stamp(m) for _, m in after] == [stamp(m) for _, m in before]
        assert all(a.header.frame_id == b.header.frame_id for (_, a), (_, b) in zip(after, before))
        for name in fields:
            assert ([repr(getattr(a, name)) for _, a in after]
                    == [repr(getattr(b, name)) for _, b in before])

    # commands: header.stamp = the step's sensor stamp, twist = the command, log time = receive
    # time of the IMU message that triggered the step
    commands = read_topic(output, REPLAY_TOPIC)
    stamps = np.array([stamp(m) for _, m in commands])
    np.testing.assert_array_equal(stamps, replayed.arrays["step_stamps_ns"])
    values = np.array([[m.twist.linear.z, m.twist.angular.x, m.twist.angular.y, m.twist.angular.z]
                       for _, m in commands])
    np.testing.assert_array_equal(values, replayed.arrays["commands"].astype(np.float64))
    assert all(m.header.frame_id == "base_link" for _, m in commands)
    receive_of = {stamp(m): t for t, m in read_topic(source, "/imu/data")}
    assert [t for t, _ in commands] == [receive_of[s] for s in stamps.tolist()]
