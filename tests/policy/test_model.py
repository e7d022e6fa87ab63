"""The policy model: any core in the same slot, actions within limits, step = sequence."""

import dataclasses

import numpy as np
import pytest
import torch
from policies import config

from lnn_control.config import config_from_dict, config_to_dict
from lnn_control.errors import ConfigError
from lnn_control.policy import CoreConfig, LiquidPolicy, PolicyConfig

CORES = {
    "cfc-ncp": CoreConfig(type="cfc", wiring={"type": "AutoNCP", "units": 19, "output_size": 4}),
    "ltc-ncp": CoreConfig(type="ltc", wiring={"type": "AutoNCP", "units": 19, "output_size": 4}),
    "cfc-dense": CoreConfig(type="cfc", units=12, backbone_units=16),
    "ltc-dense": CoreConfig(type="ltc", units=10, ode_unfolds=3),
    "cfc-mixed": CoreConfig(type="cfc", wiring={"type": "AutoNCP", "units": 19, "output_size": 4},
                            mixed_memory=True),
    "lstm": CoreConfig(type="lstm", units=16),
    "gru": CoreConfig(type="gru", units=16),
    "mlp": CoreConfig(type="mlp", units=16, frames=3),
}


def with_core(core):
    return dataclasses.replace(config("camera_imu_cfc"), core=core)


def batch(policy, steps=12, size=3, seed=0):
    torch.manual_seed(seed)
    values = {"camera": torch.randint(0, 256, (size, steps, 64, 64, 3), dtype=torch.uint8),
              "imu": torch.randn(size, steps, 6)}
    ages = torch.rand(size, steps, len(policy.aged_streams))
    dt = torch.rand(size, steps) * 0.01 + 0.001
    return values, ages, dt


@pytest.mark.parametrize("name", CORES)
def test_step_module_equals_the_sequence_form(name):
    """Stepping PolicyStep by hand on the held inputs gives forward_sequence's commands."""
    torch.manual_seed(1)
    policy = LiquidPolicy(with_core(CORES[name])).eval()
    values, ages, dt = batch(policy)
    with torch.no_grad():
        actions, states = policy.forward_sequence(values, ages, dt)
        step = policy.step_module()
        h = torch.zeros(3, policy.state_size)
        for t in range(dt.shape[1]):
            x = torch.cat([policy.encode("camera", values["camera"][:, t]), values["imu"][:, t],
                           ages[:, t]], 1)
            action, h = step(x, h, dt[:, t : t + 1])
            torch.testing.assert_close(action, actions[:, t], atol=1e-5, rtol=0)
    torch.testing.assert_close(h, states[:, -1], atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", CORES)
def test_every_core_trains_through_the_same_slot(name):
    torch.manual_seed(2)
    policy = LiquidPolicy(with_core(CORES[name]))
    values, ages, dt = batch(policy)
    reset = torch.zeros(3, 12, dtype=torch.bool)
    reset[:, 6] = True
    actions, _ = policy.forward_sequence(values, ages, dt, reset)
    actions.square().mean().backward()
    grads = [p.grad for p in policy.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


def test_actions_never_leave_the_limits():
    policy = LiquidPolicy(config("imu_cfc")).eval()
    with torch.no_grad():
        extreme = policy.actions(torch.tensor([[1e6, -1e6, 0.0, float("1e30")]]))
    low = torch.tensor(policy.config.actions.low)
    high = torch.tensor(policy.config.actions.high)
    assert ((extreme >= low) & (extreme <= high)).all()
    torch.testing.assert_close(extreme[0, 2], (low[2] + high[2]) / 2)


def test_motor_neurons_are_the_actions():
    """A wired core's last layer (its motor neurons) is the action vector, with no readout."""
    policy = LiquidPolicy(config("imu_cfc"))
    assert policy.readout is None and policy.core.output_size == 4


def test_config_survives_a_dict_round_trip_with_a_baseline_core():
    cfg = with_core(CORES["mlp"])
    assert config_from_dict(PolicyConfig, config_to_dict(cfg)) == cfg
    assert np.isclose(LiquidPolicy(cfg).state_size, 3 * (32 + 16 + 1 + 1))


def arm_inputs(policy, steps=10, size=2, seed=3):
    """ArmReach-like sequences: frames, joint positions spread over (and beyond) the limits."""
    torch.manual_seed(seed)
    joints = torch.cat([torch.rand(size, steps, 6) * 7.0 - 3.5, torch.randn(size, steps, 6)], -1)
    values = {name: torch.randint(0, 256, (size, steps, 64, 64, 3), dtype=torch.uint8)
              for name in ("camera", "side_camera")}
    values["joints"] = joints
    return values, torch.rand(size, steps, len(policy.aged_streams)), torch.rand(size, steps) * 0.01 + 0.005


def test_relative_commands_are_bounded_changes_from_the_measured_joints():
    """``relative_to: joints``: a zero output commands the measured positions; any output moves
    each joint by at most max_change, and the command stays inside [low, high]."""
    policy = LiquidPolicy(config("arm_reach_cnn_cfc")).eval()
    actions = policy.config.actions
    low, high = torch.tensor(actions.low), torch.tensor(actions.high)
    values, _, _ = arm_inputs(policy)
    joints = values["joints"]
    positions = joints[..., :6]
    with torch.no_grad():
        zero = policy.actions(torch.zeros(2, 10, 6), joints)
        extreme = policy.actions(torch.randn(2, 10, 6) * 1e6, joints)
    torch.testing.assert_close(zero, positions.clamp(low, high))
    assert ((extreme >= low) & (extreme <= high)).all()
    inside = (positions > low) & (positions < high)
    assert ((extreme - positions).abs()[inside] <= 0.25 + 1e-6).all()
    clear = (positions > low + 0.25) & (positions < high - 0.25)  # the full change fits
    assert ((extreme - positions).abs()[clear] > 0.2499).all()


def test_relative_step_module_equals_the_sequence_form():
    """The deployed step reads the joint positions from its flat input as training does."""
    torch.manual_seed(4)
    policy = LiquidPolicy(config("arm_reach_cnn_cfc")).eval()
    values, ages, dt = arm_inputs(policy)
    with torch.no_grad():
        actions, _ = policy.forward_sequence(values, ages, dt)
        step, h = policy.step_module(), torch.zeros(2, policy.state_size)
        for t in range(dt.shape[1]):
            x = torch.cat([policy.encode("camera", values["camera"][:, t]),
                           policy.encode("side_camera", values["side_camera"][:, t]),
                           values["joints"][:, t], ages[:, t]], 1)
            action, h = step(x, h, dt[:, t : t + 1])
            torch.testing.assert_close(action, actions[:, t], atol=1e-5, rtol=0)


@pytest.mark.parametrize(("change", "message"), [
    ({"max_change": None}, "go together"),
    ({"max_change": [0.25, 0.0, 0.25, 0.25, 0.25, 0.25]}, "must be > 0"),
    ({"max_change": [0.25] * 5}, "max_change has 5 entries"),
    ({"relative_to": "camera"}, "must be a joint_state stream"),
])
def test_relative_actions_config_errors_name_the_fix(change, message):
    raw = config_to_dict(config("arm_reach_cnn_cfc"))
    raw["actions"].update(change)
    with pytest.raises(ConfigError, match=message):
        config_from_dict(PolicyConfig, raw)
