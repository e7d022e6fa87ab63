"""A bag that holds recorded commands: the replay's commands are compared with them (RMSE per
action, lag by cross-correlation). The recorded commands come from a first replay of the real
400 Hz IMU bag; a second copy has them delayed by 10 samples (25 ms)."""

import numpy as np
import pytest
from bagfiles import read_topic, rewrite_bag, set_stamp, stamp
from rosbags.typesys import Stores, get_typestore

from lnn_control.bags.pipeline import REPLAY_TOPIC, REPLAY_TOPIC_TAKEN, replay_to_folder
from lnn_control.bags.reader import open_bag
from lnn_control.bags.replay import bind_streams, replay
from lnn_control.policy import PolicyRuntime, load_checkpoint
from lnn_control.policy.deployment import OutputTopic, load_deployment

NAMES = ["collective_thrust", "roll_rate", "pitch_rate", "yaw_rate"]


def test_replaying_a_replays_output_reproduces_its_commands(tmp_path, imu400_replay, params):
    recorded_bag = imu400_replay.output_bag
    outcome = replay_to_folder(recorded_bag, params, tmp_path / "again", progress=False)
    recorded = outcome.report["recorded"]
    assert recorded["topic"] == REPLAY_TOPIC
    assert recorded["count"] == recorded["compared"] == recorded["exact_stamps"] == 3520
    assert recorded["rmse"] == dict.fromkeys(NAMES, 0.0)
    assert recorded["max_abs"] == dict.fromkeys(NAMES, 0.0)
    assert recorded["lag_s"] == 0.0
    np.testing.assert_array_equal(outcome.run.steps.commands, imu400_replay.arrays["commands"])
    (warning,) = outcome.report["warnings"]
    assert f"already has {REPLAY_TOPIC}" in warning and REPLAY_TOPIC_TAKEN in warning
    written = read_topic(outcome.folder / f"{recorded_bag.stem}_replay", REPLAY_TOPIC_TAKEN)
    assert [stamp(m) for _, m in written] == imu400_replay.arrays["step_stamps_ns"].tolist()
    markdown = (outcome.folder / "report.md").read_text()
    assert "## Against the recorded commands" in markdown


def test_lag_of_delayed_recorded_commands_is_found_by_cross_correlation(tmp_path, imu400_replay,
                                                                       params):
    delay = 25_000_000  # 10 periods of the 400 Hz IMU

    def delayed(topic, index, msg):
        return set_stamp(msg, stamp(msg) + delay) if topic == REPLAY_TOPIC else None

    bag = rewrite_bag(imu400_replay.output_bag, tmp_path / "delayed", delayed)
    recorded = replay_to_folder(bag, params, tmp_path / "out", progress=False).report["recorded"]
    assert recorded["grid_s"] == pytest.approx(0.0025, abs=1e-6)
    assert recorded["lag_s"] == pytest.approx(0.025, abs=0.0025)
    assert recorded["exact_stamps"] < 3520 and recorded["compared"] == 3520
    assert all(value > 0 for value in recorded["rmse"].values())


def test_recorded_commands_that_do_not_fit_the_policy_are_not_compared(tmp_path, imu400_ros2,
                                                                        params, policy_files):
    msgtype = "std_msgs/msg/Float64MultiArray"
    types = get_typestore(Stores.ROS2_JAZZY).types
    start = stamp(read_topic(imu400_ros2, "/imu/data")[0][1])
    added = [(REPLAY_TOPIC, msgtype, start + k * 100_000_000, types[msgtype](
        layout=types["std_msgs/msg/MultiArrayLayout"](dim=[], data_offset=0),
        data=np.array([0.1, 0.2]))) for k in range(20)]
    bag_path = rewrite_bag(imu400_ros2, tmp_path / "two_values", lambda *_: None, added)
    policy = load_checkpoint(policy_files[0])
    with open_bag(bag_path) as bag:
        bindings = bind_streams(bag, load_deployment(params), policy.config)
        run = replay(bag, bindings, PolicyRuntime(policy, "torch"), OutputTopic(type=msgtype))
    assert run.recorded is None
    (warning,) = run.warnings
    assert "hold 2 values, not the policy's 4 actions: they are not compared" in warning
    assert run.steps.commands.shape == (3520, 4)
