"""Privileged teachers: the experts told the episode's hidden physics, compensating for it.

The experts of :mod:`lnn_control.sim.experts` believe the nominal robot, as a classical controller
tuned on the datasheet does; they are kept as the classical baseline. A teacher also reads the
privileged ``physics`` stream (:meth:`~lnn_control.sim.envs.base.SensorEnv._physics`: the
episode's true mass, inertia, rotor gains, drag and the wind's force now; for the arm its link
masses, servo stiffness and payload) and flies the true robot. A student policy, which sees only
its sensors, imitates a teacher over randomised episodes, so its recurrent state has to infer
those values online. No policy can declare ``physics`` (it is privileged, like ``ground_truth``).

=============================  ====================================================================
env id                         teacher
=============================  ====================================================================
``lnn_control/QuadHover-v0``   :class:`AirframeTeacher`: SE(3) on the true airframe
``lnn_control/QuadTarget-v0``  :class:`TargetTeacher`: the search's velocities, flown on the truth
``lnn_control/ArmReach-v0``    :class:`PayloadTeacher`: damped least squares, holding the payload
=============================  ====================================================================

By default a teacher has no position integral: what one would slowly learn (a heavier airframe,
a steady wind) it is told, so its command is a function of the state and the physics now. A
training config may still give :class:`AirframeTeacher` one (``expert: {integral_pole: 1.0}`` in
``config/train/quad_hover_teacher.yaml``): a student infers the mass only approximately and would
hold the offset its error leaves (about 1 cm per per cent at the 3 rad/s position loop); the
integral sums the goal offsets along the flight being labelled, which the student sees too, so
its labels stay learnable and take that offset out.
"""

from __future__ import annotations

import math
from typing import Any

import mujoco
import numpy as np

from lnn_control.sim.experts.dls_ik import DampedLeastSquaresIK
from lnn_control.sim.experts.se3 import GeometricController, rotation_matrix
from lnn_control.sim.experts.target_search import TargetSearch
from lnn_control.sim.mjcf import load_scene
from lnn_control.sim.quadrotor import MAX_RATES, ROTOR_DRAG, PHYSICS_SIZE, QuadrotorParams, RateController, read_physics
from lnn_control.sim.velocity import VelocityLoop, yaw_of

__all__ = ["AirframeTeacher", "PayloadTeacher", "TargetTeacher"]


class _TrueAirframe:
    """The newest quadrotor ``physics`` value, unpacked: the true airframe, its rate controller,
    drag ``(3,)`` N s/m and the wind's force ``(3,)`` N; the controller is rebuilt only when the
    airframe changes (a payload), not with every gust."""

    def __init__(self, nominal: QuadrotorParams) -> None:
        self.nominal = nominal
        self._nominal_rates = RateController(nominal)
        self._key: bytes = b""
        self.airframe = nominal
        self.rates = RateController(nominal)
        self.drag = ROTOR_DRAG.copy()
        self.wind_force = np.zeros(3)
        self.autopilot_integral = np.zeros(3)

    def update(self, value: np.ndarray) -> None:
        """Take a new ``physics`` value ``(15,)`` (QuadTarget: ``(18,)``)."""
        airframe, self.drag, self.wind_force = read_physics(value[:PHYSICS_SIZE], self.nominal)
        #: QuadTarget's autopilot velocity integral ``(3,)`` m (world); empty for QuadHover
        self.autopilot_integral = np.asarray(value[PHYSICS_SIZE:], dtype=float)
        key = np.asarray(value[:9], dtype=float).tobytes()
        if key != self._key:
            self._key, self.airframe, self.rates = key, airframe, RateController(airframe)

    def action(self, thrust: float, rates: np.ndarray, body_rates: np.ndarray) -> np.ndarray:
        """The action ``(4,)`` for which the nominal flight controller sends the motor commands
        that one tuned to the true airframe sends for collective ``thrust`` N and body ``rates``
        ``(3,)`` rad/s, at ``body_rates`` ``(3,)`` rad/s (:meth:`RateController.action_for`)."""
        commands = self.rates.motor_commands(self.rates.action(thrust, rates), body_rates)
        return self._nominal_rates.action_for(commands, body_rates)

    @property
    def thrust_ratio(self) -> float:
        """Collective thrust the true rotors give per newton the nominal mixer asks for."""
        return float(self.airframe.rotor_max_thrust.mean() / self.nominal.rotor_max_thrust.mean())


