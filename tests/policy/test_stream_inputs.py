"""The vector encoder's odometry orientation (``orientation: matrix``): the quaternion read as its
rotation matrix, so that q and -q (the same attitude) give the same command, in every engine."""

import dataclasses

import numpy as np
import pytest
import torch
from policies import config
from scipy.spatial.transform import Rotation

from lnn_control.errors import ConfigError
from lnn_control.perception import VectorEncoder
from lnn_control.perception.vector import rotation_matrix
from lnn_control.policy import LiquidPolicy, PolicyConfig, PolicyRuntime, StreamSpec


def hover(orientation: str) -> PolicyConfig:
    """config/models/quad_hover_cfc.yaml with its odometry read as ``orientation``."""
    loaded = config("quad_hover_cfc")
    streams = [dataclasses.replace(s, orientation=orientation) if s.kind == "odometry" else s
               for s in loaded.streams]
    return dataclasses.replace(loaded, streams=streams)


def test_the_rotation_matrix_is_scipys_for_q_and_minus_q_of_any_norm():
    q = Rotation.random(50, random_state=1).as_quat()  # [x, y, z, w]
    scaled = q * np.random.default_rng(1).uniform(0.5, 2.0, (50, 1))
    expected = Rotation.from_quat(q).as_matrix().reshape(50, 9)
    for value in (scaled, -scaled):
        np.testing.assert_allclose(rotation_matrix(torch.from_numpy(value)).numpy(), expected, atol=1e-12)
    # before a stream's first message its value is zeros: finite, the identity
    np.testing.assert_array_equal(rotation_matrix(torch.zeros(4)).numpy(), np.eye(3).reshape(9))


def test_statistics_are_those_of_the_matrix():
    rng = np.random.default_rng(2)
    q = Rotation.random(200, random_state=2).as_quat()
    values = np.concatenate([rng.normal(0, 1, (200, 3)), q * np.sign(rng.normal(size=(200, 1))),
                             rng.normal(0, 2, (200, 6))], axis=1)
    encoder = VectorEncoder(13, 8, quaternion_at=3)
    encoder.fit_statistics(torch.from_numpy(values), 1e-6)
    inputs = np.concatenate([values[:, :3], Rotation.from_quat(q).as_matrix().reshape(200, 9), values[:, 7:]], axis=1)
    np.testing.assert_allclose(encoder.mean.numpy(), inputs.mean(0), atol=1e-6)
    np.testing.assert_allclose(encoder.std.numpy(), inputs.std(0), atol=1e-6)
    assert encoder.linear is not None and encoder.linear.in_features == 18


def flight_commands(policy: LiquidPolicy, sign: float, engine: str = "torch") -> np.ndarray:
    """Commands over 0.3 s of 200 Hz IMU and 100 Hz odometry while the heading turns through
    pi (where a quaternion with w >= 0 flips sign), the odometry's quaternion times ``sign``."""
    runtime = PolicyRuntime(policy, engine)
    start = 1_000_000_000
    runtime.on_event("goal", start, np.array([0.5, -0.2, 1.0], np.float32))
    out = []
    for i in range(60):
        stamp = start + i * 5_000_000
        if i % 2 == 0:
            yaw = np.pi - 0.15 + 0.01 * i
            q = Rotation.from_euler("xyz", [0.05, -0.03, yaw]).as_quat()
            if q[3] < 0:
                q = -q
            odometry = np.concatenate([[0.1, 0.2, 0.9], sign * q, [0.2, -0.1, 0.05], [0.3, -0.2, 0.1]])
            runtime.on_event("odom", stamp, odometry.astype(np.float32))
        runtime.on_event("imu", stamp, np.array([0.3, -0.2, 0.1, 0.2, -0.1, 9.8], np.float32))
        out.append(runtime.command(stamp))
    return np.array(out)


def test_q_and_minus_q_give_the_same_commands_only_with_the_matrix():
    torch.manual_seed(4)
    matrix = LiquidPolicy(hover("matrix")).eval()
    np.testing.assert_allclose(flight_commands(matrix, 1.0), flight_commands(matrix, -1.0), atol=1e-6, rtol=0)
    torch.manual_seed(4)
    quaternion = LiquidPolicy(hover("quaternion")).eval()
    assert np.abs(flight_commands(quaternion, 1.0) - flight_commands(quaternion, -1.0)).max() > 1e-3


@pytest.mark.parametrize("engine", ["onnx", "native"])
def test_the_exported_engines_read_the_matrix_as_torch_does(engine):
    torch.manual_seed(5)
    policy = LiquidPolicy(hover("matrix")).eval()
    np.testing.assert_allclose(flight_commands(policy, -1.0, engine), flight_commands(policy, -1.0),
                               atol=1e-5, rtol=0)


def test_the_matrix_is_for_odometry_streams_only():
    with pytest.raises(ConfigError, match="odometry streams only"):
        StreamSpec(name="imu", kind="imu", orientation="matrix")
