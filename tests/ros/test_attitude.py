"""The ``attitude`` stream: the world's up direction in the body frame, read from a real
``sensor_msgs/Imu`` orientation or ``geometry_msgs/QuaternionStamped`` (rclpy classes), checked
against scipy's rotations; and the simulated stream against MuJoCo's body orientation."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

import lnn_control.sim.envs  # noqa: F401  (registers the envs)
from lnn_control.errors import ShapeError
from lnn_control.policy.messages.building import stream_message
from lnn_control.policy.messages.sensors import MESSAGE_TYPES, stream_value
from lnn_control.ros.conversions import fill, message_class
from lnn_control.sim.envs.quadrotor_env import ATTITUDE_ERROR_STD

TYPES = MESSAGE_TYPES["attitude"]


def _message(msgtype: str, quaternion_xyzw: np.ndarray) -> object:
    q = dict(zip("xyzw", (float(c) for c in quaternion_xyzw)))
    field = {"sensor_msgs/msg/Imu": "orientation", "geometry_msgs/msg/QuaternionStamped": "quaternion"}
    return fill(message_class(msgtype)(), {field[msgtype]: q})


@pytest.mark.parametrize("msgtype", TYPES)
def test_up_direction_in_the_body_frame_from_an_orientation(msgtype: str) -> None:
    """``R^T [0, 0, 1]`` for random orientations (scipy's quaternions are [x, y, z, w] too),
    also when the quaternion is not normalised."""
    rotations = Rotation.random(20, random_state=0)
    for rotation, scale in zip(rotations, np.linspace(0.5, 2.0, 20)):
        _, value, _ = stream_value("attitude", msgtype, _message(msgtype, scale * rotation.as_quat()))
        np.testing.assert_allclose(value, rotation.inv().apply([0.0, 0.0, 1.0]), atol=1e-6)


@pytest.mark.parametrize("msgtype", TYPES)
def test_simulated_attitude_messages_read_back_as_sent(msgtype: str) -> None:
    rng = np.random.default_rng(1)
    ups = [np.array([0.0, 0.0, 1.0]), np.array([0.0, 0.0, -1.0]), np.array([1.0, 0.0, 0.0])]
    ups += [v / np.linalg.norm(v) for v in rng.normal(size=(10, 3))]
    for up in ups:
        data = stream_message("attitude", msgtype, up, 123_456_789)
        stamp, value, _ = stream_value("attitude", msgtype, fill(message_class(msgtype)(), data))
        assert stamp == 123_456_789
        np.testing.assert_allclose(value, up, atol=1e-6)


def test_an_imu_without_orientation_is_refused_naming_the_fix() -> None:
    imu = fill(message_class("sensor_msgs/msg/Imu")(), stream_message(
        "imu", "sensor_msgs/msg/Imu", np.zeros(6), 0))  # REP 145: orientation_covariance[0] = -1
    with pytest.raises(ShapeError, match="carries no orientation.*/mavros/imu/data"):
        stream_value("attitude", "sensor_msgs/msg/Imu", imu)


def test_a_zero_quaternion_gives_no_finite_value() -> None:
    """Left to the runtime's finiteness check, which rejects the event and counts it."""
    _, value, _ = stream_value("attitude", "geometry_msgs/msg/QuaternionStamped",
                               _message("geometry_msgs/msg/QuaternionStamped", np.zeros(4)))
    assert not np.isfinite(value).any()


def test_simulated_attitude_is_the_body_orientation_off_by_a_fixed_small_tilt() -> None:
    """QuadTarget's ``attitude`` events: unit vectors within a few ATTITUDE_ERROR_STD of MuJoCo's
    true up direction, the error the same through an episode and different between seeds; the
    episode (start, target) is the same whether or not the stream is chosen."""
    errors = []
    for seed in (0, 1):
        env = gym.make("lnn_control/QuadTarget-v0", streams=("imu", "attitude"))
        _, info = env.reset(seed=seed)
        plain = gym.make("lnn_control/QuadTarget-v0", streams=("imu",))
        plain.reset(seed=seed)
        np.testing.assert_array_equal(env.unwrapped.target, plain.unwrapped.target)
        np.testing.assert_array_equal(env.unwrapped.data.qpos, plain.unwrapped.data.qpos)
        rng = np.random.default_rng(seed)
        episode = []
        for _ in range(40):
            action = rng.uniform(-0.3, 0.3, 4).astype(np.float32)
            before = env.unwrapped.data.xmat[env.unwrapped._body_id, 6:9].copy()
            _, _, _, _, info = env.step(action)
            for event in info["sensor_events"]:
                if event.stream == "attitude":
                    episode.append((event.value, before))
        assert len(episode) > 30  # 100 Hz over 0.4 s
        for value, _ in episode:
            assert np.linalg.norm(value) == pytest.approx(1.0)
        angles = [np.degrees(np.arccos(np.clip(v @ t / np.linalg.norm(t), -1, 1))) for v, t in episode]
        assert max(angles) < 4 * np.degrees(ATTITUDE_ERROR_STD) * np.sqrt(2) + 3.0  # + motion in a step
        errors.append(np.median([v - t for v, t in episode], axis=0))
        env.close()
        plain.close()
    assert not np.allclose(errors[0], errors[1], atol=1e-3)
