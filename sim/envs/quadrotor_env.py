"""What the quadrotor envs share: the Crazyflie scene, its streams, CTBR actions, wind, and the
task maths (start states, reward, crashes, success) written once for one env or a batch.

See :mod:`lnn_control.sim.quadrotor` for the action's physical meaning and the rate controller.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import mujoco
import numpy as np

from lnn_control.sim.envs.base import ROS_QUATERNION_ORDER, SensorEnv, held, quaternion_to_ros
from lnn_control.policy.config import ActionSpec
from lnn_control.sim.quadrotor import (
    BODY,
    MAX_RATES,
    PHYSICS_SIZE,
    QuadrotorDraw,
    QuadrotorParams,
    RateController,
    Wind,
    draw_quadrotor,
    quaternion_from_euler,
)
from lnn_control.sim.scenarios import QuadrotorRandomisation
from lnn_control.sim.streams import EnvStream, Reader
from lnn_control.sim.timing import StreamTiming

__all__ = [
    "ATTITUDE_ERROR_STD",
    "ALIVE_REWARD",
    "CRASH_PENALTY",
    "HOLD_RADIUS",
    "HOLD_TIME",
    "QUADROTOR_STREAMS",
    "QuadrotorEnv",
    "crashed",
    "goal_reward",
    "quadrotor_actions",
    "sample_start",
]

#: streams every quadrotor env offers (the goal's stream differs per env)
QUADROTOR_STREAMS: dict[str, EnvStream] = {
    "imu": EnvStream(
        "imu", (6,), "gyro [wx, wy, wz] rad/s then specific force [ax, ay, az] m/s^2 (+9.81 up at "
        "rest), body frame, with white noise and bias (scenario `imu`)",
        StreamTiming(200.0, jitter=0.02, latency_s=0.002),
    ),
    "attitude": EnvStream(
        "attitude", (3,), "the flight controller's attitude estimate as the world's up direction in "
        "the body frame (unit; level: [0, 0, 1]), off the truth by a tilt error drawn per episode "
        "(ATTITUDE_ERROR_STD), as /mavros/imu/data's orientation delivers it",
        StreamTiming(100.0, jitter=0.02, latency_s=0.005),
    ),
    "odom": EnvStream(
        "odometry", (13,), "position m, quaternion [qx, qy, qz, qw], world velocity m/s, body rates "
        "rad/s (as motion capture or VIO delivers it; exact values, delayed)",
        StreamTiming(100.0, jitter=0.05, latency_s=0.010),
    ),
    "camera": EnvStream(
        "image", (64, 64, 3), "forward camera `fpv`, rgb8, image_size square, 80 deg field of view",
        StreamTiming(30.0, jitter=0.05, latency_s=0.020),
    ),
    "ground_truth": EnvStream(
        "odometry", (13,), "PRIVILEGED exact odometry at every control instant", privileged=True
    ),
    "physics": EnvStream(
        "vector", (PHYSICS_SIZE,), "PRIVILEGED hidden physics at every control instant: mass kg, "
        "inertia (3) kg m^2, rotor gains (4) N, motor time constant s, drag (3) N s/m, wind force "
        "(3) N (QuadrotorDraw.physics)", privileged=True,
    ),
}

#: standard deviation of the attitude estimate's tilt error per axis, rad (an EKF's few tenths of
#: a degree to a degree in hover; held for the episode, like an accelerometer bias's effect)
ATTITUDE_ERROR_STD = math.radians(1.0)
#: success: within HOLD_RADIUS (m) of the goal for the last HOLD_TIME (s)
HOLD_RADIUS = 0.1
HOLD_TIME = 1.0
#: a crash costs this much reward, once
CRASH_PENALTY = 10.0
#: every step in the air earns this much reward
ALIVE_REWARD = 0.5
#: the episode ends (terminated) below FLOOR, above CEILING or beyond ARENA_RADIUS horizontally, m
FLOOR, CEILING, ARENA_RADIUS = 0.05, 4.0, 5.0


def quadrotor_actions(params: QuadrotorParams) -> ActionSpec:
    """The CTBR action in physical units for an airframe (safe: hover thrust, zero rates)."""
    return ActionSpec(
        names=["collective_thrust", "roll_rate", "pitch_rate", "yaw_rate"],
        units=["N", "rad/s", "rad/s", "rad/s"],
        low=[0.0, *(-MAX_RATES).tolist()],
        high=[params.max_thrust, *MAX_RATES.tolist()],
        safe=[params.hover_thrust, 0.0, 0.0, 0.0],
    )


def sample_start(
    rng: np.random.Generator, centre: np.ndarray, yaw: np.ndarray, scenario: QuadrotorRandomisation
) -> tuple[np.ndarray, np.ndarray]:
    """Start states around ``centre`` ``(n, 3)`` m heading ``yaw`` ``(n,)`` rad, per the scenario.

    Position: centre plus up to ``start_offset`` per axis, at least 0.3 m high; roll and pitch up
    to ``start_tilt``; velocity up to ``start_speed`` per axis; no body rates.

    :return: ``qpos`` ``(n, 7)`` (position, MuJoCo quaternion) and ``qvel`` ``(n, 6)``.
    """
    count = len(centre)
    position = centre + rng.uniform(-scenario.start_offset, scenario.start_offset, (count, 3))
    position[:, 2] = np.maximum(position[:, 2], 0.3)
    roll, pitch = rng.uniform(-scenario.start_tilt, scenario.start_tilt, (2, count))
    qvel = np.zeros((count, 6))
    qvel[:, :3] = rng.uniform(-scenario.start_speed, scenario.start_speed, (count, 3))
    return np.concatenate([position, quaternion_from_euler(roll, pitch, yaw)], axis=1), qvel


def crashed(x: Any, y: Any, z: Any, qx: Any, qy: Any) -> Any:
    """True (per env) below the floor, above the ceiling, out of the arena or upside down.

    Works on floats and on arrays; ``qx, qy`` are the attitude quaternion's x and y (the body z
    axis points down when ``1 - 2 (qx^2 + qy^2) < 0``).
    """
    return (
        (z < FLOOR)
        | (z > CEILING)
        | (x * x + y * y > ARENA_RADIUS**2)
        | (1.0 - 2.0 * (qx * qx + qy * qy) < 0.0)
    )


def goal_reward(distance: Any, speed: Any, rate: Any, change: Any, crash: Any) -> Any:
    """``0.5 + exp(-d / 0.25) + exp(-(d / 0.1)^2) - 0.25 min(d, 2) - 0.05 speed - 0.01 rate - 0.01
    change - 10 crash`` (floats or arrays), ``d`` the distance.

    Flying is the easy way to earn it (the shaping of "Learning to Fly in Seconds", Eschmann et
    al. 2023): every step in the air earns 0.5, more than the distance costs anywhere a start can
    be (up to 1.7 m away), so crashing early never pays; the linear term pulls from afar, the first
    exponential rewards coming close, and the Gaussian of width ``HOLD_RADIUS`` pays for the last
    centimetres that success is judged on (without it, RL policies settled 5-16 cm off the goal:
    the wide exponential pays 0.67 at 0.1 m against 0.85 at 0.04 m).

    :param distance: to the goal, m. :param speed: m/s. :param rate: body-rate magnitude, rad/s.
    :param change: squared change of the action since the last step. :param crash: bool.
    """
    return (ALIVE_REWARD + np.exp(-distance / 0.25) + np.exp(-np.square(distance / HOLD_RADIUS))
            - 0.25 * np.minimum(distance, 2.0) - 0.05 * speed - 0.01 * rate - 0.01 * change
            - CRASH_PENALTY * crash)


class QuadrotorEnv(SensorEnv):
    """Base of ``QuadHover`` and ``QuadTarget``: a Crazyflie 2.x under CTBR control at 100 Hz
    (QuadTarget puts an autopilot's velocity loop in front of it)."""

    ROBOT = "quadrotor"
    CONTROL_HZ = 100.0
    ACTION_SIZE = 4
    IMAGE_CAMERA = "fpv"
    RENDER_CAMERA = "chase"
    CHANGES = ("payload", "wind")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.nominal = QuadrotorParams.from_model(self.model)
        self.controller = RateController(self.nominal)
        body = self._body_id = self.model.body(BODY).id
        self._position = self.data.qpos[0:3]
        self._body_rates = self.data.qvel[3:6]
        self._ctrl = self.data.ctrl
        self._wind_force = self.data.xfrc_applied[body, :3]
        self._dof = int(self.model.jnt_dofadr[self.model.body_jntadr[body]])
        self.goal = np.zeros(3)
        self._goal_floats = [0.0, 0.0, 0.0]
        self.draw: QuadrotorDraw | None = None
        self._drag = np.zeros(3)
        self._wind: Wind | None = None
        self._hover_ctrl = self.controller.motor_commands(self.controller.hover_action, np.zeros(3))
        #: the action that holds still, each episode's first "previous action" (CTBR: hover)
        self._rest_action = self.controller.hover_action
        self._previous_action = self._rest_action
        self._held_s = 0.0
        self._attitude_error = np.zeros(3)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        observation, info = super().reset(seed=seed, options=options)
        self._goal_floats = self.goal.tolist()  # the episode's goal, for the per-step terms
        return observation, info

    # ------------------------------------------------------------------ SensorEnv hooks
    def _reader(self, name: str) -> Reader:
        if name == "imu":
            return self._sensor_reader("gyro", "accel")
        if name == "attitude":
            body, error = self._body_id, self._attitude_error

            def read(data: mujoco.MjData) -> np.ndarray:
                up = data.xmat[body, 6:9] + error  # R^T e3 is the rotation matrix's last row
                return up / np.linalg.norm(up)

            return read
        if name == "odom":
            # [position, quaternion w-first, linear velocity, gyro] -> ROS quaternion order
            return self._sensor_reader(
                "position", "orientation", "linvel", "gyro", reorder=ROS_QUATERNION_ORDER
            )
        if name == "camera":
            return self._camera_reader()
        if name == "goal":
            goal = self.goal
            return lambda data: goal.copy()
        raise KeyError(name)

    def _ground_truth(self) -> np.ndarray:
        return quaternion_to_ros(np.concatenate((self.data.qpos, self.data.qvel)))

    def _physics(self) -> np.ndarray:
        assert self.draw is not None
        return self.draw.physics(self._wind_force)

    def _randomise(self, rng: np.random.Generator) -> None:
        scenario = self.scenario.quadrotor
        self.draw = draw_quadrotor(self.nominal, scenario, rng)
        self.draw.write(self.model, self._body_id, self._dof)
        self._drag = self.draw.drag
        mujoco.mj_setConst(self.model, self.data)
        self._wind = Wind((), scenario.gust_std, scenario.gust_time_constant, self.control_dt, rng)
        self._wind.restart(self.draw.steady_wind)
        # from a child generator, which draws nothing from ``rng``: the episodes stay those of
        # the same seed before the attitude stream existed, whichever streams are chosen
        self._attitude_error[:] = rng.spawn(1)[0].normal(0.0, ATTITUDE_ERROR_STD, 3)

    def _make_change(self, change: str, rng: np.random.Generator) -> None:
        assert self.draw is not None and self._wind is not None
        adaptation = self.scenario.adaptation
        if change == "payload":
            self.draw = dataclasses.replace(self.draw, mass=self.draw.mass * (1.0 + adaptation.payload_fraction))
            self.model.body_mass[self._body_id] = self.draw.mass
            mujoco.mj_setConst(self.model, mujoco.MjData(self.model))  # not self.data: it keeps the state
        else:
            heading = rng.uniform(-np.pi, np.pi)
            self._wind.add(adaptation.wind_step * np.array([np.cos(heading), np.sin(heading), 0.0]))

    def _apply_action(self, action: np.ndarray) -> None:
        self._ctrl[:] = self.controller.motor_commands(action, self._body_rates)
        wind = self._wind
        if wind is not None and not wind.calm:
            self._wind_force[:] = self._drag * wind.step()

    def action_spec(self) -> ActionSpec:
        """Collective thrust [0, max] N and body rates +-(6, 6, 3) rad/s; safe: hover."""
        return quadrotor_actions(self.nominal)

    def task_positions(self) -> tuple[np.ndarray, np.ndarray]:
        return self._position.copy(), self.goal.copy()

    # ------------------------------------------------------------------ task pieces
    def _place(self, qpos: np.ndarray, qvel: np.ndarray) -> None:
        """Start the episode in state ``qpos`` ``(7,)``, ``qvel`` ``(6,)`` with the motors at hover."""
        self.data.qpos[:] = qpos
        self.data.qvel[:] = qvel
        self.data.act[:] = self._hover_ctrl
        self._ctrl[:] = self._hover_ctrl
        self._wind_force[:] = 0.0
        self._previous_action = self._rest_action
        self._held_s = 0.0

    def _goal_terms(self, action: np.ndarray) -> tuple[float, bool, dict[str, Any]]:
        """Reward, termination and info of flying to :attr:`goal` and holding there."""
        # plain floats: for 3-vectors they are several times faster than numpy calls
        x, y, z, _, qx, qy, _ = self.data.qpos.tolist()
        vx, vy, vz, wx, wy, wz = self.data.qvel.tolist()
        gx, gy, gz = self._goal_floats
        distance = math.sqrt((x - gx) ** 2 + (y - gy) ** 2 + (z - gz) ** 2)
        self._held_s = held(self._held_s, distance, HOLD_RADIUS, self.control_dt)
        crash = crashed(x, y, z, qx, qy)
        change = action - self._previous_action
        self._previous_action = action
        speed = math.sqrt(vx * vx + vy * vy + vz * vz)
        rate = math.sqrt(wx * wx + wy * wy + wz * wz)
        reward = goal_reward(distance, speed, rate, float(change @ change), crash)
        info = {"distance": distance, "is_success": self._held_s >= HOLD_TIME - 1e-9}
        return float(reward), bool(crash), info
