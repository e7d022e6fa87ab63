"""QuadHover for many quadrotors at once: physics in C on ``mujoco.batch``, the rest in numpy.

:class:`QuadHoverVectorEnv` is a :class:`gymnasium.vector.VectorEnv` with the task, action,
observation, timing model, IMU noise and scenarios of :class:`~lnn_control.sim.envs.quad_hover.QuadHoverEnv`
(the start states, rewards, crashes and success are the same functions). The rate controller is
one matrix product over the batch; MuJoCo steps every quadrotor one physics step at a time on its
thread pool, and after each step the streams whose measurements fall in that step read the
batch's sensor rows. What it leaves out, for speed: per-message event lists (each stream's newest
value is the observation, and ``infos["stamp_ns"]`` gives its stamp; ``messages=True`` adds every
message, see below) and the camera stream.

**Every message** (``messages=True``, for RL; off by default, which changes nothing else):
``infos["privileged"]`` holds :meth:`QuadHoverVectorEnv.privileged_state` (for a critic) and
``infos["messages"]`` the messages delivered for the returned observation, as padded arrays::

    infos["messages"] = {
        "now_ns": (N,) int64               the control instant the period ends at, ns since reset
        "streams": {name: {                 in the env's stream order (``streams=``)
            "values":     (N, M, d) float64 each message's value, as the single env's event holds it
            "stamp_ns":   (N, M) int64      its stamp, ns since the episode's reset
            "arrival_ns": (N, M) int64      when it arrived (stamp + latency; 0 at a reset), ns
            "count":      (N,) int64        messages of the period; rows from count on are zero
        }},
    }

Within a stream the messages are oldest first (stamps strictly increase); ``M`` is the most the
stream can deliver in one control period under the scenario's timing (:attr:`BatchStream.max_messages`;
more raises). The single env's ``info["sensor_events"]`` is the same messages merged by stamp,
ties in the env's stream order (a stable sort of the streams' messages, concatenated in that
order, by stamp): that is :mod:`lnn_control.train.rl.batched_steps`' merge. For an env that ended
in the step, ``infos["messages"]`` holds its new episode's reset messages (one per stream, stamp
0, ``now_ns`` 0) and ``infos["final_info"]["messages"]`` its last period's messages.

Autoreset is ``SAME_STEP``: an env that ends is reset within the same ``step``; its last
observation and info are in ``infos["final_obs"]`` and ``infos["final_info"]`` (masks
``infos["_final_obs"]``, ``infos["_final_info"]``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import mujoco
import mujoco.batch
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from lnn_control.errors import ConfigError
from lnn_control.sim.envs.base import ROS_QUATERNION_ORDER, held
from lnn_control.sim.envs.quad_hover import QuadHoverEnv, sample_hover_task
from lnn_control.sim.envs.quadrotor_env import HOLD_RADIUS, HOLD_TIME, crashed, goal_reward
from lnn_control.sim.errors import SimulationError
from lnn_control.sim.imu import ImuNoise, ImuNoiseProcess
from lnn_control.sim.mjcf import load_scene
from lnn_control.sim.quadrotor import BODY, QuadrotorParams, RateController, Wind, draw_quadrotor
from lnn_control.sim.scenarios import QuadrotorRandomisation, Scenario, resolve_scenario
from lnn_control.sim.timing import StreamTiming, sample_stamps
from lnn_control.units import NS_PER_S

__all__ = ["PRIVILEGED_SIZE", "BatchStream", "QuadHoverVectorEnv"]

#: entries of :meth:`QuadHoverVectorEnv.privileged_state`
PRIVILEGED_SIZE = 28

#: reads a stream's values for the envs ``take`` from the batch's sensor rows: ``(m,) -> (m, d)``
BatchReader = Callable[[np.ndarray, np.ndarray], np.ndarray]
_EMPTY = np.iinfo(np.int64).max
#: expanded model fields a physics-randomising scenario writes per simulation
_PHYSICS_FIELDS = ("body_mass", "body_inertia", "actuator_gainprm", "actuator_dynprm", "dof_damping")


class BatchStream:
    """One stream's messages for a batch of envs: schedule, in-flight ring, newest delivered value.

    The schedule of an episode (stamps, losses, IMU noise) is drawn whole at reset; messages in
    flight wait in a ring buffer per env until their arrival time. With ``control_ns`` it also
    keeps every message each :meth:`deliver` hands out (``delivered_*``, ``count``), oldest first.

    :param name: the stream's name.
    :param nominal: its nominal timing (before the scenario's changes).
    :param dim: size of a value.
    :param read: reads values from the batch's sensor rows.
    :param num_envs: batch size.
    :param episode_ns: longest episode, ns.
    :param scenario: the scenario (its timing changes and IMU noise).
    :param imu: IMU noise of this stream, or None.
    :param control_ns: keep every message delivered in a control period of this length, ns
        (None: only the newest, the observation).
    """

    def __init__(
        self,
        name: str,
        nominal: StreamTiming,
        dim: int,
        read: BatchReader,
        num_envs: int,
        episode_ns: int,
        scenario: Scenario,
        imu: ImuNoise | None,
        control_ns: int | None = None,
    ) -> None:
        self.name, self.nominal, self.read, self.imu = name, nominal, read, imu
        self.scenario = scenario
        timing = scenario.timing
        jitter = nominal.jitter if timing.jitter is None else timing.jitter
        fastest_ns = nominal.period_ns / timing.rate_scale[1]
        shortest_ns = fastest_ns * (1.0 - math.sqrt(3.0) * jitter)  # smallest possible interval
        mean_count = episode_ns / fastest_ns
        # 10 standard deviations of the count beyond its mean: never reached in practice (checked)
        self._length = int(mean_count + 10.0 * max(jitter, 0.01) * math.sqrt(mean_count) + 4)
        longest_latency_ns = nominal.latency_ns * timing.latency_scale[1]
        in_flight = longest_latency_ns / shortest_ns
        self._ring = int(math.ceil(in_flight)) + 2
        self.keeps_messages = control_ns is not None
        #: the most messages one control period can deliver (1 without ``control_ns``)
        self.max_messages = 1
        if control_ns is not None:
            # arrivals in (t - T, t] are stamps in a window T wide; a ring must hold every message
            # captured and not yet handed out: stamps in (t - T - latency, t]
            self.max_messages = _most_stamps(control_ns, shortest_ns)
            self._ring = _most_stamps(control_ns + longest_latency_ns, shortest_ns)
        self._episode_ns = episode_ns
        n, envs = num_envs, np.arange(num_envs)
        self._envs = envs
        self.stamps = np.zeros((n, self._length), np.int64)
        self.kept = np.ones((n, self._length), bool)
        self.noise = np.zeros((n, self._length, dim), np.float32) if imu is not None else None
        self.next = np.ones(n, np.intp)
        self.latency = np.zeros(n, np.int64)
        self.rate_hz = np.zeros(n)
        self.ring_values = np.zeros((n, self._ring, dim))
        self.ring_stamps = np.zeros((n, self._ring), np.int64)
        self.ring_arrivals = np.full((n, self._ring), _EMPTY, np.int64)
        self.ring_next = np.zeros(n, np.intp)
        self.latest = np.zeros((n, dim))
        self.latest_stamp = np.zeros(n, np.int64)
        #: with ``control_ns``: the messages the last :meth:`deliver` (or :meth:`reset`) handed
        #: out, oldest first: values ``(n, M, dim)``, stamps and arrival times ``(n, M)`` ns, and
        #: how many each env got ``(n,)``; rows from ``count`` on are zero
        m = self.max_messages
        self.delivered_values = np.zeros((n, m, dim))
        self.delivered_stamps = np.zeros((n, m), np.int64)
        self.delivered_arrivals = np.zeros((n, m), np.int64)
        self.count = np.zeros(n, np.int64)

    def reset(self, ids: np.ndarray, rng: np.random.Generator, rows: np.ndarray) -> None:
        """New episodes for envs ``ids``: timing, schedule and noise drawn, first message (stamp 0)
        read from ``rows`` (the batch's sensor rows at the reset state) and delivered at once."""
        timings = [self.scenario.timing.apply(self.nominal, rng) for _ in ids]
        period = np.array([t.period_ns for t in timings])
        jitter = np.array([t.jitter for t in timings])
        dropout = np.array([t.dropout for t in timings])
        stamps, kept = sample_stamps(rng, np.zeros(len(ids), np.int64), self._length - 1, period, jitter, dropout)
        if np.any(stamps[:, -1] <= self._episode_ns):
            raise SimulationError(f"stream {self.name}: schedule shorter than an episode (a bug)")
        self.stamps[ids, 0] = 0
        self.stamps[ids, 1:] = stamps
        self.kept[ids, 0] = True
        self.kept[ids, 1:] = kept
        self.latency[ids] = [t.latency_ns for t in timings]
        self.rate_hz[ids] = [t.rate_hz for t in timings]
        if self.noise is not None:
            process = ImuNoiseProcess(self.imu, self.rate_hz[ids], rng, (len(ids),))
            self.noise[ids] = process.sample(self.stamps[ids])
        self.next[ids] = 1
        self.ring_arrivals[ids] = _EMPTY
        self.ring_next[ids] = 0
        first = self.read(ids, rows)
        if self.noise is not None:
            first = first + self.noise[ids, 0]
        self.latest[ids] = first
        self.latest_stamp[ids] = 0
        if self.keeps_messages:  # the reset's message, delivered at once
            self.delivered_values[ids] = 0.0
            self.delivered_stamps[ids] = 0
            self.delivered_arrivals[ids] = 0
            self.delivered_values[ids, 0] = first
            self.count[ids] = 1

    def capture(self, until_ns: np.ndarray, rows: np.ndarray) -> None:
        """Read every measurement stamped up to ``until_ns`` ``(n,)`` not read before, from ``rows``."""
        envs = self._envs
        while True:
            index = self.next
            stamps = self.stamps[envs, index]
            due = np.flatnonzero(stamps <= until_ns)
            if due.size == 0:
                return
            take = due[self.kept[due, index[due]]]
            if take.size:
                values = self.read(take, rows)
                if self.noise is not None:
                    values = values + self.noise[take, index[take]]
                slot = self.ring_next[take]
                if self.keeps_messages and np.any(self.ring_arrivals[take, slot] != _EMPTY):
                    raise SimulationError(
                        f"stream {self.name}: more messages in flight than its ring holds "
                        f"({self._ring}); the timing model's bound is wrong (a bug)"
                    )
                self.ring_values[take, slot] = values
                self.ring_stamps[take, slot] = stamps[take]
                self.ring_arrivals[take, slot] = stamps[take] + self.latency[take]
                self.ring_next[take] = (slot + 1) % self._ring
            self.next[due] += 1

    def deliver(self, now_ns: np.ndarray) -> None:
        """Hand out the messages that have arrived by ``now_ns`` ``(n,)``: the newest becomes the
        value (and, with ``control_ns``, all of them the ``delivered_*`` arrays)."""
        arrived = self.ring_arrivals <= now_ns[:, None]
        if self.keeps_messages:
            self._keep(arrived)
        if not arrived.any():
            return
        stamps = np.where(arrived, self.ring_stamps, -1)
        newest = stamps.argmax(axis=1)
        envs = np.flatnonzero(stamps[self._envs, newest] >= 0)
        self.latest[envs] = self.ring_values[envs, newest[envs]]
        self.latest_stamp[envs] = self.ring_stamps[envs, newest[envs]]
        self.ring_arrivals[arrived] = _EMPTY

    def _keep(self, arrived: np.ndarray) -> None:
        """Copy the ``arrived`` ``(n, ring)`` messages, oldest first, into the ``delivered_*`` arrays."""
        count = arrived.sum(axis=1)
        most = int(count.max(initial=0))
        if most > self.max_messages:
            raise SimulationError(
                f"stream {self.name}: {most} messages arrived in one control period, more than the "
                f"{self.max_messages} its timing allows (a bug in the bound)"
            )
        m = self.max_messages
        # stamps increase within a stream: stamp order is capture and arrival order
        order = np.argsort(np.where(arrived, self.ring_stamps, _EMPTY), axis=1)[:, :m]
        rows = self._envs[:, None]
        padding = np.arange(m) >= count[:, None]
        self.delivered_values = self.ring_values[rows, order]
        self.delivered_values[padding] = 0.0
        self.delivered_stamps = np.where(padding, 0, self.ring_stamps[rows, order])
        self.delivered_arrivals = np.where(padding, 0, self.ring_arrivals[rows, order])
        self.count = count


def _most_stamps(window_ns: float, shortest_ns: float) -> int:
    """The most stamps a half-open window ``window_ns`` wide can hold when consecutive intervals
    are at least ``shortest_ns`` before rounding to whole ns (so at least ``shortest_ns - 1``
    after; the margin covers the bound's own rounding)."""
    return int(window_ns // (shortest_ns * (1.0 - 1e-9) - 1.0)) + 1


class QuadHoverVectorEnv(VectorEnv):
    """``num_envs`` QuadHover episodes stepped together (see the module docstring).

    :param num_envs: batch size.
    :param scenario: scenario name, YAML path or :class:`~lnn_control.sim.scenarios.Scenario`.
    :param streams: observed streams (``imu``, ``odom``, ``goal``; not ``camera``).
    :param nthread: MuJoCo threads (0: all CPUs).
    :param max_episode_steps: steps before truncation (QuadHover-v0's 500).
    :param messages: also return every message of each period in ``infos["messages"]`` (see the
        module docstring); the observations, rewards and the rest of the infos are unchanged.
    """

    metadata: dict[str, Any] = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}

    def __init__(
        self,
        num_envs: int = 64,
        scenario: str | Scenario = "nominal",
        streams: tuple[str, ...] | None = None,
        nthread: int = 0,
        max_episode_steps: int = 500,
        messages: bool = False,
    ) -> None:
        self.num_envs = int(num_envs)
        if self.num_envs < 1:
            raise ConfigError(f"num_envs must be at least 1, got {num_envs!r}")
        self.messages = bool(messages)
        self.scenario = resolve_scenario(scenario)
        if self.scenario.adaptation.changes:
            raise ConfigError(
                f"QuadHoverVectorEnv: scenario {self.scenario.name!r} changes the robot mid-episode "
                "(adaptation), which the batched env does not do; use the single env, lnn_control/QuadHover-v0"
            )
        self.streams = tuple(QuadHoverEnv.DEFAULT_STREAMS if streams is None else streams)
        for name in self.streams:
            if name not in ("imu", "odom", "goal"):
                raise ConfigError(
                    f"QuadHoverVectorEnv: stream {name!r} is not available batched; choose from imu, "
                    "odom, goal (the camera needs the single env, lnn_control/QuadHover-v0)"
                )
        self.max_episode_steps = int(max_episode_steps)
        self.render_mode = None

        self.model = load_scene("quadrotor")
        self.nominal = QuadrotorParams.from_model(self.model)
        self.controller = RateController(self.nominal)
        self._body = self.model.body(BODY).id
        self._dof = int(self.model.jnt_dofadr[self.model.body_jntadr[self._body]])
        physics = self.scenario.quadrotor
        self._randomised_physics = physics.randomises_airframe
        if not self._randomised_physics:  # one shared model with the (fixed) drawn parameters
            draw_quadrotor(self.nominal, physics, np.random.default_rng(0)).write(
                self.model, self._body, self._dof
            )
        self.batch = mujoco.batch.Batch(self.model, nsim=self.num_envs, nthread=nthread)
        if self._randomised_physics:
            self._fields = {name: self.batch.expand(name) for name in _PHYSICS_FIELDS}
        batch = self.batch
        self._qpos, self._qvel = batch.bind("qpos"), batch.bind("qvel")
        self._act, self._ctrl = batch.bind("act"), batch.bind("ctrl")
        self._mocap = batch.bind("mocap_pos")
        self._xfrc = batch.bind("xfrc_applied")
        self._sensors = batch.bind("sensordata")

        self.single_action_space = spaces.Box(-1.0, 1.0, (4,), np.float32)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.single_observation_space = spaces.Dict(
            {
                name: spaces.Box(-np.inf, np.inf, QuadHoverEnv.STREAMS[name].shape, np.float32)
                for name in self.streams
            }
        )
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)

        self.control_dt = 1.0 / QuadHoverEnv.CONTROL_HZ
        self._physics_ns = round(self.model.opt.timestep * NS_PER_S)
        self._control_ns = round(self.control_dt * NS_PER_S)
        self._substeps = self._control_ns // self._physics_ns
        episode_ns = self.max_episode_steps * self._control_ns
        self.goal = np.zeros((self.num_envs, 3))
        self._streams = [self._make_stream(name, episode_ns) for name in self.streams]
        self._now = np.zeros(self.num_envs, np.int64)
        self._steps = np.zeros(self.num_envs, np.int64)
        self._held = np.zeros(self.num_envs)
        self._previous = np.zeros((self.num_envs, 4))
        self._hover_ctrl = self.controller.motor_commands(self.controller.hover_action, np.zeros(3))
        self._wind: Wind | None = None
        self._drag = np.zeros((self.num_envs, 3))
        #: each env's airframe relative to nominal (privileged_state)
        self._airframe = np.zeros((self.num_envs, 9))
        #: the scenario's start offset, tilt and speed ranges, and its heading range, are scaled by
        #: these at every reset (in (0, 1]; an RL curriculum grows them to 1)
        self.start_scale = 1.0
        self.heading_scale = 1.0

    def _make_stream(self, name: str, episode_ns: int) -> BatchStream:
        spec = QuadHoverEnv.STREAMS[name]
        assert spec.timing is not None
        if name == "goal":
            goal = self.goal

            def read(take: np.ndarray, rows: np.ndarray) -> np.ndarray:
                return goal[take]
        else:
            sensors = {"imu": ("gyro", "accel"), "odom": ("position", "orientation", "linvel", "gyro")}[name]
            found = [self.model.sensor(s) for s in sensors]
            columns = np.concatenate([s.adr[0] + np.arange(s.dim[0]) for s in found])
            if name == "odom":
                columns = columns[ROS_QUATERNION_ORDER]

            def read(take: np.ndarray, rows: np.ndarray) -> np.ndarray:
                return rows[take[:, None], columns]

        imu = self.scenario.imu if spec.kind == "imu" else None
        control_ns = self._control_ns if self.messages else None
        return BatchStream(
            name, spec.timing, spec.shape[0], read, self.num_envs, episode_ns, self.scenario, imu, control_ns
        )

    # ------------------------------------------------------------------ gymnasium API
    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        if isinstance(seed, list):
            raise ConfigError("QuadHoverVectorEnv draws all envs from one generator: pass one int seed")
        super().reset(seed=seed)
        physics = self.scenario.quadrotor
        self._wind = Wind((self.num_envs,), physics.gust_std, physics.gust_time_constant, self.control_dt, self.np_random)
        self._reset_envs(np.arange(self.num_envs))
        return self._observation(), self._info()

    def step(
        self, actions: np.ndarray
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        action = np.clip(np.asarray(actions, dtype=np.float64), -1.0, 1.0)
        self._ctrl[:] = self.controller.motor_commands(action, self._qvel[:, 3:6])
        wind = self._wind
        assert wind is not None, "call reset() before step()"
        if not wind.calm:
            self._xfrc[:, self._body, :3] = self._drag * wind.step()
        start = self._now
        for row in range(self._substeps):
            self.batch.step()  # sensor rows now describe instant start + row * physics step
            until = start + (row + 1) * self._physics_ns
            for stream in self._streams:
                stream.capture(until, self._sensors)
        self._now = start + self._control_ns
        for stream in self._streams:
            stream.deliver(self._now)
        self._steps += 1

        position, velocity, rates = self._qpos[:, :3], self._qvel[:, :3], self._qvel[:, 3:6]
        distance = np.linalg.norm(position - self.goal, axis=1)
        self._held = held(self._held, distance, HOLD_RADIUS, self.control_dt)
        crash = crashed(position[:, 0], position[:, 1], position[:, 2], self._qpos[:, 4], self._qpos[:, 5])
        change = action - self._previous
        self._previous = action
        reward = goal_reward(
            distance,
            np.linalg.norm(velocity, axis=1),
            np.linalg.norm(rates, axis=1),
            np.einsum("ij,ij->i", change, change),
            crash,
        )
        terminated = np.asarray(crash, dtype=bool)
        truncated = (self._steps >= self.max_episode_steps) & ~terminated
        info = self._info(distance)
        done = np.flatnonzero(terminated | truncated)
        if done.size:
            mask = np.zeros(self.num_envs, bool)
            mask[done] = True
            info.update(final_obs=self._observation(), _final_obs=mask, final_info=dict(info), _final_info=mask)
            self._reset_envs(done)
            if self.messages:  # the new episodes' (final_info keeps the last period's)
                info["messages"] = self._messages()
                info["privileged"] = self.privileged_state()
        return self._observation(), reward, terminated, truncated, info

    # ------------------------------------------------------------------ pieces
    def _reset_envs(self, ids: np.ndarray) -> None:
        rng = self.np_random
        physics = self.scenario.quadrotor
        draws = [draw_quadrotor(self.nominal, physics, rng) for _ in ids]
        if self._randomised_physics:
            for env, draw in zip(ids, draws):
                row = SimpleNamespace(**{name: field[env] for name, field in self._fields.items()})
                draw.write(row, self._body, self._dof)
            self.batch.set_const(ids)
        self._drag[ids] = [draw.drag for draw in draws]
        nominal = self.nominal
        self._airframe[ids] = [
            np.concatenate(([draw.mass / nominal.mass], draw.inertia / nominal.inertia,
                            draw.rotor_gain / nominal.rotor_max_thrust, [draw.motor_tau / nominal.motor_tau])) - 1.0
            for draw in draws]
        assert self._wind is not None
        self._wind.restart(np.array([draw.steady_wind for draw in draws]), ids)
        goal, qpos, qvel = sample_hover_task(rng, len(ids), self._start(physics))
        self.batch.reset(ids, stage=int(mujoco.mjtStage.mjSTAGE_NONE))
        self.goal[ids] = goal
        self._qpos[ids] = qpos
        self._qvel[ids] = qvel
        self._act[ids] = self._hover_ctrl
        self._ctrl[ids] = self._hover_ctrl
        self._mocap[ids, 0] = goal
        self._xfrc[ids] = 0.0
        self.batch.forward(ids)
        self._now[ids] = 0
        self._steps[ids] = 0
        self._held[ids] = 0.0
        self._previous[ids] = self.controller.hover_action
        for stream in self._streams:
            stream.reset(ids, rng, self._sensors)

    def _start(self, physics: QuadrotorRandomisation) -> QuadrotorRandomisation:
        """The scenario's start ranges scaled: offset, tilt and speed by :attr:`start_scale`, heading
        by :attr:`heading_scale`."""
        if self.start_scale == 1.0 and self.heading_scale == 1.0:
            return physics
        s = self.start_scale
        return dataclasses.replace(physics, start_offset=physics.start_offset * s,
                                   start_tilt=physics.start_tilt * s, start_speed=physics.start_speed * s,
                                   start_yaw=physics.start_yaw * self.heading_scale)

    def _observation(self) -> dict[str, np.ndarray]:
        return {stream.name: stream.latest.astype(np.float32) for stream in self._streams}

    def _info(self, distance: np.ndarray | None = None) -> dict[str, Any]:
        info: dict[str, Any] = {
            "stamp_ns": {stream.name: stream.latest_stamp.copy() for stream in self._streams},
            "is_success": self._held >= HOLD_TIME - 1e-9,
        }
        if distance is not None:
            info["distance"] = distance
        if self.messages:
            info["messages"] = self._messages()
            info["privileged"] = self.privileged_state()
        return info

    def privileged_state(self) -> np.ndarray:
        """What a critic may know and a policy never sees, ``(N, PRIVILEGED_SIZE)`` float32, each
        entry of order 1: the goal minus the position (3, m), the attitude quaternion (4, ROS
        order x y z w), the velocity (3, m/s, world), the body rates (3, rad/s / 5), the
        episode's airframe relative to nominal (mass, inertia (3), rotor gains (4), motor time
        constant: each ``value / nominal - 1``), its drag (3, N s/m per kg of nominal mass) and
        the wind's force (3, per nominal weight)."""
        nominal = self.nominal
        quaternion = self._qpos[:, 3:7][:, [1, 2, 3, 0]]
        return np.concatenate([
            self.goal - self._qpos[:, :3], quaternion, self._qvel[:, :3], self._qvel[:, 3:6] / 5.0,
            self._airframe, self._drag / nominal.mass,
            self._xfrc[:, self._body, :3] / (nominal.mass * nominal.gravity),
        ], axis=1).astype(np.float32)

    def _messages(self) -> dict[str, Any]:
        """``infos["messages"]``: every stream's messages of the period (copies; module docstring)."""
        return {
            "now_ns": self._now.copy(),
            "streams": {
                stream.name: {
                    "values": stream.delivered_values.copy(),
                    "stamp_ns": stream.delivered_stamps.copy(),
                    "arrival_ns": stream.delivered_arrivals.copy(),
                    "count": stream.count.copy(),
                }
                for stream in self._streams
            },
        }
