"""The MJCF scenes: they compile and step without MuJoCo warnings, and obey physical facts."""

from __future__ import annotations

import math

import gymnasium as gym
import mujoco
import numpy as np
import pytest

import lnn_control.sim.envs  # noqa: F401  (registers the envs)
from lnn_control.sim.arm import HOME
from lnn_control.sim.envs import ENV_IDS
from lnn_control.sim.errors import SimulationError
from lnn_control.sim.mjcf import ROBOTS, check_warnings, load_scene, warning_counts
from lnn_control.sim.quadrotor import ROTOR_DRAG, QuadrotorParams, RateController
from lnn_control.sim.scenarios import QuadrotorRandomisation, Scenario

G = 9.81


def _quad(drag: bool) -> tuple[mujoco.MjModel, mujoco.MjData, QuadrotorParams]:
    """The quadrotor scene at rest, level, 10 m up, motors off; with or without rotor drag."""
    model = load_scene("quadrotor")
    if drag:
        model.dof_damping[:3] = ROTOR_DRAG
    data = mujoco.MjData(model)
    data.qpos[:3] = (0.0, 0.0, 10.0)
    mujoco.mj_forward(model, data)
    return model, data, QuadrotorParams.from_model(model)


@pytest.mark.parametrize("robot", ROBOTS)
def test_every_scene_compiles_and_steps_without_warnings(robot: str) -> None:
    model = load_scene(robot)
    data = mujoco.MjData(model)
    rng = np.random.default_rng(0)
    low, high = model.actuator_ctrlrange.T
    for _ in range(2_000):  # 4-5 s of random commands within the actuators' ranges
        data.ctrl[:] = rng.uniform(low, high)
        mujoco.mj_step(model, data)
    assert warning_counts(data) == {}
    check_warnings(data, robot)


@pytest.mark.parametrize("env_id", ENV_IDS)
@pytest.mark.parametrize("scenario", ["nominal", "physics_ood"])
def test_every_env_steps_without_warnings(env_id: str, scenario: str) -> None:
    env = gym.make(env_id, scenario=scenario, streams=None)
    env.reset(seed=1)
    env.action_space.seed(1)
    for _ in range(200):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()
    check_warnings(env.unwrapped.data, env_id)


def test_warnings_are_reported() -> None:
    model, data, _ = _quad(drag=False)
    data.qvel[0] = float("nan")
    mujoco.mj_step(model, data)
    with pytest.raises(SimulationError, match="mjWARN_BADQVEL"):
        check_warnings(data, "quadrotor")


def test_quadrotor_parameters_are_the_cited_crazyflie_values() -> None:
    params = QuadrotorParams.from_model(load_scene("quadrotor"))
    assert params.mass == pytest.approx(0.027)
    np.testing.assert_allclose(params.inertia, [1.4e-5, 1.4e-5, 2.17e-5])
    assert params.max_thrust / (params.mass * G) == pytest.approx(2.25, rel=1e-3)  # thrust-to-weight
    assert params.motor_tau == pytest.approx(0.025)
    np.testing.assert_allclose(np.abs(params.allocation[3]), 7.94e-12 / 3.16e-10, rtol=1e-3)  # km / kf
    arm = np.hypot(params.allocation[1], params.allocation[2])
    np.testing.assert_allclose(arm, 0.0397, rtol=2e-3)


@pytest.mark.parametrize("drag", [False, True])
def test_free_fall_follows_the_closed_form(drag: bool) -> None:
    """Motors off from rest: z(t) = z0 - g t^2 / 2, or with linear drag c = K/m,
    z(t) = z0 - (g / c) (t - (1 - exp(-c t)) / c). The accelerometer reads the drag's specific force."""
    model, data, params = _quad(drag)
    c = ROTOR_DRAG[2] / params.mass if drag else 0.0
    steps = round(1.0 / model.opt.timestep)
    mujoco.mj_step(model, data, steps)
    t = data.time
    fall = 0.5 * G * t * t if not drag else (G / c) * (t - (1 - math.exp(-c * t)) / c)
    # semi-implicit Euler differs from the exact solution by at most g t dt / 2
    assert data.qpos[2] == pytest.approx(10.0 - fall, abs=0.5 * G * t * model.opt.timestep + 1e-9)
    mujoco.mj_forward(model, data)
    accelerometer = data.sensor("accel").data
    expected = -ROTOR_DRAG[2] * data.qvel[2] / params.mass if drag else 0.0
    np.testing.assert_allclose(accelerometer, [0.0, 0.0, expected], atol=1e-9)


def test_hover_thrust_equals_weight_and_holds_height() -> None:
    """The CTBR hover action (thrust m g, zero rates) holds a level quadrotor still."""
    model, data, params = _quad(drag=True)
    controller = RateController(params)
    hover = controller.motor_commands(controller.hover_action, np.zeros(3))
    data.act[:] = hover
    for _ in range(800):  # 2 s at 400 Hz, the rate loop at every step
        data.ctrl[:] = controller.motor_commands(controller.hover_action, data.qvel[3:6])
        mujoco.mj_step(model, data)
    assert data.actuator_force.sum() == pytest.approx(params.mass * G, rel=1e-9)
    assert abs(data.qpos[2] - 10.0) < 1e-9
    np.testing.assert_allclose(data.qvel, 0.0, atol=1e-9)
    np.testing.assert_allclose(data.sensor("accel").data, [0.0, 0.0, G], rtol=1e-9)  # +g up
    check_warnings(data, "hover")


def test_motor_lag_is_first_order_with_the_modelled_time_constant() -> None:
    model, data, params = _quad(drag=False)
    data.ctrl[:] = 1.0
    times, thrust = [], []
    for _ in range(100):
        mujoco.mj_step(model, data)
        times.append(data.time)
        thrust.append(data.act[0] * params.rotor_max_thrust[0])
    expected = params.rotor_max_thrust[0] * (1.0 - np.exp(-np.array(times) / params.motor_tau))
    np.testing.assert_allclose(thrust, expected, rtol=1e-9)  # filterexact: exact at any step


def test_rate_controller_tracks_a_body_rate_command() -> None:
    """A roll-rate command settles on the commanded rate (within 5 %) in 0.3 s."""
    model, data, params = _quad(drag=True)
    controller = RateController(params)
    data.act[:] = controller.motor_commands(controller.hover_action, np.zeros(3))
    command = controller.action(params.hover_thrust, np.array([2.0, 0.0, 0.0]))
    for _ in range(30):  # 0.3 s at 100 Hz, four physics steps each
        data.ctrl[:] = controller.motor_commands(command, data.qvel[3:6])
        mujoco.mj_step(model, data, 4)
    assert data.qvel[3] == pytest.approx(2.0, rel=0.05)
    assert abs(data.qvel[4]) < 0.05 and abs(data.qvel[5]) < 0.05


def test_imu_at_hover_reads_gravity_in_the_env() -> None:
    """QuadHover-v0 hovering (the expert at its goal): over the last 2 s the IMU's specific force
    averages (0, 0, g + a_z) in the body frame (thrust acts along body z; a_z = dv_z/dt from ground
    truth, ~0 at hover; x and y carry only the rotor drag, K |v| / m), exactly without noise and
    within what the noise and turn-on bias allow with it."""
    from lnn_control.sim.experts import make_expert
    from lnn_control.sim.imu import ImuNoise
    from lnn_control.sim.rollout import run_episode

    noiseless = Scenario(
        name="noiseless",
        imu=ImuNoise(0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
        quadrotor=QuadrotorRandomisation(start_offset=0.3),
    )
    for scenario in ("nominal", noiseless):
        env = gym.make("lnn_control/QuadHover-v0", scenario=scenario)
        samples: list[np.ndarray] = []
        truth: list[np.ndarray] = []

        def collect(env: gym.Env, observation: object, info: dict) -> None:
            if env.unwrapped.now_ns >= 3_000_000_000:  # the last 2 s of the 5 s episode
                samples.extend(e.value for e in info["sensor_events"] if e.stream == "imu")
                truth.extend(e.value for e in info["privileged_events"] if e.stream == "ground_truth")

        result = run_episode(env, make_expert("lnn_control/QuadHover-v0"), seed=4, on_step=collect)
        assert result.success
        acceleration = (truth[-1][7:10] - truth[0][7:10]) / 2.0  # world frame, m/s^2
        assert np.linalg.norm(acceleration) < 0.05 and np.abs(truth[-1][3:5]).max() < 0.01  # hovering, level
        expected = np.array([0.0, 0.0, 0.0, 0.0, 0.0, G + acceleration[2]])
        drag = ROTOR_DRAG.max() / env.unwrapped.nominal.mass * max(np.linalg.norm(t[7:10]) for t in truth)
        mean = np.mean(samples, axis=0)
        noise = env.unwrapped.scenario.imu
        rate = env.unwrapped.stream_timing["imu"].rate_hz
        white = np.repeat([noise.gyro_noise_density, noise.accel_noise_density], 3) * math.sqrt(rate)
        bias = np.repeat([noise.gyro_bias_std, noise.accel_bias_std], 3)
        tolerance = 4.0 * np.sqrt(bias**2 + white**2 / len(samples)) + drag + 1e-3
        np.testing.assert_array_less(np.abs(mean - expected), tolerance)
        env.close()


def test_arm_holds_home_under_gravity_and_its_wrist_imu_reads_g() -> None:
    model = load_scene("arm")
    data = mujoco.MjData(model)
    data.qpos[:] = HOME
    data.ctrl[:] = HOME
    mujoco.mj_step(model, data, 1_000)  # 2 s
    np.testing.assert_allclose(data.qpos, HOME, atol=1e-6)  # gravity compensated, like UR's controller
    assert np.linalg.norm(data.sensor("wrist_accel").data) == pytest.approx(G, rel=1e-6)
    np.testing.assert_allclose(data.sensor("wrist_gyro").data, 0.0, atol=1e-6)
    check_warnings(data, "arm")
