"""What the runtime drops, with reasons and example messages, on a real recording with a
duplicated stamp, a message received out of order and a NaN reading (the 400 Hz IMU bag,
converted to ROS 2 and edited in three messages)."""

import math

import numpy as np
from bagfiles import fed_directly, imu_value, read_topic, rewrite_bag, set_stamp, stamp

from lnn_control.bags.pipeline import replay_to_folder
from lnn_control.policy import PolicyRuntime, load_checkpoint

DUPLICATE, MOVED, NAN = 100, 200, 300


def test_dropped_messages_are_reported_with_reasons_and_examples(tmp_path, imu400_ros2, params,
                                                                 policy_files):
    stamps = [stamp(m) for _, m in read_topic(imu400_ros2, "/imu/data")]

    def edit(topic, index, msg):
        if topic != "/imu/data":
            return None
        if index == DUPLICATE:
            return set_stamp(msg, stamps[DUPLICATE - 1])
        if index == MOVED:  # stamped between messages 150 and 151, received 50 messages later
            return set_stamp(msg, stamps[150] + 1000)
        if index == NAN:
            msg.angular_velocity.x = math.nan
            return msg
        return None

    bag = rewrite_bag(imu400_ros2, tmp_path / "edited", edit)
    report = replay_to_folder(bag, params, tmp_path / "out", progress=False).report

    timing = report["streams"]["imu"]["timing"]
    assert timing["duplicates"] == 1 and timing["out_of_order"] == 1
    rejections = report["rejections"]
    assert set(rejections) == {"duplicate", "non_finite"}
    (duplicate,) = rejections["duplicate"]["samples"]
    assert rejections["duplicate"]["count"] == 1 and duplicate["stamp_ns"] == stamps[DUPLICATE - 1]
    (nan,) = rejections["non_finite"]["samples"]
    assert rejections["non_finite"]["count"] == 1 and nan["stamp_ns"] == stamps[NAN]
    assert "NaN" in nan["message"] and nan["topic"] == "/imu/data"
    runtime = report["runtime"]
    assert runtime["duplicates"] == 1 and runtime["rejected"] == {"non_finite": 1}
    assert runtime["late"] == 0  # replayed in stamp order: the moved message is not late
    assert runtime["steps"] == report["commands"]["count"] == 3520 - 2
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "| non_finite | 1 |" in markdown and "| duplicate | 1 |" in markdown

    # the same messages fed to a runtime directly, in stamp order
    checkpoint, step = policy_files
    events = sorted(((stamp(m), "imu", imu_value(m)) for _, m in read_topic(bag, "/imu/data")),
                    key=lambda event: event[0])
    commands = fed_directly(PolicyRuntime(load_checkpoint(checkpoint), "onnx", step), events)
    with np.load(tmp_path / "out" / "replay.npz") as arrays:
        np.testing.assert_array_equal(arrays["commands"], commands)