class _ToldAirframe:
    """Mixin before a quadrotor expert: reads the ``physics`` stream into ``_truth`` (a
    :class:`_TrueAirframe` the class makes) and passes every other stream on; ``_told`` says
    whether a value has arrived this episode."""

    _truth: _TrueAirframe

    def reset(self) -> None:
        super().reset()  # type: ignore[misc]
        self._told = False

    def on_event(self, stream: str, stamp_ns: int, value: np.ndarray) -> None:
        if stream == "physics":
            self._truth.update(value)
            self._told = True
        else:
            super().on_event(stream, stamp_ns, value)  # type: ignore[misc]


class AirframeTeacher(_ToldAirframe, GeometricController):
    """QuadHover's teacher: the SE(3) controller with the true mass in its force, the true drag and
    the wind's force as feedforward, and its thrust and rate commands mixed for the true airframe
    (inertia, per-rotor gains) then written as the action the nominal flight controller turns
    into exactly those motor commands (:meth:`RateController.action_for`).

    Reads ``physics`` ((15,), :meth:`~lnn_control.sim.quadrotor.QuadrotorDraw.physics`) besides
    the expert's streams; until it arrives it flies as the expert. Options as
    :class:`GeometricController`, with no integral and a larger tilt by default (strong wind on a
    light airframe needs more than 0.5 rad).
    """

    def __init__(self, integral_pole: float = 0.0, max_tilt: float = 0.8, **options: Any) -> None:
        super().__init__(integral_pole=integral_pole, max_tilt=max_tilt, **options)
        self._truth = _TrueAirframe(self.params)

    def _force(self, error: np.ndarray, velocity: np.ndarray) -> np.ndarray:
        if not self._told:
            return super()._force(error, velocity)
        truth = self._truth
        feedback = -self.k_x * error - self.k_v * velocity - self.k_i * self._integral
        force = feedback * (truth.airframe.mass / self.params.mass) + truth.drag * velocity - truth.wind_force
        weight = truth.airframe.hover_thrust
        force[2] = max(force[2] + weight, 0.2 * weight)
        return force

    def _action(self, thrust: float, rates: np.ndarray) -> np.ndarray:
        if not self._told:
            return super()._action(thrust, rates)
        assert self._state is not None
        return self._truth.action(thrust, rates, self._state[10:13])


class TargetTeacher(_ToldAirframe, TargetSearch):
    """QuadTarget's teacher: :class:`TargetSearch`'s velocity set-point, flown on the true airframe.

    QuadTarget's action goes through the autopilot's velocity loop
    (:class:`~lnn_control.sim.velocity.VelocityLoop`), which believes the nominal airframe and
    clamps its integral. The teacher asks for the force that tracks the search's velocity ``v_d``
    on the true airframe, ``F = m k_v (v_d - v) + drag v - F_wind + m g e3``, scaled by the true
    rotors' thrust per nominal newton, and commands the set-point for which the autopilot, given
    its integral now (read from ``physics`` (18,)), asks for exactly that force.

    It counts the target as found once it is ahead, within :attr:`FOUND_WITHIN` horizontally,
    wherever it is vertically: in a strong wind the airframe leans by up to 0.5 rad, and the body-
    fixed camera with it, so a target at the drone's height can sit above or below the image.

    Options as :class:`TargetSearch`.
    """

    FOUND_WITHIN = (TargetSearch.FOUND_WITHIN[0], math.pi)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        nominal = QuadrotorParams.from_model(load_scene("quadrotor"))
        self._autopilot = VelocityLoop(nominal)
        self._truth = _TrueAirframe(nominal)
        #: the control period the autopilot integrates over, s (QuadTarget's 100 Hz)
        self.control_dt = 0.01

    def command(self, stamp_ns: int) -> np.ndarray:
        setpoint = super().command(stamp_ns)
        if not self._told or self._state is None:
            return setpoint
        truth, autopilot = self._truth, self._autopilot
        velocity = self._state[7:10]
        rotation = rotation_matrix(self._state[3:7])
        heading = yaw_of(rotation)
        c, s = math.cos(heading), math.sin(heading)
        forward, left, up, yaw_rate = (float(x) for x in setpoint)
        desired = np.array([c * forward - s * left, s * forward + c * left, up])
        mass = truth.airframe.mass
        force = mass * autopilot.velocity_gain * (desired - velocity) + truth.drag * velocity - truth.wind_force
        force[2] += mass * truth.nominal.gravity
        asked = force / truth.thrust_ratio
        roll, pitch, yaw = self._rate_correction(self._setpoint(asked, heading, yaw_rate), rotation)
        # the autopilot's rates are -k_R e_R: ask for an attitude turned by (correction / k_R)
        turn_x, turn_y = roll / autopilot.attitude_gain[0], pitch / autopilot.attitude_gain[1]
        asked = float(np.linalg.norm(asked)) * _attitude(asked, heading) @ np.array([turn_y, -turn_x, 1.0])
        return self._clipped(self._setpoint(asked, heading, yaw_rate + yaw))

    def _setpoint(self, asked: np.ndarray, heading: float, yaw_rate: float) -> np.ndarray:
        """The set-point ``(4,)`` (m/s, rad/s) for which the autopilot, with its integral now, asks
        for the force ``asked`` ``(3,)`` N (world): it asks for ``m (k_v e + k_i (I + e dt)) +
        drag v + m g e3`` with ``e`` the set-point's world velocity less the velocity."""
        assert self._state is not None
        autopilot, nominal = self._autopilot, self._truth.nominal
        velocity = self._state[7:10]
        gain = nominal.mass * (autopilot.velocity_gain + autopilot.integral_gain * self.control_dt)
        rest = asked - ROTOR_DRAG * velocity - nominal.mass * autopilot.integral_gain * self._truth.autopilot_integral
        rest[2] -= nominal.mass * nominal.gravity
        world = velocity + rest / gain
        c, s = math.cos(heading), math.sin(heading)
        return np.array([c * world[0] + s * world[1], -s * world[0] + c * world[1], world[2], yaw_rate])

    def _rate_correction(self, setpoint: np.ndarray, rotation: np.ndarray) -> np.ndarray:
        """``(3,)`` rad/s: the body rates the autopilot should add to what it asks for at
        ``setpoint`` so that its nominal mixer sends the motor commands one tuned to the true
        airframe would. A +-10 % spread of the rotor gains moves the torques the nominal mixer
        gives by up to ~0.4 rad/s of roll or pitch rate and ~1.5 rad/s of yaw rate (the
        Crazyflie's yaw moment per newton is nearly its arm's length)."""
        assert self._state is not None
        autopilot = self._autopilot
        autopilot.restore(self._truth.autopilot_integral)
        action = autopilot.action(setpoint, rotation, self._state[7:10], self.control_dt)
        thrust = (action[0] + 1.0) / 2.0 * self._truth.nominal.max_thrust * self._truth.thrust_ratio
        true = self._truth.action(thrust, action[1:] * MAX_RATES, self._state[10:13])
        return (true[1:] - action[1:]) * MAX_RATES


