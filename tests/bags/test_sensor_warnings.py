"""Replays that cannot mean what they seem to say so: an IMU recorded in g instead of m/s^2 (and
``streams.<name>.scale`` converts it), and a stepping stream at another rate than the policy was
trained at. The bags are the real 400 Hz IMU recording, rewritten in tmp_path: its accelerations
in g, or every 80th message kept (a 5 Hz IMU)."""

import numpy as np
import pytest
from bagfiles import imu_policy, read_topic, rewrite_bag, stamp, write_params
from rosbags.highlevel import AnyReader
from rosbags.rosbag2 import StoragePlugin, Writer

from lnn_control.bags.pipeline import replay_to_folder
from lnn_control.policy import save_checkpoint
from lnn_control.policy.gravity_check import STANDARD_GRAVITY

RETRAIN = ("Retrain the policy at the robot's rate, or replay the topic that carries the rate it "
           "was trained at")


def in_g(topic, index, msg):
    """The accelerations as a driver that publishes g would have them."""
    if topic != "/imu/data":
        return None
    a = msg.linear_acceleration
    a.x, a.y, a.z = a.x / STANDARD_GRAVITY, a.y / STANDARD_GRAVITY, a.z / STANDARD_GRAVITY
    return msg


def every_nth(source, target, n):
    """The ROS 2 bag ``source``'s /imu/data with only every ``n``-th message kept, as written."""
    with AnyReader([source]) as reader, Writer(target, version=9,
                                               storage_plugin=StoragePlugin.MCAP) as writer:
        connections = [c for c in reader.connections if c.topic == "/imu/data"]
        out = writer.add_connection("/imu/data", connections[0].msgtype, typestore=reader.typestore)
        for k, (_, receive_ns, data) in enumerate(reader.messages(connections=connections)):
            if k % n == 0:
                writer.write(out, receive_ns, data)
    return target


def test_an_imu_in_g_is_warned_about_and_its_scale_restores_the_commands(
        tmp_path, imu400_ros2, policy_files, params, imu400_replay):
    bag = rewrite_bag(imu400_ros2, tmp_path / "in_g", in_g)
    first = [m.linear_acceleration for _, m in read_topic(bag, "/imu/data")[:50]]
    mean = np.mean([np.sqrt(a.x ** 2 + a.y ** 2 + a.z ** 2) for a in first])  # the bag's own
    assert 0.95 < mean < 1.05  # gravity, in g

    outcome = replay_to_folder(bag, params, tmp_path / "out", progress=False)
    (warning,) = outcome.report["warnings"]
    assert warning == (
        f"stream 'imu': the IMU's linear acceleration has a mean norm of {mean:.3g} over its "
        "first 50 messages, near 1 where gravity alone gives 9.81 m/s^2: it looks like g, not "
        "m/s^2 (REP 145), and the policy would read every acceleration 9.81 times too small. If "
        "the driver publishes g, set streams.imu.scale: 9.80665 in the parameter file"
    )
    assert f"> **warning**: {warning}" in (outcome.folder / "report.md").read_text()

    checkpoint, step = policy_files
    scaled = write_params(tmp_path / "scaled.yaml", checkpoint, step, streams__imu__scale=9.80665)
    outcome = replay_to_folder(bag, scaled, tmp_path / "scaled", progress=False)
    assert outcome.report["warnings"] == []
    # the commands of the bag recorded in m/s^2 (up to rounding the division and product)
    np.testing.assert_allclose(outcome.run.steps.commands, imu400_replay.arrays["commands"],
                               rtol=0, atol=1e-5)


def test_a_5hz_imu_stepping_a_policy_trained_at_200hz_is_warned_about(tmp_path, imu400_ros2,
                                                                      params):
    bag = every_nth(imu400_ros2, tmp_path / "imu_5hz", 80)
    stamps = np.unique([stamp(m) for _, m in read_topic(bag, "/imu/data")])
    median = float(np.median(np.diff(stamps))) * 1e-9  # the bag's own, ~0.2 s
    assert 0.19 < median < 0.21

    outcome = replay_to_folder(bag, params, tmp_path / "out", progress=False)
    (warning,) = outcome.report["warnings"]
    assert warning == (
        f"stream 'imu' (/imu/data) steps the network at {1 / median:.3g} Hz (median period "
        f"{median * 1e3:.3g} ms), but the policy expects 200 Hz (control.nominal_dt_s 0.005 s): "
        f"each step is {median / 0.005:.3g} times longer than the steps it was trained on, so "
        "the network integrates over time steps it was never trained on and its commands are "
        f"not the ones it gives at its own rate. {RETRAIN}"
    )

    trained_at_5hz = save_checkpoint(imu_policy(nominal_dt_s=0.2), tmp_path / "at_5hz")
    params_5hz = write_params(tmp_path / "params_5hz.yaml", trained_at_5hz, engine="torch")
    assert replay_to_folder(bag, params_5hz, tmp_path / "out_5hz",
                            progress=False).report["warnings"] == []


@pytest.mark.parametrize(("nominal_dt_s", "warned"), [(0.005, False), (0.05, True)])
def test_a_faster_stepping_stream_is_warned_about_beyond_a_factor_of_2(
        tmp_path, imu400_bag, nominal_dt_s, warned):
    """The real 400 Hz IMU: twice the rate of a 200 Hz policy is tolerated; 20 times that of a
    20 Hz one is not."""
    checkpoint = save_checkpoint(imu_policy(nominal_dt_s=nominal_dt_s), tmp_path / "checkpoint")
    params = write_params(tmp_path / "params.yaml", checkpoint, engine="torch")
    warnings = replay_to_folder(imu400_bag, params, tmp_path / "out",
                                progress=False).report["warnings"]
    if not warned:
        assert warnings == []
        return
    (warning,) = warnings
    assert warning.startswith("stream 'imu' (/imu/data) steps the network at 400 Hz (median "
                              "period 2.5 ms), but the policy expects 20 Hz "
                              "(control.nominal_dt_s 0.05 s): each step is 20 times shorter")
    assert warning.endswith(RETRAIN)
