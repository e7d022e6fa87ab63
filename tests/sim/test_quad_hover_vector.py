"""The vectorised QuadHover on mujoco.batch: the same physics, rewards and timing model as the
single env, and Gymnasium's vector API with same-step autoreset."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import lnn_control.sim.envs  # noqa: F401  (registers the envs)
from lnn_control.errors import ConfigError
from lnn_control.sim.envs.quad_hover import QuadHoverEnv
from lnn_control.sim.envs.quad_hover_vector import QuadHoverVectorEnv
from lnn_control.units import NS_PER_S


def test_make_vec_gives_the_batched_env_with_batched_spaces() -> None:
    env = gym.make_vec("lnn_control/QuadHover-v0", num_envs=8, vectorization_mode="vector_entry_point")
    assert isinstance(env, QuadHoverVectorEnv)
    observation, info = env.reset(seed=0)
    assert observation in env.observation_space
    assert {k: v.shape for k, v in observation.items()} == {"imu": (8, 6), "odom": (8, 13), "goal": (8, 3)}
    observation, reward, terminated, truncated, info = env.step(env.action_space.sample())
    assert observation in env.observation_space and reward.shape == (8,) and info["is_success"].shape == (8,)


def test_batched_physics_and_rewards_equal_the_single_envs() -> None:
    """Same start state and actions: the batch's trajectories and rewards equal the single env's."""
    single = QuadHoverEnv()
    vector = QuadHoverVectorEnv(num_envs=3, nthread=1)
    vector.reset(seed=0)
    rng = np.random.default_rng(0)
    for env_index, seed in enumerate((1, 2, 3)):
        single.reset(seed=seed)
        vector._qpos[env_index] = single.data.qpos
        vector._qvel[env_index] = single.data.qvel
        vector.goal[env_index] = single.goal
    vector.batch.forward()
    actions = rng.uniform(-0.3, 0.3, (60, 3, 4)) + single.controller.hover_action
    trajectories = np.zeros((3, 60, 7))
    rewards = np.zeros((3, 60))
    for env_index, seed in enumerate((1, 2, 3)):
        single.reset(seed=seed)
        for step in range(60):
            _, rewards[env_index, step], _, _, _ = single.step(actions[step, env_index])
            trajectories[env_index, step] = single.data.qpos
    for step in range(60):
        _, reward, _, _, _ = vector.step(actions[step])
        np.testing.assert_allclose(vector._qpos, trajectories[:, step], rtol=0, atol=1e-12)
        np.testing.assert_allclose(reward, rewards[:, step], rtol=1e-12, atol=1e-12)


def test_batched_streams_have_the_configured_timing() -> None:
    """timing_ood in the batch: every env's schedule has its drawn rate, 30 % jitter and 5 % drops
    (within 5 %), and each observed value is at least its stream's latency old."""
    envs = 64
    vector = QuadHoverVectorEnv(num_envs=envs, scenario="timing_ood", nthread=1)
    vector.reset(seed=4)
    imu = next(s for s in vector._streams if s.name == "imu")
    intervals = np.diff(imu.stamps, axis=1) * imu.rate_hz[:, None] / NS_PER_S
    assert intervals.mean() == pytest.approx(1.0, rel=0.01)
    assert intervals.std() == pytest.approx(0.3, rel=0.05)
    assert 1.0 - imu.kept[:, 1:].mean() == pytest.approx(0.05, rel=0.05)
    nominal = QuadHoverEnv.STREAMS["imu"].timing.rate_hz
    assert np.all((imu.rate_hz >= 0.5 * nominal) & (imu.rate_hz <= 2.0 * nominal))
    hover = np.tile(vector.controller.hover_action, (envs, 1))
    for _ in range(100):
        _, _, _, _, info = vector.step(hover)
        age = vector._now - info["stamp_ns"]["imu"]
        assert np.all(age >= imu.latency)


