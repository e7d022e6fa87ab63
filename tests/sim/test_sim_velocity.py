"""QuadTarget's velocity set-points, flown by the autopilot's velocity loop in MuJoCo: the body
moves at the commanded velocity (in the heading frame), turns at the commanded yaw rate, and holds
still on the safe command, measured on the simulated physics."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest

import lnn_control.sim.envs  # noqa: F401  (registers the envs)
from lnn_control.sim.velocity import VELOCITY_LIMITS, velocity_actions


def _fly(setpoint: list[float], seconds: float, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """World velocity ``(steps, 3)`` m/s and heading ``(steps,)`` rad under a constant set-point."""
    env = gym.make("lnn_control/QuadTarget-v0", streams=("imu",))
    env.reset(seed=seed)
    data, unwrapped = env.unwrapped.data, env.unwrapped
    action = unwrapped.to_action(np.array(setpoint))
    velocities, headings = [], []
    for _ in range(round(seconds * unwrapped.CONTROL_HZ)):
        env.step(action)
        rotation = data.xmat[unwrapped._body_id].reshape(3, 3)
        velocities.append(data.qvel[:3].copy())
        headings.append(math.atan2(rotation[1, 0], rotation[0, 0]))
    env.close()
    return np.array(velocities), np.unwrap(np.array(headings))


def test_the_action_is_the_velocity_set_point_in_physical_units() -> None:
    spec = gym.make("lnn_control/QuadTarget-v0").unwrapped.action_spec()
    assert spec == velocity_actions()
    assert spec.names == ["forward_velocity", "left_velocity", "up_velocity", "yaw_rate"]
    np.testing.assert_array_equal(spec.high, VELOCITY_LIMITS)
    assert spec.safe == [0.0, 0.0, 0.0, 0.0]


@pytest.mark.parametrize("setpoint", [[0.6, -0.3, 0.2], [-0.4, 0.5, -0.3]])
def test_a_velocity_set_point_is_flown_in_the_heading_frame(setpoint: list[float]) -> None:
    velocity, heading = _fly([*setpoint, 0.0], seconds=3.0)
    forward, left, up = setpoint
    late = slice(200, 300)  # the last second
    c, s = np.cos(heading[late]), np.sin(heading[late])
    expected = np.stack([c * forward - s * left, s * forward + c * left, np.full(100, up)], axis=1)
    np.testing.assert_allclose(velocity[late].mean(axis=0), expected.mean(axis=0), atol=0.05)


def test_a_yaw_rate_set_point_turns_the_body_at_that_rate_on_the_spot() -> None:
    velocity, heading = _fly([0.0, 0.0, 0.0, 1.2], seconds=3.0)
    rate = (heading[299] - heading[99]) / 2.0  # rad/s over the last 2 s
    assert rate == pytest.approx(1.2, rel=0.05)
    assert np.abs(velocity[100:]).max() < 0.1


def test_the_safe_command_stops_the_start_velocity_and_holds_still() -> None:
    velocity, heading = _fly([0.0, 0.0, 0.0, 0.0], seconds=3.0)
    assert np.linalg.norm(velocity[150:], axis=1).max() < 0.05
    assert np.ptp(heading[100:]) < 0.05
