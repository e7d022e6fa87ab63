"""The flight controller's velocity mode: velocity and yaw-rate set-points -> CTBR actions.

What PX4 does with offboard velocity set-points (``/mavros/setpoint_velocity/cmd_vel_unstamped``)
or Betaflight/ArduPilot in their velocity-hold modes: a velocity loop on the autopilot's state
estimate asks for a force, an attitude loop turns the body towards it, and the rate controller
(:class:`~lnn_control.sim.quadrotor.RateController`) closes the rest. A policy that commands
velocities, as the liquid-network drone of Chahine et al. (Science Robotics 2023) did, leaves
keeping the airframe upright to the autopilot and only has to decide where to go.

Set-point ``(4,)``: forward and left velocity in the *heading frame* (the body x axis projected on
the ground, and the horizontal axis 90 deg to its left), up velocity, all m/s, and the yaw rate,
rad/s. The loop reads the exact velocity and attitude (the autopilot's estimate is taken as
exact: a motion-capture, VIO or GNSS-aided estimate is good to a few cm/s).
"""

from __future__ import annotations

import math

import numpy as np

from lnn_control.policy.config import ActionSpec
from lnn_control.sim.quadrotor import ROTOR_DRAG, QuadrotorParams, RateController

__all__ = ["VELOCITY_LIMITS", "VelocityLoop", "thrust_and_rates", "velocity_actions", "yaw_of"]

#: set-point limits: forward, left, up m/s, yaw rate rad/s
VELOCITY_LIMITS = np.array([1.0, 1.0, 0.6, 2.0])


def velocity_actions() -> ActionSpec:
    """The velocity set-point in physical units, within :data:`VELOCITY_LIMITS`; safe: hold still."""
    return ActionSpec(
        names=["forward_velocity", "left_velocity", "up_velocity", "yaw_rate"],
        units=["m/s", "m/s", "m/s", "rad/s"],
        low=(-VELOCITY_LIMITS).tolist(),
        high=VELOCITY_LIMITS.tolist(),
        safe=[0.0, 0.0, 0.0, 0.0],
    )


def yaw_of(rotation: np.ndarray) -> float:
    """Heading of the body x axis in the world's horizontal plane, rad (``rotation`` ``(3, 3)``
    body-to-world)."""
    return math.atan2(rotation[1, 0], rotation[0, 0])


def thrust_and_rates(
    force: np.ndarray, yaw: float, rotation: np.ndarray, attitude_gain: np.ndarray, max_tilt: float
) -> tuple[float, np.ndarray]:
    """Collective thrust (N) and body rates ``(3,)`` rad/s that turn the body towards ``force``.

    The geometric attitude loop of Lee, Leok and McClamroch (2010): the desired body z axis is
    ``force`` ``(3,)`` N (world frame, ``force[2] > 0``; tilted at most ``max_tilt`` rad), the
    desired heading ``yaw`` rad; the thrust is the force along the body z axis and the rates are
    ``-attitude_gain * e_R`` with ``e_R = vee(R_d^T R - R^T R_d) / 2``.

    :param rotation: ``(3, 3)`` body-to-world rotation.
    """
    force = force.copy()
    horizontal = math.hypot(force[0], force[1])
    limit = force[2] * math.tan(max_tilt)
    if horizontal > limit:
        force[:2] *= limit / horizontal
    thrust = float(force @ rotation[:, 2])
    b3 = force / np.linalg.norm(force)
    heading = np.array([math.cos(yaw), math.sin(yaw), 0.0])
    b2 = np.cross(b3, heading)
    b2 /= np.linalg.norm(b2)
    desired = np.column_stack([np.cross(b2, b3), b2, b3])
    mismatch = desired.T @ rotation - rotation.T @ desired
    attitude_error = 0.5 * np.array([mismatch[2, 1], mismatch[0, 2], mismatch[1, 0]])
    return thrust, -attitude_gain * attitude_error


class VelocityLoop:
    """Velocity set-point ``(4,)`` -> normalised CTBR action, once per control step.

    ``F = m (k_v (v_d - v) + k_i int (v_d - v) dt + g e3) + drag v``, the integral clamped to
    ``max_integral`` m/s^2 (it absorbs wind and a mass the autopilot does not know); the heading
    set-point is the current heading, and the commanded yaw rate is added to the body z rate.

    :param params: the airframe the autopilot believes (the nominal Crazyflie).
    :param velocity_gain: ``k_v``, 1/s.
    :param integral_gain: ``k_i``, 1/s^2.
    :param max_integral: clamp of the integral term, m/s^2.
    :param attitude_gain: roll, pitch, yaw rad/s per unit of attitude error.
    :param max_tilt: largest commanded tilt, rad.
    """

    def __init__(
        self,
        params: QuadrotorParams,
        velocity_gain: float = 8.0,
        integral_gain: float = 8.0,
        max_integral: float = 3.0,
        attitude_gain: tuple[float, float, float] = (8.0, 8.0, 3.0),
        max_tilt: float = 0.5,
    ) -> None:
        self.params = params
        self.rates = RateController(params)
        self.velocity_gain, self.integral_gain, self.max_integral = velocity_gain, integral_gain, max_integral
        self.attitude_gain = np.asarray(attitude_gain, dtype=float)
        self.max_tilt = max_tilt
        self._integral = np.zeros(3)

    @property
    def integral(self) -> np.ndarray:
        """``(3,)`` the integral of the velocity error, m (world frame; a copy)."""
        return self._integral.copy()

    def restore(self, integral: np.ndarray) -> None:
        """Set the integral to ``integral`` ``(3,)`` m (another loop's :attr:`integral`)."""
        self._integral = np.array(integral, dtype=float)

    def reset(self) -> None:
        """Forget the integral (a new flight)."""
        self._integral[:] = 0.0

    def action(self, setpoint: np.ndarray, rotation: np.ndarray, velocity: np.ndarray, dt: float) -> np.ndarray:
        """The CTBR action ``(4,)`` in [-1, 1] tracking ``setpoint`` ``(4,)``.

        :param rotation: ``(3, 3)`` body-to-world rotation. :param velocity: ``(3,)`` world, m/s.
        :param dt: s since the last call.
        """
        yaw = yaw_of(rotation)
        c, s = math.cos(yaw), math.sin(yaw)
        forward, left, up, yaw_rate = (float(x) for x in setpoint)
        error = np.array([c * forward - s * left, s * forward + c * left, up]) - velocity
        limit = self.max_integral / self.integral_gain
        self._integral = np.clip(self._integral + error * dt, -limit, limit)
        mass, gravity = self.params.mass, self.params.gravity
        force = mass * (self.velocity_gain * error + self.integral_gain * self._integral) + ROTOR_DRAG * velocity
        force[2] = max(force[2] + mass * gravity, 0.2 * mass * gravity)
        thrust, rates = thrust_and_rates(force, yaw, rotation, self.attitude_gain, self.max_tilt)
        rates[2] += yaw_rate
        return self.rates.action(thrust, rates)
