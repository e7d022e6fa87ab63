"""A stream whose messages have no header (``std_msgs/Float64MultiArray``): its events are stamped
with the bag's receive time, held between IMU steps, and its timing has no receive lag. The bag is
the real 400 Hz IMU recording with a 10 Hz goal topic added."""

import numpy as np
from bagfiles import (fed_directly, imu_policy, imu_value, read_topic, rewrite_bag, stamp,
                      write_params)
from rosbags.typesys import Stores, get_typestore

from lnn_control.bags.pipeline import replay_to_folder
from lnn_control.policy import PolicyRuntime, StreamSpec, load_checkpoint, save_checkpoint

GOAL = "std_msgs/msg/Float64MultiArray"


def test_headerless_stream_uses_receive_times(tmp_path, imu400_ros2):
    imu = read_topic(imu400_ros2, "/imu/data")
    types = get_typestore(Stores.ROS2_JAZZY).types
    goals = [(stamp(imu[0][1]) + 1_234_000 + k * 100_000_000,
              np.array([0.1 * k, -0.1 * k, 0.5])) for k in range(90)]
    added = [("/goal", GOAL, receive, types[GOAL](
        layout=types["std_msgs/msg/MultiArrayLayout"](dim=[], data_offset=0), data=value))
        for receive, value in goals]
    bag = rewrite_bag(imu400_ros2, tmp_path / "with_goal", lambda *_: None, added)
    policy = imu_policy(extra_streams=[StreamSpec("goal", "vector", size=3, features=0)])
    checkpoint = save_checkpoint(policy, tmp_path / "checkpoint")
    params = write_params(tmp_path / "params.yaml", checkpoint, engine="torch",
                          streams__goal={"topic": "/goal", "type": GOAL})
    outcome = replay_to_folder(bag, params, tmp_path / "out", progress=False)

    timing = outcome.report["streams"]["goal"]["timing"]
    assert timing["count"] == 90 and timing["lag_s"] is None
    assert timing["nominal_rate_hz"] == 10.0
    assert outcome.report["runtime"]["events"] == {"imu": 3520, "goal": 90}

    events = sorted([(stamp(m), "imu", imu_value(m)) for _, m in imu]
                    + [(receive, "goal", value.astype(np.float32)) for receive, value in goals],
                    key=lambda event: event[0])
    commands = fed_directly(PolicyRuntime(load_checkpoint(checkpoint), "torch"), events)
    np.testing.assert_array_equal(outcome.run.steps.commands, commands)
    assert (tmp_path / "out" / "timing_goal.png").is_file()