def test_same_step_autoreset_at_the_time_limit() -> None:
    vector = QuadHoverVectorEnv(num_envs=4, max_episode_steps=5, nthread=1)
    vector.reset(seed=1)
    goals = vector.goal.copy()
    hover = np.tile(vector.controller.hover_action, (4, 1))
    for _ in range(4):
        _, _, _, truncated, info = vector.step(hover)
        assert not truncated.any() and "final_obs" not in info
    _, _, terminated, truncated, info = vector.step(hover)
    assert truncated.all() and not terminated.any() and info["_final_obs"].all()
    assert not np.allclose(vector.goal, goals)  # new episodes started in the same step
    np.testing.assert_array_equal(vector._steps, 0)


def test_vector_env_refuses_the_camera_and_a_list_of_seeds() -> None:
    with pytest.raises(ConfigError, match="stream 'camera' is not available batched"):
        QuadHoverVectorEnv(num_envs=2, streams=("imu", "camera"))
    vector = QuadHoverVectorEnv(num_envs=2, nthread=1)
    with pytest.raises(ConfigError, match="one int seed"):
        vector.reset(seed=[1, 2])


def test_physics_ood_randomises_each_batched_quadrotor() -> None:
    vector = QuadHoverVectorEnv(num_envs=16, scenario="physics_ood", nthread=1)
    vector.reset(seed=2)
    body = vector.model.body("quad").id
    masses = vector.batch.expanded("body_mass")[:, body] / vector.nominal.mass
    assert 0.7 <= masses.min() and masses.max() <= 1.3 and masses.std() > 0.05
    vector.step(np.tile(vector.controller.hover_action, (16, 1)))
    assert np.all(np.any(vector._xfrc[:, body, :3] != 0, axis=1))  # wind on every quadrotor


@pytest.mark.parametrize("scale", [0.2, 1.0])
def test_the_start_scale_shrinks_the_start_ranges(scale: float) -> None:
    """An RL curriculum's ``start_scale`` and ``heading_scale``: starts within ``scale`` x the
    scenario's offset (1 m per axis), tilt (0.2 rad), speed (0.3 m/s) and heading (pi rad) of the
    goal (nominal)."""
    env = QuadHoverVectorEnv(num_envs=512, nthread=1)
    env.start_scale = env.heading_scale = scale
    env.reset(seed=1)
    offset = np.abs(env._qpos[:, :3] - env.goal)
    assert offset.max() <= 1.0 * scale + 1e-9 and offset.max() > 0.9 * scale
    w, x, y, z = env._qpos[:, 3:7].T
    tilt = np.arccos(np.clip(1.0 - 2.0 * (x * x + y * y), -1.0, 1.0))  # angle of the body z from up
    assert tilt.max() <= np.hypot(0.2, 0.2) * scale + 1e-6
    heading = np.abs(np.arctan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z)))  # ZYX yaw
    assert heading.max() <= np.pi * scale + 1e-6 and heading.max() > 0.9 * np.pi * scale
    assert np.abs(env._qvel[:, :3]).max() <= 0.3 * scale + 1e-12


def test_flying_pays_more_than_crashing_from_any_start() -> None:
    """The reward's promise (goal_reward): hovering still anywhere a nominal start can be (up to
    sqrt(3) m from the goal) earns more every step than nothing, holding the goal earns most, and
    a crash costs more than 10 steps of hovering far away earn."""
    from lnn_control.sim.envs.quadrotor_env import CRASH_PENALTY, goal_reward

    distances = np.linspace(0.0, np.sqrt(3.0), 200)
    still = goal_reward(distances, 0.0, 0.0, 0.0, False)
    assert still.min() > 0.0 and still.argmax() == 0 and np.all(np.diff(still) < 0)
    assert goal_reward(1.0, 0.0, 0.0, 0.0, True) == pytest.approx(goal_reward(1.0, 0.0, 0.0, 0.0, False) - CRASH_PENALTY)
    assert CRASH_PENALTY > 10 * still[-1]
