"""``lnn-control record``: simulated episodes as a bag of the robot's topics, which the replay
reads back to the very commands that flew them."""

from pathlib import Path

import numpy as np
import pytest
import torch

from lnn_control.bags.reader import open_bag
from lnn_control.bags.recorded import compare_commands
from lnn_control.bags.replay import bind_streams, replay
from lnn_control.config import load_config
from lnn_control.errors import ConfigError
from lnn_control.policy import LiquidPolicy, PolicyConfig, PolicyRuntime, load_checkpoint, save_checkpoint
from lnn_control.policy.deployment import load_deployment
from lnn_control.sim.record import record

ROOT = Path(__file__).resolve().parents[2]


def test_an_expert_recording_has_every_topic_at_its_rate(tmp_path):
    summary = record("lnn_control/QuadHover-v0", tmp_path / "bag", episodes=2, progress=False)
    assert all(e["success"] for e in summary["episodes"])
    with open_bag(tmp_path / "bag") as bag:
        topics = bag.topics
        stamps = {name: [] for name in topics}
        for message in bag.messages(list(topics)):
            header = bag.reader.deserialize(message.data, message.msgtype).header
            stamps[message.topic].append(header.stamp.sec * 10**9 + header.stamp.nanosec)
    steps = sum(e["steps"] for e in summary["episodes"])
    # the sim_node topics and types of config/ros/quad_hover_sim.yaml
    assert topics["/imu/data"].msgtype == "sensor_msgs/msg/Imu"
    assert topics["/lnn_control/command"].msgtype == "geometry_msgs/msg/TwistStamped"
    assert len(stamps["/lnn_control/command"]) == steps  # one command per control period
    imu = np.diff(np.array(stamps["/imu/data"]))
    # 200 Hz within an episode, the 2 s episode gap once
    assert np.median(imu) == pytest.approx(5e6, rel=0.05)
    assert (imu > 1.9e9).sum() == 1 and (imu > 0).all()


def _checkpoint(model: str, folder: Path) -> Path:
    torch.manual_seed(3)
    return save_checkpoint(LiquidPolicy(load_config(PolicyConfig, ROOT / "config" / "models" / model)), folder)


def test_a_policy_recording_replays_to_its_own_commands(tmp_path):
    # TwistStamped commands carry the stamp of the IMU message that stepped the network, so each
    # is compared with the replay's step of that stamp (a headerless Float64MultiArray cannot be)
    checkpoint = _checkpoint("quad_hover_cfc.yaml", tmp_path / "checkpoint")
    record("lnn_control/QuadHover-v0", tmp_path / "bag", episodes=2, checkpoint=str(checkpoint),
           seed=7, progress=False)
    deployment = load_deployment(ROOT / "config" / "ros" / "quad_hover_policy.yaml")
    policy = load_checkpoint(checkpoint)
    with open_bag(tmp_path / "bag") as bag:
        run = replay(bag, bind_streams(bag, deployment, policy.config),
                     PolicyRuntime(policy, "torch"), deployment.output, arrival_order=True)
    recorded = run.recorded
    assert recorded is not None and recorded.values.shape[0] > 100
    compared = compare_commands(run.steps.stamps_ns, run.steps.commands, recorded,
                                policy.config.actions.names)
    # every command has the stamp of the IMU step that computed it, but those sent before the
    # first step: the safe command, stamped with their control instant
    unmatched = ~np.isin(recorded.stamps_ns, run.steps.stamps_ns)
    np.testing.assert_allclose(recorded.values[unmatched], [policy.config.actions.safe] * unmatched.sum(),
                               atol=1e-6)
    assert compared["exact_stamps"] == compared["compared"] == compared["count"] - unmatched.sum()
    assert unmatched.sum() <= 2
    assert max(compared["max_abs"].values()) <= 1e-6, compared["max_abs"]
    assert max(compared["exact_max_abs"].values()) <= 1e-6
    assert np.ptp(recorded.values, axis=0).max() > 1e-3  # the commands vary: a real comparison
    assert run.stats["gap_resets"] >= 1  # the gap between episodes restarted the network


def test_camera_and_joint_streams_are_recorded(tmp_path):
    summary = record("lnn_control/ArmReach-v0", tmp_path / "bag", episodes=1, storage="sqlite3",
                     progress=False)
    with open_bag(tmp_path / "bag") as bag:
        image, joints = (bag.reader.deserialize(m.data, m.msgtype) for m in
                         (next(bag.messages([topic])) for topic in ("/camera/image_raw", "/joint_states")))
    assert (image.height, image.width, image.encoding) == (64, 64, "rgb8")
    assert image.data.size == 64 * 64 * 3 and image.data.std() > 0
    assert len(joints.name) == len(joints.position) == len(joints.velocity) > 0
    assert summary["messages"]["/forward_position_controller/commands"] == summary["episodes"][0]["steps"]


def test_record_never_writes_over_a_bag(tmp_path):
    (tmp_path / "bag").mkdir()
    (tmp_path / "bag" / "mine.txt").write_text("keep")
    with pytest.raises(ConfigError, match="exists"):
        record("lnn_control/QuadHover-v0", tmp_path / "bag", episodes=1, progress=False)
    assert (tmp_path / "bag" / "mine.txt").read_text() == "keep"
