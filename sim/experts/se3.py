"""Geometric tracking on SE(3) for the quadrotor, after Lee, Leok and McClamroch (2010).

T. Lee, M. Leok, N. H. McClamroch, "Geometric Tracking Control of a Quadrotor UAV on SE(3)",
IEEE CDC 2010. Written here with z up. The position loop asks for the force

    F = -k_x e_x - k_v e_v + m g e3,      e_x = x - x_d,  e_v = v - v_d  (v_d = 0),

plus the rotor drag at the current velocity (a feedforward the paper's model has no need for) and
an integral of the position error, ``-k_i int e_x dt`` (as in Goodarzi, Lee and Lee,
"Geometric nonlinear PID control of a quadrotor UAV on SE(3)", ECC 2013), which removes the
steady offset that wind or a mass error would leave; it integrates only near the goal and is
clamped (anti-windup). The gains place the position loop's poles at ``(s + a)(s^2 + 2 z w s +
w^2)``: ``k_x = m (w^2 + 2 z w a)``, ``k_v = m (2 z w + a)``, ``k_i = m a w^2``. The collective
thrust is ``f = F . R e3`` and the desired attitude ``R_d`` has ``b3 = F / |F|`` and
the desired heading. The attitude error ``e_R = vee(R_d^T R - R^T R_d) / 2`` is as in the paper;
where the paper computes moments from it, this expert commands body rates ``omega = -k_R e_R``,
because the env (like PX4 or Betaflight in acro mode) closes the rate loop itself. It also
saturates the position error and the tilt, so long flights stay gentle.

It commands in the env's physical units (:func:`~lnn_control.sim.envs.quadrotor_env.quadrotor_actions`:
collective thrust N, body rates rad/s), as a policy does. The thrust and rates go through the
flight controller's normalisation (:meth:`RateController.action`, which clips them to the
airframe's limits) and back (:func:`~lnn_control.sim.actions.to_command`), so the env receives
exactly the action this expert has always flown with.
"""

from __future__ import annotations

import numpy as np

from lnn_control.policy.config import ActionSpec
from lnn_control.sim.actions import to_command
from lnn_control.sim.envs.quadrotor_env import quadrotor_actions
from lnn_control.sim.mjcf import load_scene
from lnn_control.sim.quadrotor import ROTOR_DRAG, QuadrotorParams, RateController
from lnn_control.sim.velocity import thrust_and_rates, yaw_of

__all__ = ["GeometricController", "rotation_matrix"]


