"""What a vector stream's encoder reads (:mod:`lnn_control.policy.stream_inputs`): the odometry's
orientation as a rotation matrix (q and -q, the same attitude, give the same command) or as the
up direction, its velocity and a goal in the body frame (commands do not depend on the heading),
against scipy's rotations, in every engine."""

import dataclasses

import numpy as np
import pytest
import torch
from policies import config
from scipy.spatial.transform import Rotation

from lnn_control.errors import ConfigError
from lnn_control.policy import LiquidPolicy, PolicyConfig, PolicyRuntime, StreamSpec
from lnn_control.policy.stream_inputs import rotation_matrix, stream_input

#: the heading-free reading: up direction, body velocity, goal offset in the body frame
BODY = {"orientation": "up", "velocity": "body", "offset_from": "odom"}


def hover(orientation: str, velocity: str = "world", offset_from: str | None = None) -> PolicyConfig:
    """config/models/quad_hover_cfc.yaml with its odometry read as ``orientation`` and
    ``velocity``, and its goal ``offset_from``."""
    loaded = config("quad_hover_cfc")
    options = {"odometry": {"orientation": orientation, "velocity": velocity}, "vector": {"offset_from": offset_from}}
    streams = [dataclasses.replace(s, **options.get(s.kind, {})) for s in loaded.streams]
    return dataclasses.replace(loaded, streams=streams)


def test_the_rotation_matrix_is_scipys_for_q_and_minus_q_of_any_norm():
    q = Rotation.random(50, random_state=1).as_quat()  # [x, y, z, w]
    scaled = q * np.random.default_rng(1).uniform(0.5, 2.0, (50, 1))
    expected = Rotation.from_quat(q).as_matrix().reshape(50, 9)
    for value in (scaled, -scaled):
        np.testing.assert_allclose(rotation_matrix(torch.from_numpy(value)).numpy(), expected, atol=1e-12)
    # before a stream's first message its value is zeros: finite, the identity
    np.testing.assert_array_equal(rotation_matrix(torch.zeros(4)).numpy(), np.eye(3).reshape(9))


def odometry_values(count: int, seed: int) -> tuple[np.ndarray, Rotation]:
    """``(count, 13)`` odometry values with random attitudes (either sign) and their rotations."""
    rng = np.random.default_rng(seed)
    rotation = Rotation.random(count, random_state=seed)
    q = rotation.as_quat() * np.sign(rng.normal(size=(count, 1)))
    return np.concatenate([rng.normal(0, 1, (count, 3)), q, rng.normal(0, 2, (count, 6))], axis=1), rotation


def test_each_reading_is_scipys_rotation_of_the_values():
    odometry, rotation = odometry_values(200, 2)
    goal = np.random.default_rng(3).normal(0, 2, (200, 3))
    spec = {s.name: s for s in hover("up", "body", "odom").streams}
    held = {"odom": torch.from_numpy(odometry), "goal": torch.from_numpy(goal)}
    body = rotation.inv()
    up = body.apply([0.0, 0.0, 1.0])
    expected = np.concatenate([odometry[:, :3], up, body.apply(odometry[:, 7:10]), odometry[:, 10:]], axis=1)
    np.testing.assert_allclose(stream_input(spec["odom"], held).numpy(), expected, atol=1e-12)
    np.testing.assert_allclose(stream_input(spec["goal"], held).numpy(), body.apply(goal - odometry[:, :3]), atol=1e-12)
    matrix = dataclasses.replace(spec["odom"], orientation="matrix", velocity="world")
    expected = np.concatenate([odometry[:, :3], rotation.as_matrix().reshape(200, 9), odometry[:, 7:]], axis=1)
    np.testing.assert_allclose(stream_input(matrix, held).numpy(), expected, atol=1e-12)


def test_statistics_are_those_of_what_the_encoders_read():
    torch.manual_seed(2)
    policy = LiquidPolicy(hover("matrix"))
    odometry, rotation = odometry_values(200, 2)
    held = {"odom": torch.from_numpy(odometry)}
    policy.encoders["odom"].fit_statistics(policy.encoder_input("odom", held), 1e-6)
    inputs = np.concatenate([odometry[:, :3], rotation.as_matrix().reshape(200, 9), odometry[:, 7:]], axis=1)
    np.testing.assert_allclose(policy.encoders["odom"].mean.numpy(), inputs.mean(0), atol=1e-6)
    np.testing.assert_allclose(policy.encoders["odom"].std.numpy(), inputs.std(0), atol=1e-6)
    assert policy.encoders["odom"].linear.in_features == 18
    assert LiquidPolicy(hover("up", "body")).encoders["odom"].linear.in_features == 12


def flight_commands(policy: LiquidPolicy, sign: float, engine: str = "torch", turn: float = 0.0) -> np.ndarray:
    """Commands over 0.3 s of 200 Hz IMU and 100 Hz odometry while the heading turns through
    pi (where a quaternion with w >= 0 flips sign), the odometry's quaternion times ``sign``;
    the whole flight (goal, position, velocity, heading) turned by ``turn`` rad about the vertical."""
    runtime = PolicyRuntime(policy, engine)
    start = 1_000_000_000
    world = Rotation.from_euler("z", turn)
    runtime.on_event("goal", start, world.apply([0.5, -0.2, 1.0]).astype(np.float32))
    out = []
    for i in range(60):
        stamp = start + i * 5_000_000
        if i % 2 == 0:
            yaw = np.pi - 0.15 + 0.01 * i
            q = (world * Rotation.from_euler("xyz", [0.05, -0.03, yaw])).as_quat()
            if q[3] < 0:
                q = -q
            odometry = np.concatenate([world.apply([0.1, 0.2, 0.9]), sign * q, world.apply([0.2, -0.1, 0.05]),
                                       [0.3, -0.2, 0.1]])
            runtime.on_event("odom", stamp, odometry.astype(np.float32))
        runtime.on_event("imu", stamp, np.array([0.3, -0.2, 0.1, 0.2, -0.1, 9.8], np.float32))
        out.append(runtime.command(stamp))
    return np.array(out)


@pytest.mark.parametrize("reading", ["matrix", "body"])
def test_q_and_minus_q_give_the_same_commands_only_with_a_rotation(reading):
    torch.manual_seed(4)
    policy = LiquidPolicy(hover("matrix") if reading == "matrix" else hover(**BODY)).eval()
    np.testing.assert_allclose(flight_commands(policy, 1.0), flight_commands(policy, -1.0), atol=1e-6, rtol=0)
    torch.manual_seed(4)
    quaternion = LiquidPolicy(hover("quaternion")).eval()
    assert np.abs(flight_commands(quaternion, 1.0) - flight_commands(quaternion, -1.0)).max() > 1e-3


def test_in_the_body_frame_only_the_world_position_depends_on_the_heading():
    torch.manual_seed(6)
    policy = LiquidPolicy(hover(**BODY)).eval()
    with torch.no_grad():  # the position's weights zeroed: what is left reads nothing of the heading
        policy.encoders["odom"].linear.weight[:, :3] = 0.0
    np.testing.assert_allclose(flight_commands(policy, 1.0, turn=2.0), flight_commands(policy, 1.0), atol=1e-5, rtol=0)
    matrix = LiquidPolicy(hover("matrix")).eval()  # the control: a world-frame reading turns with the world
    assert np.abs(flight_commands(matrix, 1.0, turn=2.0) - flight_commands(matrix, 1.0)).max() > 1e-3


@pytest.mark.parametrize("engine", ["onnx", "native"])
@pytest.mark.parametrize("reading", ["matrix", "body"])
def test_the_exported_engines_read_as_torch_does(engine, reading):
    torch.manual_seed(5)
    policy = LiquidPolicy(hover("matrix") if reading == "matrix" else hover(**BODY)).eval()
    np.testing.assert_allclose(flight_commands(policy, -1.0, engine), flight_commands(policy, -1.0),
                               atol=1e-5, rtol=0)


@pytest.mark.parametrize(("options", "message"), [
    ({"kind": "imu", "orientation": "matrix"}, "odometry streams only"),
    ({"kind": "imu", "velocity": "body"}, "odometry streams only"),
    ({"kind": "vector", "size": 2, "offset_from": "odom"}, "vector streams of size 3"),
])
def test_the_readings_are_refused_where_they_do_not_apply(options, message):
    with pytest.raises(ConfigError, match=message):
        StreamSpec(name="s", **options)


def test_offset_from_must_name_an_odometry_stream():
    loaded = hover("quaternion")
    streams = [dataclasses.replace(s, offset_from="imu") if s.kind == "vector" else s for s in loaded.streams]
    with pytest.raises(ConfigError, match="offset_from 'imu' must name an odometry stream"):
        dataclasses.replace(loaded, streams=streams)
