"""``lnn_control/QuadHover-v0``: fly a Crazyflie to a goal position and hold it there."""

from __future__ import annotations

from typing import Any

import numpy as np

from lnn_control.sim.envs.quadrotor_env import QUADROTOR_STREAMS, QuadrotorEnv, sample_start
from lnn_control.sim.scenarios import QuadrotorRandomisation
from lnn_control.sim.streams import EnvStream
from lnn_control.sim.timing import StreamTiming

__all__ = ["QuadHoverEnv", "sample_hover_task"]

#: goals are drawn uniformly in this box, m: (low corner, high corner)
GOAL_BOX = ((-1.0, -1.0, 0.8), (1.0, 1.0, 1.5))


def sample_hover_task(
    rng: np.random.Generator, count: int, scenario: QuadrotorRandomisation
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``count`` QuadHover episodes: goals ``(n, 3)`` m and start states ``qpos (n, 7)``, ``qvel (n, 6)``."""
    goal = rng.uniform(*GOAL_BOX, (count, 3))
    qpos, qvel = sample_start(rng, goal, rng.uniform(-scenario.start_yaw, scenario.start_yaw, count), scenario)
    return goal, qpos, qvel


class QuadHoverEnv(QuadrotorEnv):
    """Reach and hold a goal position from a random start, from IMU and odometry.

    **Robot.** A Crazyflie 2.x (27 g, ``models/quadrotor/crazyflie.xml`` cites every number) with
    first-order motor lag (25 ms), thrust limits (0.149 N per rotor) and rotor drag; physics at
    400 Hz, control at 100 Hz.

    **Action** ``Box(-1, 1, (4,), float32)``: collective thrust and body rates (CTBR), tracked by a
    rate controller inside the env (see :mod:`lnn_control.sim.quadrotor`).

    ===  ======================  ===========================  ======
    idx  action                  physical value               unit
    ===  ======================  ===========================  ======
    0    collective thrust       (a + 1) / 2 * 0.596          N
    1    roll rate command       a * 6                        rad/s
    2    pitch rate command      a * 6                        rad/s
    3    yaw rate command        a * 3                        rad/s
    ===  ======================  ===========================  ======

    Hover is ``a0 = -0.111`` (``m g = 0.265`` N).

    **Observation** ``Dict`` of the newest message of each selected stream (``streams=``; default
    ``imu``, ``odom``, ``goal``); every message, with its own stamp, is in
    ``info["sensor_events"]``. Nominal timing (``nominal`` scenario; others change it):

    ==========  ============  =====  ===============================================  =====  ======  =======
    stream      kind          shape  contents and units                               rate   jitter  latency
    ==========  ============  =====  ===============================================  =====  ======  =======
    imu         imu           (6,)   gyro rad/s, specific force m/s^2 (body), noisy   200    2 %     2 ms
    odom        odometry      (13,)  position m, quaternion [qx,qy,qz,qw], world      100    5 %     10 ms
                                     velocity m/s, body rates rad/s
    goal        vector        (3,)   goal position, world frame, m                    10     0       0
    camera      image         (S,S,3)  forward camera rgb8 (opt-in; S = image_size)   30     5 %     20 ms
    ==========  ============  =====  ===============================================  =====  ======  =======

    **Privileged** (``info["privileged_events"]``, for experts only, never observed):
    ``ground_truth`` (odometry (13,), exact, stamped at every control instant) and ``physics``
    (vector (15,), the episode's airframe and the wind's force now, at every control instant;
    :meth:`~lnn_control.sim.quadrotor.QuadrotorDraw.physics`).

    **Episode.** Goal uniform in ``x, y`` in [-1, 1] m, ``z`` in [0.8, 1.5] m; start at the goal plus
    up to ``start_offset`` (1 m) per axis (at least 0.3 m high), roll and pitch up to
    ``start_tilt`` (0.2 rad), any yaw, speed up to ``start_speed`` (0.3 m/s) per axis, motors at
    hover. 500 steps (5 s); terminated below 0.05 m, above 4 m, beyond 5 m from the origin or upside
    down.

    **Reward** per step: ``0.5 + exp(-d / 0.25) + exp(-(d / 0.1)^2) - 0.25 min(d, 2) - 0.05 |v| -
    0.01 |w| - 0.01 |a - a_prev|^2``, ``d`` the distance to the goal (m), ``v`` the velocity
    (m/s), ``w`` the body rates (rad/s); a crash costs 10. Every step in the air earns more than
    the distance costs from any start, so crashing early never pays
    (:func:`~lnn_control.sim.envs.quadrotor_env.goal_reward`).

    **Success** (``info["is_success"]``): within 0.1 m of the goal for the last 1 s.
    """

    STREAMS = {
        **QUADROTOR_STREAMS,
        "goal": EnvStream("vector", (3,), "goal position, world frame, m", StreamTiming(10.0)),
    }
    DEFAULT_STREAMS = ("imu", "odom", "goal")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        marker = self.model.geom("target")  # a small translucent goal marker for render()
        marker.size[0] = 0.04
        marker.matid[0] = -1
        marker.rgba[:] = (0.1, 0.8, 0.2, 0.5)

    def _reset_task(self, rng: np.random.Generator) -> None:
        (goal,), (qpos,), (qvel,) = sample_hover_task(rng, 1, self.scenario.quadrotor)
        self.goal[:] = goal
        self.data.mocap_pos[0] = goal
        self._place(qpos, qvel)

    def _privileged_goal(self) -> None:
        return None

    def _evaluate(self, action: np.ndarray) -> tuple[float, bool, dict[str, Any]]:
        return self._goal_terms(action)
