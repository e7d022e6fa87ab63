"""``lnn-control export CKPT --onnx PATH``: the exported step, run in onnxruntime, gives the
runtime's commands within 1e-5 over a recorded IMU sequence (a real 400 Hz IMU with dropouts)."""

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from policies import camera_frames, policy

from lnn_control.cli import main
from lnn_control.errors import ConfigError
from lnn_control.policy import PolicyRuntime, save_checkpoint
from lnn_control.policy.engines import step_function
from lnn_control.policy.engines.onnx_step import open_policy_onnx

BAG = Path(__file__).resolve().parents[4] / "shared" / "data" / "bags" / "imu_400hz_dropouts.bag"


def recorded_imu(limit=None):
    """(stamp ns, [wx, wy, wz, ax, ay, az]) of the bag's /imu/data, in recorded order."""
    if not BAG.is_file():
        pytest.fail(f"recorded bag {BAG} not found: these tests need ../shared/data/bags beside "
                    "the checkout")
    from rosbags.highlevel import AnyReader

    events = []
    with AnyReader([BAG]) as reader:
        connections = [c for c in reader.connections if c.topic == "/imu/data"]
        for connection, _, raw in reader.messages(connections=connections):
            msg = reader.deserialize(raw, connection.msgtype)
            stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
            w, a = msg.angular_velocity, msg.linear_acceleration
            events.append((stamp, np.array([w.x, w.y, w.z, a.x, a.y, a.z], dtype=np.float32)))
            if limit and len(events) == limit:
                break
    return events


def commands(runtime, events):
    out = []
    for stamp, value in events:
        runtime.on_event("imu", stamp, value)
        out.append(runtime.command(stamp))
    return np.array(out)


@pytest.mark.parametrize("name", ["imu_cfc", "imu_ltc"])
def test_exported_step_reproduces_every_runtime_command_of_a_recorded_sequence(
    tmp_path, name, capsys
):
    """At every event of the bag, the exported step in onnxruntime, given the runtime's inputs
    and state, computes the runtime's command and next state within 1e-5."""
    events = recorded_imu()
    assert len(events) == 3520  # the bag's documented message count
    policy_ = policy(name, seed=5)
    save_checkpoint(policy_, tmp_path / "ckpt")
    path = tmp_path / "step.onnx"
    assert main(["export", str(tmp_path / "ckpt"), "--onnx", str(path)]) == 0
    assert "wrote" in capsys.readouterr().out

    reference = step_function(policy_.step_module(), "torch")
    calls = []

    def recording(x, h, dt):
        action, h_new = reference(x, h, dt)
        calls.append((x.copy(), h.copy(), dt, action.copy(), h_new.copy()))
        return action, h_new

    runtime_commands = commands(PolicyRuntime(policy_, recording), events)
    exported = open_policy_onnx(path, policy_)
    for x, h, dt, action, h_new in calls:
        got_action, got_state = exported(x, h, np.full((1, 1), dt, dtype=np.float32))
        np.testing.assert_allclose(got_action[0], action, atol=1e-5, rtol=0)
        np.testing.assert_allclose(got_state, h_new, atol=1e-5, rtol=0)
    assert len(calls) == 3520 and np.ptp(runtime_commands, axis=0).max() > 1e-3
    layout = json.loads({p.key: p.value for p in onnx.load(str(path)).metadata_props}
                        ["lnn_control.layout"])
    assert layout["inputs"] == {"imu": [0, 6]} and layout["state_size"] == policy_.state_size


@pytest.mark.parametrize(("name", "tolerance"), [("imu_cfc", 1e-5), ("imu_ltc", 1e-4)])
@pytest.mark.parametrize("engine", ["onnx", "native"])
def test_onnx_and_native_engine_runtimes_track_the_torch_runtime_over_the_whole_bag(name, tolerance, engine):
    """Free-running, each engine feeds back its own state: float32 rounding differences
    (~1e-6 a step) accumulate in the LTC's slow state to a few 1e-5 over 3,520 steps."""
    events = recorded_imu()
    policy_ = policy(name, seed=5)
    np.testing.assert_allclose(commands(PolicyRuntime(policy_, engine), events),
                               commands(PolicyRuntime(policy_), events), atol=tolerance, rtol=0)


@pytest.mark.parametrize("engine", ["onnx", "native"])
def test_a_step_exported_from_other_weights_is_refused(tmp_path, engine):
    save_checkpoint(policy("imu_cfc", seed=1), tmp_path / "ckpt")
    assert main(["export", str(tmp_path / "ckpt"), "--onnx", str(tmp_path / "step.onnx")]) == 0
    with pytest.raises(ConfigError, match="not exported from this policy's weights"):
        PolicyRuntime(policy("imu_cfc", seed=2), engine, engine_file=tmp_path / "step.onnx")
    same = PolicyRuntime(policy("imu_cfc", seed=1), engine, engine_file=tmp_path / "step.onnx")
    reference = PolicyRuntime(policy("imu_cfc", seed=1))
    events = recorded_imu(limit=50)
    np.testing.assert_allclose(commands(same, events), commands(reference, events), atol=1e-5, rtol=0)


@pytest.mark.parametrize("engine", ["compiled", "native"])
def test_compiled_and_native_engines_match_the_runtime(engine):
    events = recorded_imu(limit=300)
    policy_ = policy("imu_cfc", seed=6)
    np.testing.assert_allclose(commands(PolicyRuntime(policy_, engine), events),
                               commands(PolicyRuntime(policy_), events), atol=1e-5, rtol=0)


def test_export_of_a_missing_checkpoint_is_a_clear_error(tmp_path, capsys):
    assert main(["export", str(tmp_path / "nothing"), "--onnx", str(tmp_path / "s.onnx")]) == 2
    assert "not a checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "s.onnx").exists()


@pytest.mark.parametrize("engine", ["onnx", "native"])
def test_engines_compute_relative_joint_commands_as_torch_does(engine):
    """ArmReach's policy commands changes from the measured joints (clipped to the limits): the
    exported step reads the positions from its input as the torch step does."""
    policy_ = policy("arm_reach_cnn_cfc", seed=7)
    rng = np.random.default_rng(7)
    frames = camera_frames(4, seed=7)
    runtimes = [PolicyRuntime(policy_, engine), PolicyRuntime(policy_)]
    out = [[], []]
    for i in range(40):  # 0.4 s of 100 Hz joint states, a frame every 0.1 s; some joints near +-pi
        stamp = 1_000_000_000 + i * 10_000_000
        joints = np.concatenate([rng.uniform(-3.3, 3.3, 6), rng.normal(0, 1, 6)]).astype(np.float32)
        for runtime, commands_ in zip(runtimes, out):
            if i % 10 == 0:
                runtime.on_event("camera", stamp, frames[i // 10])
                runtime.on_event("side_camera", stamp, frames[3 - i // 10])
            runtime.on_event("joints", stamp, joints)
            commands_.append(runtime.command(stamp))
    np.testing.assert_allclose(out[0], out[1], atol=1e-5, rtol=0)
    assert np.ptp(np.array(out[1]), axis=0).min() > 0.5  # the commands follow the joints
