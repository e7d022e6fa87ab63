"""The registered envs: Gymnasium's and SB3's checkers pass, seeded resets are deterministic, and
the observation and events follow the policy's stream contract."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import lnn_control.sim.envs  # noqa: F401  (registers the envs)
from lnn_control.errors import ConfigError
from lnn_control.policy.events import SensorEvent
from lnn_control.sim.envs import ENV_IDS
from lnn_control.sim.events import EventBatch

#: what both checkers say about unbounded float streams (as for Gymnasium's own MuJoCo envs)
UNBOUNDED = ("minimum value is -infinity", "maximum value is infinity")


def _rollout(env: gym.Env, seed: int, steps: int) -> list[tuple]:
    observation, info = env.reset(seed=seed)
    env.action_space.seed(seed)
    trace = [(observation, info["sensor_events"], info["privileged_events"])]
    for _ in range(steps):
        observation, reward, terminated, truncated, info = env.step(env.action_space.sample())
        trace.append((observation, reward, info["sensor_events"], info["privileged_events"]))
        if terminated or truncated:
            break
    return trace


def _same(a: object, b: object) -> bool:
    return gym.utils.env_checker.data_equivalence(a, b, exact=True)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_gymnasium_and_sb3_checkers_pass(env_id: str) -> None:
    env = gym.make(env_id, render_mode="rgb_array").unwrapped
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env)
        sb3_check_env(env, warn=True, skip_render_check=False)
    unexpected = [str(w.message) for w in caught if not any(u in str(w.message) for u in UNBOUNDED)]
    assert unexpected == []
    frame = env.render()
    assert frame.shape == (240, 240, 3) and frame.dtype == np.uint8 and frame.std() > 5
    env.close()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_seeded_resets_are_deterministic(env_id: str) -> None:
    env = gym.make(env_id)
    first, again, other = _rollout(env, 11, 30), _rollout(env, 11, 30), _rollout(env, 12, 30)
    assert _same(first, again)
    assert not _same(first[0][0], other[0][0])
    env.close()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_observation_holds_each_streams_newest_message(env_id: str) -> None:
    env = gym.make(env_id)
    observation, info = env.reset(seed=5)
    newest = {e.stream: e.value for e in info["sensor_events"]}
    assert set(newest) == set(observation) == set(env.unwrapped.streams)
    for _ in range(40):
        observation, _, _, _, info = env.step(env.action_space.sample())
        assert isinstance(info["sensor_events"], EventBatch)
        for event in info["sensor_events"]:
            assert isinstance(event, SensorEvent) and event.stream in observation
            newest[event.stream] = event.value
        for name, value in newest.items():
            np.testing.assert_array_equal(observation[name], value.astype(observation[name].dtype))
    env.close()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_privileged_streams_are_apart_and_never_observed(env_id: str) -> None:
    env = gym.make(env_id)
    unwrapped = env.unwrapped
    privileged = {name for name, spec in unwrapped.STREAMS.items() if spec.privileged}
    assert {"ground_truth", "physics"} <= privileged and not privileged & set(env.observation_space.spaces)
    _, info = env.reset(seed=0)
    assert {e.stream for e in info["privileged_events"]} <= privileged
    _, _, _, _, info = env.step(env.action_space.sample())
    truth, physics = info["privileged_events"]
    assert truth.stream == "ground_truth" and truth.stamp_ns == unwrapped.now_ns
    assert physics.stream == "physics" and physics.stamp_ns == unwrapped.now_ns
    assert not {e.stream for e in info["sensor_events"]} & privileged
    for name in privileged:
        with pytest.raises(ConfigError, match=f"stream '{name}' is privileged"):
            gym.make(env_id, streams=(name,))
    env.close()


def test_unknown_or_repeated_streams_are_refused_with_the_choices() -> None:
    with pytest.raises(ConfigError, match=r"stream 'lidar' does not exist; observable streams are imu, attitude, odom, camera, goal"):
        gym.make("lnn_control/QuadHover-v0", streams=("imu", "lidar"))
    with pytest.raises(ConfigError, match="distinct"):
        gym.make("lnn_control/QuadHover-v0", streams=("imu", "imu"))


def test_quad_target_observes_no_target_position() -> None:
    env = gym.make("lnn_control/QuadTarget-v0")
    assert set(env.observation_space.spaces) == {"camera", "attitude", "imu"}
    assert env.observation_space["camera"].shape == (64, 64, 3)
    _, info = env.reset(seed=0)
    goal = next(e for e in info["privileged_events"] if e.stream == "goal").value
    target = env.unwrapped.target
    bearing = np.arctan2(*(target[:2] - goal[:2])[::-1])
    assert np.linalg.norm(target - goal[:3]) == pytest.approx(env.unwrapped.STANDOFF)
    assert goal[3] == pytest.approx(bearing)  # the goal's yaw faces the target


def test_odometry_uses_ros_quaternion_order_and_matches_ground_truth_at_reset() -> None:
    env = gym.make("lnn_control/QuadHover-v0")
    observation, info = env.reset(seed=9)
    truth = next(e for e in info["privileged_events"] if e.stream == "ground_truth")
    data = env.unwrapped.data
    np.testing.assert_allclose(truth.value[3:7], [*data.qpos[4:7], data.qpos[3]])  # [qx, qy, qz, qw]
    odom = next(e for e in info["sensor_events"] if e.stream == "odom").value
    np.testing.assert_allclose(odom, truth.value, atol=1e-12)  # both stamped 0: the exact state


def test_stream_selection_does_not_change_the_episode() -> None:
    """The task is drawn before the streams, so an expert evaluated without the camera flies the
    same episodes as with it."""
    states = []
    for streams in (None, ("imu",), ("imu", "odom", "camera")):
        env = gym.make("lnn_control/QuadTarget-v0", streams=streams)
        env.reset(seed=21)
        for _ in range(50):
            env.step(env.unwrapped.controller.hover_action)
        states.append(np.concatenate([env.unwrapped.data.qpos, env.unwrapped.data.qvel, env.unwrapped.target]))
        env.close()
    np.testing.assert_array_equal(states[0], states[1])
    np.testing.assert_array_equal(states[0], states[2])


def test_ctbr_action_maps_to_the_documented_physical_values() -> None:
    env = gym.make("lnn_control/QuadHover-v0").unwrapped
    controller = env.controller
    assert controller.action(0.0, np.zeros(3))[0] == -1.0
    assert controller.action(2.25 * 0.027 * 9.81, np.zeros(3))[0] == pytest.approx(1.0, abs=1e-3)
    np.testing.assert_allclose(controller.action(0.3, np.array([6.0, -6.0, 3.0]))[1:], [1.0, -1.0, 1.0])
    assert controller.hover_action[0] == pytest.approx(2.0 / 2.25 - 1.0, abs=1e-3)
