"""Replay equals live: a bag recorded from the closed loop over DDS (sim_node, policy_node and
bag_recorder as separate processes) replays through the same checkpoint to the same commands."""

import gymnasium
import numpy as np
import torch
from roshelpers import ROOT, NodeProcess, policy_node, wait_for
from std_msgs.msg import String

import lnn_control.sim.envs  # noqa: F401 - registers the envs
from lnn_control.bags.reader import open_bag
from lnn_control.bags.replay import bind_streams, replay
from lnn_control.policy import (
    ControlConfig,
    CoreConfig,
    LiquidPolicy,
    PolicyConfig,
    PolicyRuntime,
    StreamSpec,
    save_checkpoint,
)
from lnn_control.policy.deployment import load_deployment

CONFIG = ROOT / "config" / "ros"
TOPICS = ["/imu/data:sensor_msgs/msg/Imu", "/odom:nav_msgs/msg/Odometry",
          "/goal:geometry_msgs/msg/PoseStamped", "/lnn_control/command:geometry_msgs/msg/TwistStamped"]
#: the simulator starts once the policy node and the recorder both listen to every input topic
CONSUMERS = ["/imu/data:2", "/odom:2", "/goal:2"]


def quad_hover_policy() -> LiquidPolicy:
    """A QuadHover-shaped CfC/NCP policy (random weights: replay must match whatever it does)."""
    actions = gymnasium.make("lnn_control/QuadHover-v0").unwrapped.action_spec()
    config = PolicyConfig(
        streams=[StreamSpec("imu", "imu"), StreamSpec("odom", "odometry"),
                 StreamSpec("goal", "vector", size=3, features=8)],
        core=CoreConfig(type="cfc", wiring={"type": "AutoNCP", "units": 19, "output_size": 4}),
        actions=actions,
        control=ControlConfig(stream="imu", nominal_dt_s=0.005, max_step_s=0.02, reset_gap_s=0.5,
                              max_age_s=0.5),
    )
    torch.manual_seed(0)
    return LiquidPolicy(config)


def test_a_recorded_closed_loop_replays_to_the_same_commands(tmp_path, probe):
    checkpoint = save_checkpoint(quad_hover_policy(), tmp_path / "checkpoint")
    episodes = probe.collect(String, "/sim/episode")
    controller = policy_node(CONFIG / "quad_hover_policy.yaml", tmp_path / "policy.log",
                             checkpoint=checkpoint, engine="torch", autostart="true",
                             use_sim_time="true")
    recorder = NodeProcess(["-m", "lnn_control.ros.recorder", "--ros-args", "-p",
                            f"out:={tmp_path / 'bag'}", "-p", f"topics:={TOPICS}"],
                           tmp_path / "recorder.log")
    controller.wait_ready()
    recorder.wait_ready("recording")
    simulator = NodeProcess(["-m", "lnn_control.ros.sim_node", "--ros-args", "--params-file",
                             str(CONFIG / "quad_hover_sim.yaml"), "-p", "episodes:=1",
                             "-p", "seed:=5", "-p", f"wait_for_subscribers:={CONSUMERS}"],
                            tmp_path / "sim.log")
    wait_for(lambda: episodes or not simulator.alive(), 90, "the end of the episode")
    for node in (simulator, controller, recorder):
        assert node.stop() == 0, node.output()
    live_log = controller.output()

    deployment = load_deployment(CONFIG / "quad_hover_policy.yaml")
    from lnn_control.policy import load_checkpoint

    with open_bag(tmp_path / "bag") as bag:
        bindings = bind_streams(bag, deployment, load_checkpoint(checkpoint).config)
        run = replay(bag, bindings, PolicyRuntime(load_checkpoint(checkpoint), "torch"),
                     deployment.output, arrival_order=True)
    live = dict(zip(run.recorded.stamps_ns.tolist(), run.recorded.values))
    matched = [(command, live[stamp]) for stamp, command
               in zip(run.steps.stamps_ns.tolist(), run.steps.commands) if stamp in live]
    assert len(matched) >= 0.98 * len(run.steps.commands) > 100, (len(matched), len(run.steps.commands))
    replayed, recorded = (np.array(side) for side in zip(*matched))
    np.testing.assert_allclose(replayed, recorded, atol=1e-6, rtol=0)
    assert np.ptp(recorded, axis=0).max() > 1e-3  # the commands vary: a real comparison
    assert "silent" not in live_log.split("every stream is up", 1)[-1], live_log
