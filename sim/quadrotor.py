"""The Crazyflie's flight-controller side: parameters, CTBR rate controller, randomisation, wind.

Everything physical is read from the compiled MJCF (``models/quadrotor/crazyflie.xml``, which cites
its sources), so the model file stays the one place the numbers live. The functions here work on
one quadrotor (``(4,)`` actions, ``(3,)`` rates) or a batch (``(N, 4)``, ``(N, 3)``) alike; the
single env and the vectorised env share them.

Action (collective thrust and body rates, CTBR, as PX4 and Betaflight accept in acro mode),
normalised to ``[-1, 1]``:

======  ==================================  =====================================
index   meaning                             physical value
======  ==================================  =====================================
0       collective thrust                   ``(a0 + 1) / 2 * 0.596`` N (0 to 2.25 m g)
1       body roll rate command              ``a1 * 6`` rad/s
2       body pitch rate command             ``a2 * 6`` rad/s
3       body yaw rate command               ``a3 * 3`` rad/s
======  ==================================  =====================================

The rate controller runs once per control step (100 Hz in the envs): it asks for the angular
acceleration ``RATE_GAINS * (rate command - body rate)``, turns it into torques with the inertia,
and mixes thrust and torques into the four rotor thrusts through the rotor geometry; MuJoCo clamps
each motor command to ``[0, 1]`` (so a saturated rotor costs attitude authority, as on a real
mixer without desaturation) and lags it with the motors' first-order time constant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mujoco
import numpy as np

from lnn_control.sim.scenarios import QuadrotorRandomisation, uniform

__all__ = [
    "MAX_RATES",
    "PHYSICS_SIZE",
    "RATE_GAINS",
    "ROTOR_DRAG",
    "QuadrotorDraw",
    "QuadrotorParams",
    "RateController",
    "Wind",
    "draw_quadrotor",
    "quaternion_from_euler",
    "read_physics",
]

#: translational rotor drag, N s/m, world x, y, z (gym-pybullet-drones' Crazyflie coefficients
#: 9.1785e-7 and 10.311e-7 N/(rpm m/s) times the rotor speeds at hover, 4 x 14,476 rpm)
ROTOR_DRAG = np.array([0.0531, 0.0531, 0.0597])
#: body rates at action +-1, rad/s (roll, pitch, yaw)
MAX_RATES = np.array([6.0, 6.0, 3.0])
#: rate controller gains: commanded angular acceleration per rad/s of rate error, 1/s
RATE_GAINS = np.array([25.0, 25.0, 12.0])
#: length of the privileged ``physics`` stream's value (:meth:`QuadrotorDraw.physics`)
PHYSICS_SIZE = 15
#: the quadrotor's body and rotor names in the MJCF
BODY = "quad"
ROTORS = ("rotor1", "rotor2", "rotor3", "rotor4")


@dataclass(frozen=True)
class QuadrotorParams:
    """Physical parameters of the quadrotor, as compiled from the MJCF.

    :param mass: kg.
    :param inertia: ``(3,)`` principal moments of inertia, kg m^2 (body x, y, z).
    :param rotor_max_thrust: ``(4,)`` thrust of each rotor at full command, N.
    :param motor_tau: motor time constant, s.
    :param allocation: ``(4, 4)`` maps rotor thrusts (N) to ``[thrust N, torque x, y, z N m]``.
    :param gravity: magnitude of gravity, m/s^2.
    """

    mass: float
    inertia: np.ndarray
    rotor_max_thrust: np.ndarray
    motor_tau: float
    allocation: np.ndarray
    gravity: float

    @classmethod
    def from_model(cls, model: mujoco.MjModel) -> QuadrotorParams:
        """Read the parameters of ``model``'s quadrotor (body ``quad``, sites ``rotor1..4``)."""
        body = model.body(BODY)
        columns = []
        gains, taus = [], []
        for index, site in enumerate(ROTORS):
            x, y, _ = model.site(site).pos
            actuator = model.actuator(f"motor{index + 1}")
            columns.append([1.0, y, -x, actuator.gear[5]])
            gains.append(actuator.gainprm[0] * actuator.ctrlrange[1])
            taus.append(actuator.dynprm[0])
        return cls(
            mass=float(body.mass[0]),
            inertia=body.inertia.copy(),
            rotor_max_thrust=np.array(gains),
            motor_tau=float(np.mean(taus)),
            allocation=np.array(columns).T,
            gravity=float(np.linalg.norm(model.opt.gravity)),
        )

    @property
    def max_thrust(self) -> float:
        """Collective thrust at full command on every rotor, N."""
        return float(self.rotor_max_thrust.sum())

    @property
    def hover_thrust(self) -> float:
        """Collective thrust that holds the mass against gravity, ``m g``, N."""
        return self.mass * self.gravity