class GeometricController:
    """SE(3) position and attitude controller on privileged state, commanding collective thrust
    (N) and body rates (rad/s): the units and limits of :attr:`actions`.

    Reads ``ground_truth`` (odometry ``(13,)``: position m, quaternion [qx, qy, qz, qw], world
    velocity m/s, body rates rad/s) and ``goal`` (``(3,)`` position m, or ``(4,)`` position and
    yaw rad; without a yaw the heading at the first state is held). Other streams are ignored.

    :param params: the airframe the expert believes; default the nominal Crazyflie model.
    :param position_bandwidth: ``w``, natural frequency of the position loop's complex poles, rad/s.
    :param damping_ratio: ``z``, their damping ratio.
    :param integral_pole: ``a``, the integral's real pole, rad/s (0: no integral).
    :param attitude_gain: ``k_R`` for roll, pitch and yaw, rad/s per unit of attitude error.
    :param integral_zone: the integral only accumulates within this distance of the goal, m.
    :param max_integral_force: the integral's force is clipped to this fraction of the weight.
    :param max_position_error: position errors are clipped to this length, m.
    :param max_tilt: largest commanded tilt, rad.
    """

    def __init__(
        self,
        params: QuadrotorParams | None = None,
        position_bandwidth: float = 3.0,
        damping_ratio: float = 0.9,
        integral_pole: float = 1.0,
        attitude_gain: tuple[float, float, float] = (8.0, 8.0, 3.0),
        integral_zone: float = 0.3,
        max_integral_force: float = 0.5,
        max_position_error: float = 1.0,
        max_tilt: float = 0.5,
    ) -> None:
        self.params = params or QuadrotorParams.from_model(load_scene("quadrotor"))
        self._rates = RateController(self.params)
        #: what it commands: the airframe's CTBR action in physical units
        self.actions: ActionSpec = quadrotor_actions(self.params)
        mass, w, z, a = self.params.mass, position_bandwidth, damping_ratio, integral_pole
        self.k_x = mass * (w * w + 2.0 * z * w * a)
        self.k_v = mass * (2.0 * z * w + a)
        self.k_i = mass * a * w * w
        self.k_R = np.asarray(attitude_gain, dtype=float)
        self.integral_zone = integral_zone
        self.max_integral = max_integral_force * mass * self.params.gravity / max(self.k_i, 1e-12)
        self.max_position_error = max_position_error
        self.max_tilt = max_tilt
        self.reset()

    def reset(self) -> None:
        self._state: np.ndarray | None = None
        self._goal: np.ndarray | None = None
        self._yaw: float | None = None
        self._integral = np.zeros(3)
        self._last_ns: int | None = None

    def on_event(self, stream: str, stamp_ns: int, value: np.ndarray) -> None:
        if stream == "ground_truth":
            self._state = np.asarray(value, dtype=float)
            if self._yaw is None and self._goal is not None and len(self._goal) == 3:
                self._yaw = yaw_of(rotation_matrix(self._state[3:7]))
        elif stream == "goal":
            self._goal = np.asarray(value, dtype=float)
            self._yaw = float(self._goal[3]) if len(self._goal) == 4 else None

    def command(self, stamp_ns: int) -> np.ndarray:
        """``(4,)`` float32 command (thrust N, body rates rad/s); hover thrust until state and goal
        are known."""
        if self._state is None or self._goal is None:
            return to_command(self.actions, self._rates.hover_action.astype(np.float32))
        if self._yaw is None:
            self._yaw = yaw_of(rotation_matrix(self._state[3:7]))
        return self.track(stamp_ns, self._goal[:3], self._yaw)

    def track(self, stamp_ns: int, goal: np.ndarray, yaw: float) -> np.ndarray:
        """The command that flies from the last state towards ``goal`` ``(3,)`` m heading ``yaw`` rad.

        :return: ``(4,)`` float32 collective thrust N and body rates rad/s, within :attr:`actions`.
        """
        assert self._state is not None
        position, velocity = self._state[0:3], self._state[7:10]
        rotation = rotation_matrix(self._state[3:7])

        error = position - goal
        length = float(np.linalg.norm(error))
        if length > self.max_position_error:
            error *= self.max_position_error / length
        dt = 0.0 if self._last_ns is None else max(stamp_ns - self._last_ns, 0) * 1e-9
        self._last_ns = stamp_ns
        if length < self.integral_zone:
            self._integral = np.clip(self._integral + error * dt, -self.max_integral, self.max_integral)
        thrust, rates = thrust_and_rates(self._force(error, velocity), yaw, rotation, self.k_R, self.max_tilt)
        return to_command(self.actions, self._action(thrust, rates).astype(np.float32))

    def _force(self, error: np.ndarray, velocity: np.ndarray) -> np.ndarray:
        """The force ``(3,)`` N (world) to ask of the airframe at position ``error`` ``(3,)`` m
        (clipped) and ``velocity`` ``(3,)`` m/s, on the airframe it believes."""
        weight = self.params.mass * self.params.gravity
        force = -self.k_x * error - self.k_v * velocity - self.k_i * self._integral + ROTOR_DRAG * velocity
        force[2] += weight
        force[2] = max(force[2], 0.2 * weight)
        return force

    def _action(self, thrust: float, rates: np.ndarray) -> np.ndarray:
        """The env's normalised action ``(4,)`` for collective ``thrust`` N and body ``rates``
        ``(3,)`` rad/s, through the flight controller it believes."""
        return self._rates.action(thrust, rates)


def rotation_matrix(quaternion_xyzw: np.ndarray) -> np.ndarray:
    """Body-to-world rotation matrix of a ROS-order quaternion ``[x, y, z, w]``."""
    x, y, z, w = quaternion_xyzw / np.linalg.norm(quaternion_xyzw)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )
