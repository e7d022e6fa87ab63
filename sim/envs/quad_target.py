"""``lnn_control/QuadTarget-v0``: find a coloured target in the camera image and fly up to it."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lnn_control.policy.config import ActionSpec
from lnn_control.sim.envs.quadrotor_env import QUADROTOR_STREAMS, QuadrotorEnv, sample_start
from lnn_control.sim.quadrotor import PHYSICS_SIZE
from lnn_control.sim.streams import EnvStream
from lnn_control.sim.velocity import VelocityLoop, velocity_actions

__all__ = ["QuadTargetEnv"]


class QuadTargetEnv(QuadrotorEnv):
    """Fly to a red target seen only through the forward camera (the liquid-drone task).

    The robot and timing are those of :class:`~lnn_control.sim.envs.quad_hover.QuadHoverEnv`; the
    action is a velocity set-point for the autopilot's velocity mode (:mod:`lnn_control.sim.velocity`,
    as the liquid-network drone of Chahine et al. 2023 was flown), ``Box(-1, 1, (4,))``: forward and
    left velocity in the heading frame ``1.0 a`` m/s, up ``0.6 a`` m/s, yaw rate ``2.0 a`` rad/s.
    The target's position is in no observation: the policy has to find it in the image and keep it
    in view.

    **Observation** ``Dict`` of the newest message of each selected stream (default ``camera``,
    ``attitude`` and ``imu``; ``odom`` may be added); all messages, stamped, are in
    ``info["sensor_events"]``:

    ==========  ========  =======  ==============================================  =====  ======  =======
    stream      kind      shape    contents and units                              rate   jitter  latency
    ==========  ========  =======  ==============================================  =====  ======  =======
    camera      image     (S,S,3)  forward camera ``fpv`` rgb8, 80 deg, S=64        30     5 %     20 ms
    imu         imu       (6,)     gyro rad/s, specific force m/s^2 (body), noisy  200    2 %     2 ms
    attitude    attitude  (3,)     the flight controller's estimate of the world's  100    2 %     5 ms
                                   up direction in the body frame (1 deg error)
    odom        odometry  (13,)    position, quaternion [qx,qy,qz,qw], world       100    5 %     10 ms
                                   velocity, body rates (opt-in)
    ==========  ========  =======  ==============================================  =====  ======  =======

    **Privileged** (``info["privileged_events"]``): ``ground_truth`` (odometry (13,), exact, every
    control instant), ``physics`` (vector (18,): QuadHover's 15 values, then the autopilot's
    velocity-error integral (3,) m, world frame, at every control instant) and ``goal`` (vector
    (4,): the stand-off position [x, y, z] m facing the target and the yaw rad that faces it;
    handed out at reset).

    **Episode.** Start at (0, 0, 1) m plus up to ``start_offset`` per axis, any yaw, tilt and speed
    as in QuadHover. The target (a red sphere, radius 0.15 m) lies 2 to 3.5 m away at a bearing
    within 60 deg of the start heading (so it may start outside the 80 deg view), 0.6 to 1.6 m high.
    The goal is 0.7 m short of it along that bearing, facing it. 800 steps (8 s); terminated as
    QuadHover.

    **Reward** per step: QuadHover's reward towards the goal plus ``0.1 cos(e)``, ``e`` the angle
    between the camera axis and the direction to the target (rad).

    **Success** (``info["is_success"]``): within 0.1 m of the goal for the last 1 s.
    """

    STREAMS = {
        **QUADROTOR_STREAMS,
        "physics": EnvStream(
            "vector", (PHYSICS_SIZE + 3,), "PRIVILEGED QuadHover's hidden physics (15), then the "
            "autopilot's velocity-error integral (3) m, world frame", privileged=True,
        ),
        "goal": EnvStream(
            "vector", (4,), "PRIVILEGED stand-off position m and yaw rad facing the target",
            privileged=True,
        ),
    }
    DEFAULT_STREAMS = ("camera", "attitude", "imu")
    #: how far short of the target the goal is, m
    STANDOFF = 0.7

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target = np.zeros(3)
        self.goal_yaw = 0.0
        self.autopilot = VelocityLoop(self.nominal)
        self._rest_action = self._previous_action = np.zeros(4)  # a zero velocity set-point
        self._rotation = self.data.xmat[self._body_id].reshape(3, 3)
        self._velocity = self.data.qvel[0:3]

    def action_spec(self) -> ActionSpec:
        """Forward, left, up velocity m/s and yaw rate rad/s (:func:`velocity_actions`); safe: hold."""
        return velocity_actions()

    def _apply_action(self, action: np.ndarray) -> None:
        setpoint = self.to_command(action)
        ctbr = self.autopilot.action(setpoint, self._rotation, self._velocity, self.control_dt)
        super()._apply_action(ctbr)

    def _place(self, qpos: np.ndarray, qvel: np.ndarray) -> None:
        super()._place(qpos, qvel)
        self.autopilot.reset()

    def _reset_task(self, rng: np.random.Generator) -> None:
        yaw = rng.uniform(-self.scenario.quadrotor.start_yaw, self.scenario.quadrotor.start_yaw, 1)
        (qpos,), (qvel,) = sample_start(rng, np.array([[0.0, 0.0, 1.0]]), yaw, self.scenario.quadrotor)
        self._place(qpos, qvel)
        start = qpos[:2]
        bearing = float(yaw[0]) + rng.uniform(-math.pi / 3, math.pi / 3)
        heading = np.array([math.cos(bearing), math.sin(bearing)])
        distance = rng.uniform(2.0, 3.5)
        self.target[:2] = start + distance * heading
        self.target[2] = rng.uniform(0.6, 1.6)
        self.goal[:2] = self.target[:2] - self.STANDOFF * heading
        self.goal[2] = self.target[2]
        self.goal_yaw = math.atan2(heading[1], heading[0])
        self.data.mocap_pos[0] = self.target

    def _privileged_goal(self) -> np.ndarray:
        return np.append(self.goal, self.goal_yaw)

    def _physics(self) -> np.ndarray:
        return np.concatenate((super()._physics(), self.autopilot.integral))

    def _evaluate(self, action: np.ndarray) -> tuple[float, bool, dict[str, Any]]:
        reward, terminated, info = self._goal_terms(action)
        to_target = self.target - self.data.qpos[:3]
        forward = self.data.xmat[self._body_id, [0, 3, 6]]  # body x axis in the world
        reward += 0.1 * float(forward @ to_target) / max(float(np.linalg.norm(to_target)), 1e-6)
        return reward, terminated, info