class RateController:
    """The env's low-level flight controller: normalised CTBR action -> normalised motor commands.

    Affine in the action and the body rates, ``ctrl = a A^T + b - w G^T``, so one matrix product
    serves a single quadrotor and a batch.

    :param params: the parameters the flight controller believes (the nominal airframe).
    """

    def __init__(self, params: QuadrotorParams) -> None:
        self.params = params
        mixer = np.linalg.inv(params.allocation)  # rotor thrusts = mixer @ [T, tau]
        per_command = mixer / params.rotor_max_thrust[:, None]  # -> normalised commands
        rate_to_ctrl = per_command[:, 1:] * (params.inertia * RATE_GAINS)  # (4, 3)
        half_thrust = params.max_thrust / 2.0
        action_to_ctrl = np.column_stack([per_command[:, 0] * half_thrust, rate_to_ctrl * MAX_RATES])
        self._action_t = action_to_ctrl.T.copy()
        self._action_t_inverse = np.linalg.inv(self._action_t)
        self._offset = per_command[:, 0] * half_thrust
        self._rate_t = rate_to_ctrl.T.copy()

    def motor_commands(self, action: np.ndarray, body_rates: np.ndarray) -> np.ndarray:
        """Motor commands for ``action`` ``(..., 4)`` in [-1, 1] at body rates ``(..., 3)`` rad/s.

        :return: ``(..., 4)`` motor commands (MuJoCo clamps them to ``[0, 1]``).
        """
        return action @ self._action_t + self._offset - body_rates @ self._rate_t

    def action_for(self, motor_commands: np.ndarray, body_rates: np.ndarray) -> np.ndarray:
        """The action ``(..., 4)`` (not clipped) that gives ``motor_commands`` ``(..., 4)`` at body
        rates ``(..., 3)`` rad/s: the inverse of :meth:`motor_commands`."""
        return (motor_commands - self._offset + body_rates @ self._rate_t) @ self._action_t_inverse

    def action(self, thrust: np.ndarray | float, rates: np.ndarray) -> np.ndarray:
        """The normalised action asking for collective ``thrust`` (N) and body ``rates`` (rad/s).

        :return: ``(..., 4)``, clipped to [-1, 1].
        """
        rates = np.asarray(rates, dtype=float)
        thrust_part = 2.0 * np.asarray(thrust, dtype=float) / self.params.max_thrust - 1.0
        thrust_column = np.broadcast_to(thrust_part, rates.shape[:-1])[..., None]
        return np.clip(np.concatenate([thrust_column, rates / MAX_RATES], axis=-1), -1.0, 1.0)

    @property
    def hover_action(self) -> np.ndarray:
        """``(4,)`` the action that holds the nominal airframe level at zero body rates."""
        return self.action(self.params.hover_thrust, np.zeros(3))


@dataclass(frozen=True)
class QuadrotorDraw:
    """One episode's physical parameters of the quadrotor (after domain randomisation).

    :param mass: kg.
    :param inertia: ``(3,)`` kg m^2.
    :param rotor_gain: ``(4,)`` thrust at full command per rotor, N.
    :param motor_tau: motor time constant, s.
    :param drag: ``(3,)`` translational drag, N s/m.
    :param steady_wind: ``(3,)`` steady wind velocity, m/s, world frame.
    """

    mass: float
    inertia: np.ndarray
    rotor_gain: np.ndarray
    motor_tau: float
    drag: np.ndarray
    steady_wind: np.ndarray

    def write(self, fields: Any, body: int, dof: int) -> None:
        """Write these parameters into MjModel-shaped ``fields``: an :class:`mujoco.MjModel`, or an
        object holding one simulation's rows of a ``mujoco.batch``'s expanded fields
        (``body_mass``, ``body_inertia``, ``actuator_gainprm``, ``actuator_dynprm``, ``dof_damping``).

        :param body: the quadrotor's body id. :param dof: its free joint's first dof.
        """
        fields.body_mass[body] = self.mass
        fields.body_inertia[body] = self.inertia
        fields.actuator_gainprm[:, 0] = self.rotor_gain  # the four rotors are the only actuators
        fields.actuator_dynprm[:, 0] = self.motor_tau
        fields.dof_damping[dof : dof + 3] = self.drag

    def physics(self, wind_force: np.ndarray) -> np.ndarray:
        """The privileged ``physics`` stream's value, ``(PHYSICS_SIZE,)`` float64: mass kg,
        inertia ``(3,)`` kg m^2, rotor gains ``(4,)`` N, motor time constant s, drag ``(3,)``
        N s/m, then the wind's force on the airframe now, ``wind_force`` ``(3,)`` N (world)."""
        return np.concatenate(
            ([self.mass], self.inertia, self.rotor_gain, [self.motor_tau], self.drag, wind_force)
        )