def _attitude(force: np.ndarray, heading: float) -> np.ndarray:
    """``(3, 3)`` the attitude whose body z axis points along ``force`` ``(3,)`` and whose x axis
    heads ``heading`` rad, as the geometric attitude loop builds it
    (:func:`~lnn_control.sim.velocity.thrust_and_rates`)."""
    b3 = force / np.linalg.norm(force)
    b2 = np.cross(b3, np.array([math.cos(heading), math.sin(heading), 0.0]))
    b2 /= np.linalg.norm(b2)
    return np.column_stack([np.cross(b2, b3), b2, b3])


class PayloadTeacher(DampedLeastSquaresIK):
    """ArmReach's teacher: damped least squares, with its joint targets offset so the servos, at
    their true stiffness, hold a payload at the end effector where the targets say.

    The servos' gravity compensation knows the links (MuJoCo's ``gravcomp``, as UR's controller
    models its own arm), not a payload; a payload's weight ``m g`` at the end effector loads the
    joints with ``tau = J_p^T (-m g e3)``, which a position servo of stiffness ``k`` holds
    ``tau / k`` off its target. The teacher adds ``-tau / k`` to each target. Reads ``physics``
    ((13,): link masses kg, servo stiffness N m/rad, payload kg). Options as
    :class:`DampedLeastSquaresIK`.
    """

    def reset(self) -> None:
        super().reset()
        self._stiffness: np.ndarray | None = None
        self._payload = 0.0

    def on_event(self, stream: str, stamp_ns: int, value: np.ndarray) -> None:
        if stream == "physics":
            self._stiffness = np.asarray(value[6:12], dtype=float)
            self._payload = float(value[12])
        else:
            super().on_event(stream, stamp_ns, value)

    def _command(self, targets: np.ndarray) -> np.ndarray:
        if self._stiffness is None or self._payload == 0.0 or self._joints is None:
            return super()._command(targets)
        data = self._data
        data.qpos[:] = self._joints
        mujoco.mj_kinematics(self.model, data)
        mujoco.mj_comPos(self.model, data)
        position = np.zeros((3, self.model.nv))
        mujoco.mj_jacSite(self.model, data, position, None, self._site)
        load = position.T @ (self._payload * self.model.opt.gravity)
        return super()._command(targets - load / self._stiffness)