def read_physics(value: np.ndarray, nominal: QuadrotorParams) -> tuple[QuadrotorParams, np.ndarray, np.ndarray]:
    """Unpack a ``physics`` value (:meth:`QuadrotorDraw.physics`): the true airframe (geometry and
    gravity from ``nominal``), its drag ``(3,)`` N s/m and the wind's force ``(3,)`` N."""
    value = np.asarray(value, dtype=float)
    airframe = QuadrotorParams(
        mass=float(value[0]),
        inertia=value[1:4].copy(),
        rotor_max_thrust=value[4:8].copy(),
        motor_tau=float(value[8]),
        allocation=nominal.allocation,
        gravity=nominal.gravity,
    )
    return airframe, value[9:12].copy(), value[12:15].copy()


def draw_quadrotor(
    nominal: QuadrotorParams, scenario: QuadrotorRandomisation, rng: np.random.Generator
) -> QuadrotorDraw:
    """Draw one episode's quadrotor parameters from ``scenario`` around ``nominal``."""
    def draw(name: str) -> float:
        return uniform(rng, getattr(scenario, name))

    heading = rng.uniform(-np.pi, np.pi)
    speed = draw("wind_speed")
    return QuadrotorDraw(
        mass=nominal.mass * draw("mass_scale"),
        inertia=nominal.inertia * np.array([draw("inertia_scale") for _ in range(3)]),
        rotor_gain=nominal.rotor_max_thrust * np.array([draw("thrust_scale") for _ in ROTORS]),
        motor_tau=nominal.motor_tau * draw("motor_tau_scale"),
        drag=ROTOR_DRAG * draw("drag_scale"),
        steady_wind=speed * np.array([np.cos(heading), np.sin(heading), 0.0]),
    )


class Wind:
    """Steady wind plus Ornstein-Uhlenbeck gusts, advanced once per control step, for one
    quadrotor (``shape=()``) or a batch.

    The air pushes the airframe with ``drag * wind`` (the part of the rotor drag
    ``-drag * (v - wind)`` that the free joint's damping does not already apply).

    :param shape: batch shape.
    :param gust_std: stationary standard deviation of each gust component, m/s.
    :param time_constant: gust correlation time, s.
    :param dt: control period, s.
    :param rng: the random generator.
    """

    def __init__(
        self,
        shape: tuple[int, ...],
        gust_std: float,
        time_constant: float,
        dt: float,
        rng: np.random.Generator,
    ) -> None:
        self._gust_std = gust_std
        self._decay = float(np.exp(-dt / time_constant))
        self._kick = gust_std * float(np.sqrt(1.0 - self._decay**2))
        self._rng = rng
        self.steady = np.zeros((*shape, 3))
        self.gust = np.zeros((*shape, 3))
        #: True when there is no wind at all (the env then skips the force)
        self.calm = True

    def restart(self, steady: np.ndarray, where: Any = ...) -> None:
        """Start new episodes (all, or the batch entries ``where``) with ``steady`` wind, m/s."""
        self.steady[where] = steady
        self.gust[where] = self._rng.standard_normal(np.shape(self.gust[where])) * self._gust_std
        self.calm = self._kick == 0.0 and not np.any(self.steady)

    def add(self, steady: np.ndarray) -> None:
        """Add ``steady`` wind ``(3,)`` m/s to every episode's (a mid-episode wind step)."""
        self.steady = self.steady + steady
        self.calm = False

    def step(self) -> np.ndarray:
        """Advance the gusts by one control period; the wind velocity ``(..., 3)`` m/s."""
        self.gust = self.gust * self._decay + self._kick * self._rng.standard_normal(self.gust.shape)
        return self.steady + self.gust


def quaternion_from_euler(roll: np.ndarray, pitch: np.ndarray, yaw: np.ndarray) -> np.ndarray:
    """MuJoCo ``[w, x, y, z]`` quaternions of yaw, then pitch, then roll (intrinsic Z-Y-X), rad.

    :return: ``(..., 4)`` for angles of shape ``(...)``; ``yaw`` is the heading of the body x axis.
    """
    cr, sr = np.cos(np.multiply(roll, 0.5)), np.sin(np.multiply(roll, 0.5))
    cp, sp = np.cos(np.multiply(pitch, 0.5)), np.sin(np.multiply(pitch, 0.5))
    cy, sy = np.cos(np.multiply(yaw, 0.5)), np.sin(np.multiply(yaw, 0.5))
    return np.stack(
        [
            cr * cp * cy + sr * sp * sy,
            sr * cp * cy - cr * sp * sy,
            cr * sp * cy + sr * cp * sy,
            cr * cp * sy - sr * sp * cy,
        ],
        axis=-1,
    )
