"""Base of lnn_control's MuJoCo envs: a scene, timed sensor streams, privileged streams, rendering.

How a control step runs (``control period = k`` physics steps):

1. the subclass turns the action into actuator commands (:meth:`SensorEnv._apply_action`);
2. every selected stream says which of its measurements fall in ``(t, t + period]``; a measurement
   stamped ``s`` reads the simulation at the last physics instant before ``s`` (a sample-and-hold,
   at most one physics step, 2.5 ms for the quadrotor, older than its stamp, like a MEMS sensor's
   filter delay). Physics advances in C (``mj_step(..., nstep)``) from one needed instant to the
   next, then to the end of the period; a camera frame is rendered only when one is measured;
3. each stream hands out the messages that have arrived by ``t + period`` (stamp + latency); they
   go to ``info["sensor_events"]`` in stamp order and the observation holds each stream's newest;
4. the privileged streams (``ground_truth`` and the episode's hidden ``physics`` at every control
   instant, and a ``goal`` the policy must not see) go to ``info["privileged_events"]``; they are
   never part of the observation, and no policy may declare them.

Stamps are integer nanoseconds since the episode's reset. ``reset`` hands out one message of every
stream stamped 0 (whatever its latency), so the first observation is defined.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium import spaces

from lnn_control.errors import ConfigError
from lnn_control.policy.config import ActionSpec
from lnn_control.policy.events import SensorEvent
from lnn_control.sim.actions import to_action, to_command
from lnn_control.sim.events import EventBatch
from lnn_control.sim.imu import ImuNoiseProcess
from lnn_control.sim.mjcf import load_scene
from lnn_control.sim.rendering import offscreen_renderer
from lnn_control.sim.scenarios import Scenario, resolve_scenario, uniform
from lnn_control.sim.streams import EnvStream, Reader, TimedStream
from lnn_control.sim.timing import StreamTiming
from lnn_control.units import NS_PER_S

__all__ = ["ROS_QUATERNION_ORDER", "SensorEnv", "held", "quaternion_to_ros"]

#: index that reorders MuJoCo's ``[w, x, y, z]`` quaternion (at offset 3) into ROS's ``[x, y, z, w]``
ROS_QUATERNION_ORDER = np.array([0, 1, 2, 4, 5, 6, 3, 7, 8, 9, 10, 11, 12])


def held(previous: Any, distance: Any, radius: float, dt: float) -> Any:
    """Time spent within ``radius`` of the goal up to now, s: ``previous + dt`` inside, 0 outside.

    Works on floats and on arrays (one per env); success is "held for the last N seconds".
    """
    return (previous + dt) * (distance < radius)


def quaternion_to_ros(position_quat_rest: np.ndarray) -> np.ndarray:
    """``[p(3), qw, qx, qy, qz, rest...]`` (MuJoCo order) -> ``[p(3), qx, qy, qz, qw, rest...]`` (ROS)."""
    return position_quat_rest[ROS_QUATERNION_ORDER[: len(position_quat_rest)]]


class SensorEnv(gym.Env[dict[str, np.ndarray], np.ndarray]):
    """Base class; see the module docstring for the step loop. Subclasses set the class attributes
    and implement the hooks.

    :param scenario: a scenario name (``nominal``, ``timing_ood``, ``physics_ood``, ``visual_ood``,
        or a training scenario ``train_*``), a YAML path or a
        :class:`~lnn_control.sim.scenarios.Scenario`.
    :param streams: the observed streams, as the policy declares them; default
        :attr:`DEFAULT_STREAMS`. Any non-privileged entry of :attr:`STREAMS` may be chosen.
    :param image_size: side of the square camera image, pixels.
    :param render_mode: ``None`` or ``"rgb_array"`` (a third-person view for people).
    :param render_size: side of the square ``render()`` image, pixels.

    Public attributes: ``model`` and ``data`` (MuJoCo), ``scenario``, ``streams`` (the observed
    stream names), ``stream_timing`` (this episode's timing of each observed stream, after
    randomisation), ``control_dt`` (s) and :attr:`now_ns`.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 100}

    #: ``models/<ROBOT>/scene.xml``
    ROBOT: ClassVar[str]
    #: control (policy) rate, Hz; must be a whole number of physics steps
    CONTROL_HZ: ClassVar[float]
    #: every stream the env offers, name -> spec (privileged ones included)
    STREAMS: ClassVar[dict[str, EnvStream]]
    #: the streams observed unless the caller chooses
    DEFAULT_STREAMS: ClassVar[tuple[str, ...]]
    #: MJCF camera of the ``camera`` stream, and of ``render()``
    IMAGE_CAMERA: ClassVar[str]
    RENDER_CAMERA: ClassVar[str]
    #: the action's size
    ACTION_SIZE: ClassVar[int]
    #: the mid-episode changes this env can make (a scenario's ``adaptation.changes``)
    CHANGES: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        scenario: str | Scenario = "nominal",
        streams: Sequence[str] | None = None,
        image_size: int = 64,
        render_mode: str | None = None,
        render_size: int = 240,
    ) -> None:
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ConfigError(
                f"render_mode {render_mode!r} is not supported: use None or 'rgb_array'"
            )
        self.scenario = resolve_scenario(scenario)
        self.render_mode = render_mode
        self.model = load_scene(self.ROBOT)
        self.data = mujoco.MjData(self.model)
        self.streams = self._select_streams(streams)
        if int(image_size) < 8:
            raise ConfigError(f"image_size must be at least 8 pixels, got {image_size!r}")
        self.image_size = int(image_size)
        self._check_visual_scenario()

        self._physics_ns = round(self.model.opt.timestep * NS_PER_S)
        self._control_ns = round(NS_PER_S / self.CONTROL_HZ)
        if self._control_ns % self._physics_ns:
            raise ConfigError(f"{type(self).__name__}: the control period must be whole physics steps")
        self._substeps = self._control_ns // self._physics_ns
        self.control_dt = self._control_ns / NS_PER_S

        self.observation_space = spaces.Dict(
            {name: self._space(self.STREAMS[name]) for name in self.streams}
        )
        self.action_space = spaces.Box(-1.0, 1.0, (self.ACTION_SIZE,), np.float32)
        self._observed = [(name, space.dtype) for name, space in self.observation_space.spaces.items()]
        self.metadata = {**self.metadata, "render_fps": self.CONTROL_HZ}

        self._image_renderer: mujoco.Renderer | None = None
        self._view_renderer: mujoco.Renderer | None = None
        self._render_size = int(render_size)
        self._nominal_visual = self._visual_state()
        #: the cameras the image streams see through: every camera but the one render() uses
        self._stream_cameras = [
            camera for camera in range(self.model.ncam) if self.model.camera(camera).name != self.RENDER_CAMERA
        ]
        #: draws this episode's camera poses and image noise: each reset of a scenario that
        #: randomises the cameras replaces it with a child of the episode's generator
        self._visual_rng = np.random.default_rng(0)
        self._timed: list[TimedStream] = []
        self._latest: dict[str, np.ndarray] = {}
        self._now_ns = 0
        #: this episode's timing of each observed stream (the scenario's draw)
        self.stream_timing: dict[str, StreamTiming] = {}
        #: this episode's mid-episode change (scenario ``adaptation``; None: none), and the
        #: control instant it happened at, ns (None: not yet or never)
        self.change: str | None = None
        self.change_ns: int | None = None
        self._change_at_ns = math.inf
        self._change_rng = np.random.default_rng(0)

    # ------------------------------------------------------------------ hooks for subclasses
    def _reader(self, name: str) -> Reader:
        """How to read the non-privileged stream ``name`` from ``MjData``."""
        raise NotImplementedError

    def _ground_truth(self) -> np.ndarray:
        """The privileged ``ground_truth`` value at the current instant."""
        raise NotImplementedError

    def _physics(self) -> np.ndarray:
        """The privileged ``physics`` value at the current instant: the hidden physical parameters
        (this episode's draw, and disturbances acting now) that only a privileged teacher reads."""
        raise NotImplementedError

    def _randomise(self, rng: np.random.Generator) -> None:
        """Apply the scenario's physics randomisation for a new episode (before the state is set)."""
        raise NotImplementedError

    def _reset_task(self, rng: np.random.Generator) -> None:
        """Set the initial state, the goal and the target for a new episode."""
        raise NotImplementedError

    def _privileged_goal(self) -> np.ndarray | None:
        """The privileged ``goal`` value handed out at reset, or None if ``goal`` is not privileged."""
        raise NotImplementedError

    def _apply_action(self, action: np.ndarray) -> None:
        """Turn the clipped action into actuator commands (and any per-step disturbance)."""
        raise NotImplementedError

    def _make_change(self, change: str, rng: np.random.Generator) -> None:
        """Change the robot now: one of :attr:`CHANGES` (see :class:`~lnn_control.sim.scenarios.Adaptation`)."""
        raise NotImplementedError

    def _evaluate(self, action: np.ndarray) -> tuple[float, bool, dict[str, Any]]:
        """Reward, termination and info entries after a step."""
        raise NotImplementedError

    def task_positions(self) -> tuple[np.ndarray, np.ndarray]:
        """The point the task moves (body or end effector) and where it should go, ``(3,)`` m each."""
        raise NotImplementedError

    def action_spec(self) -> ActionSpec:
        """The action's physical meaning: names, units, and the limits ``[low, high]`` that the
        normalised action's ``[-1, 1]`` maps onto linearly; the safe value holds the robot still.
        A policy commands in these units; :meth:`to_action` turns a command into this env's
        action."""
        raise NotImplementedError

    def to_action(self, command: np.ndarray) -> np.ndarray:
        """Physical command ``(A,)`` (units of :meth:`action_spec`) -> action in [-1, 1]."""
        return to_action(self.action_spec(), command)

    def to_command(self, action: np.ndarray) -> np.ndarray:
        """Action in [-1, 1] ``(A,)`` -> physical command (inverse of :meth:`to_action`)."""
        return to_command(self.action_spec(), action)

    # ------------------------------------------------------------------ gymnasium API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        rng = self.np_random
        mujoco.mj_resetData(self.model, self.data)
        self._randomise(rng)
        self._randomise_visual(rng)
        self._reset_task(rng)
        mujoco.mj_forward(self.model, self.data)
        self._now_ns = 0
        # from a child generator, which draws nothing from ``rng``: up to the change, the episode
        # is the one the same seed gives without it
        self._change_rng = rng.spawn(1)[0]
        self.change, at_s = self.scenario.adaptation.draw(self._change_rng, self.CHANGES, self._episode_s())
        self._change_at_ns = at_s * NS_PER_S
        self.change_ns = None

        self.stream_timing = {
            name: self.scenario.timing.apply(self.STREAMS[name].timing, rng) for name in self.streams
        }
        self._timed = [
            TimedStream(name, timing, self._reader(name), rng, self._noise(name, timing, rng))
            for name, timing in self.stream_timing.items()
        ]
        first = [stream.first(self.data) for stream in self._timed]
        self._latest = {event.stream: event.value for event in first}
        privileged = [SensorEvent("ground_truth", 0, self._ground_truth()), SensorEvent("physics", 0, self._physics())]
        goal = self._privileged_goal()
        if goal is not None:
            privileged.append(SensorEvent("goal", 0, goal))
        info = {"sensor_events": EventBatch(first), "privileged_events": EventBatch(privileged)}
        return self._observation(), info

    def step(
        self, action: np.ndarray
    ) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        clipped = np.minimum(np.maximum(np.asarray(action, dtype=np.float64), -1.0), 1.0)
        if self.change_ns is None and self._now_ns >= self._change_at_ns:
            assert self.change is not None
            self._make_change(self.change, self._change_rng)
            self.change_ns = self._now_ns
        self._apply_action(clipped)
        start, end = self._now_ns, self._now_ns + self._control_ns
        model, data, physics_ns = self.model, self.data, self._physics_ns

        # which physics instants the streams' measurements need: row j is start + j * physics_ns
        needed: dict[int, list[tuple[TimedStream, int, np.ndarray | None]]] = {}
        for stream in self._timed:
            for stamp, noise in stream.take(end):
                needed.setdefault((stamp - start - 1) // physics_ns, []).append((stream, stamp, noise))
        done = 0
        for row in sorted(needed):
            # after n steps, MjData's derived fields (sensors, poses) describe instant n - 1
            mujoco.mj_step(model, data, row + 1 - done)
            done = row + 1
            for stream, stamp, noise in needed[row]:
                stream.capture(stamp, noise, data)
        if done < self._substeps:
            mujoco.mj_step(model, data, self._substeps - done)
        self._now_ns = end

        arrived = [event for stream in self._timed for event in stream.deliver(end)]
        arrived.sort(key=_stamp)
        latest = self._latest
        for event in arrived:
            latest[event.stream] = event.value
        reward, terminated, info = self._evaluate(clipped)
        info["sensor_events"] = EventBatch(arrived)
        info["privileged_events"] = EventBatch(
            (SensorEvent("ground_truth", end, self._ground_truth()), SensorEvent("physics", end, self._physics()))
        )
        return self._observation(), reward, terminated, False, info

    def render(self) -> np.ndarray | None:
        """A ``render_size`` square RGB view from :attr:`RENDER_CAMERA` (``rgb_array`` mode)."""
        if self.render_mode is None:
            gym.logger.warn("render() needs render_mode='rgb_array' when the env is made")
            return None
        if self._view_renderer is None:
            self._view_renderer = offscreen_renderer(self.model, self._render_size, self._render_size)
        self._view_renderer.update_scene(self.data, camera=self.RENDER_CAMERA)
        return self._view_renderer.render()

    def close(self) -> None:
        for renderer in (self._image_renderer, self._view_renderer):
            if renderer is not None:
                renderer.close()
        self._image_renderer = self._view_renderer = None

    # ------------------------------------------------------------------ shared pieces
    def _episode_s(self) -> float:
        """The episode's time limit, s: its registration's (inf for an env not made by
        ``gymnasium.make``, whose unwrapped spec leaves the limit to the TimeLimit wrapper)."""
        steps = None if self.spec is None else gym.spec(self.spec.id).max_episode_steps
        return math.inf if steps is None else steps * self.control_dt

    @property
    def now_ns(self) -> int:
        """Simulated time since the episode's reset, nanoseconds (the stamps' time base)."""
        return self._now_ns

    def _select_streams(self, streams: Sequence[str] | None) -> tuple[str, ...]:
        chosen = tuple(self.DEFAULT_STREAMS if streams is None else streams)
        offered = [name for name, spec in self.STREAMS.items() if not spec.privileged]
        for name in chosen:
            if name not in offered:
                why = "is privileged (experts only)" if name in self.STREAMS else "does not exist"
                raise ConfigError(
                    f"{type(self).__name__}: stream {name!r} {why}; observable streams are "
                    f"{', '.join(offered)}"
                )
        if len(set(chosen)) != len(chosen) or not chosen:
            raise ConfigError(f"{type(self).__name__}: streams must be distinct and not empty, got {chosen}")
        return chosen

    def _space(self, spec: EnvStream) -> spaces.Box:
        if spec.kind == "image":  # rgb8, image_size square
            return spaces.Box(0, 255, (self.image_size, self.image_size, 3), np.uint8)
        return spaces.Box(-np.inf, np.inf, spec.shape, np.float32)

    def _observation(self) -> dict[str, np.ndarray]:
        latest = self._latest
        return {name: np.array(latest[name], dtype=dtype) for name, dtype in self._observed}

    def _noise(self, name: str, timing: StreamTiming, rng: np.random.Generator) -> Any:
        if self.STREAMS[name].kind != "imu":
            return None
        return ImuNoiseProcess(self.scenario.imu, timing.rate_hz, rng).sample

    def _sensor_reader(self, *sensors: str, reorder: np.ndarray | None = None) -> Reader:
        """Reads the named MJCF sensors' values, concatenated (then permuted by ``reorder``)."""
        found = [self.model.sensor(name) for name in sensors]
        columns = np.concatenate([sensor.adr[0] + np.arange(sensor.dim[0]) for sensor in found])
        if reorder is not None:
            columns = columns[reorder]

        def read(data: mujoco.MjData) -> np.ndarray:
            return data.sensordata[columns]

        return read

    def _camera_reader(self, camera: str | None = None) -> Reader:
        """Renders ``camera`` (default :attr:`IMAGE_CAMERA`) at ``image_size`` (a new ``(S, S, 3)``
        uint8 array per frame), plus the scenario's ``cameras.noise_std`` from this episode's visual
        generator; every camera of the env shares one renderer."""
        if self._image_renderer is None:
            self._image_renderer = offscreen_renderer(self.model, self.image_size, self.image_size)
        renderer, camera = self._image_renderer, camera or self.IMAGE_CAMERA
        noise_std, rng = self.scenario.cameras.noise_std, self._visual_rng

        def read(data: mujoco.MjData) -> np.ndarray:
            renderer.update_scene(data, camera=camera)
            return renderer.render()

        def read_noisy(data: mujoco.MjData) -> np.ndarray:
            image = read(data)
            noisy = image + rng.normal(0.0, noise_std, image.shape)
            return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)

        return read_noisy if noise_std > 0 else read

    # ------------------------------------------------------------------ visual randomisation
    def _check_visual_scenario(self) -> None:
        materials = [self.model.material(i).name for i in range(self.model.nmat)]
        for name in self.scenario.visual.floor_materials:
            if name not in materials:
                floors = ", ".join(m for m in materials if m.startswith("floor_"))
                raise ConfigError(
                    f"scenario {self.scenario.name!r}: visual.floor_materials names {name!r}, which "
                    f"the {self.ROBOT} scene does not define; its floor materials are {floors}"
                )

    def _visual_state(self) -> dict[str, np.ndarray]:
        return {
            "sun_dir": self.model.light("sun").dir.copy(),
            "target_rgba": self.model.material("target").rgba.copy(),
            "cam_pos": self.model.cam_pos.copy(),
            "cam_quat": self.model.cam_quat.copy(),
        }

    def _randomise_visual(self, rng: np.random.Generator) -> None:
        visual, model = self.scenario.visual, self.model
        floor = visual.floor_materials[rng.integers(len(visual.floor_materials))]
        model.geom("floor").matid[0] = model.material(floor).id
        model.light("sun").diffuse[:] = uniform(rng, visual.light_diffuse)
        model.vis.headlight.ambient[:] = uniform(rng, visual.headlight_ambient)
        tilt = rng.uniform(0.0, visual.light_direction_jitter)
        direction = self._nominal_visual["sun_dir"] + math.tan(tilt) * _unit_normal(
            self._nominal_visual["sun_dir"], rng.uniform(-np.pi, np.pi)
        )
        model.light("sun").dir[:] = direction / np.linalg.norm(direction)
        rgb = self._nominal_visual["target_rgba"][:3] + rng.uniform(-1, 1, 3) * visual.target_rgb_jitter
        model.material("target").rgba[:3] = np.clip(rgb, 0.0, 1.0)
        cameras = self.scenario.cameras
        if not cameras.randomised:
            return
        # from a child generator, which draws nothing from ``rng``; spawned only here, so every
        # scenario without camera jitter or image noise gives the episodes it gave before these
        # keys existed, seeded or not
        child = self._visual_rng = rng.spawn(1)[0]
        reach, angle = cameras.position_jitter, cameras.angle_jitter
        for camera in self._stream_cameras:
            model.cam_pos[camera] = self._nominal_visual["cam_pos"][camera] + child.uniform(-reach, reach, 3)
            turn = _axis_angle_quaternion(child.normal(size=3), child.uniform(0.0, angle))
            mujoco.mju_mulQuat(model.cam_quat[camera], self._nominal_visual["cam_quat"][camera], turn)


def _stamp(event: SensorEvent) -> int:
    return event.stamp_ns


def _axis_angle_quaternion(axis: np.ndarray, angle: float) -> np.ndarray:
    """The unit quaternion ``[w, x, y, z]`` (MuJoCo order) of a turn by ``angle`` rad about
    ``axis`` ``(3,)`` (any length but zero); ``[1, 0, 0, 0]`` exactly when ``angle`` is 0."""
    return np.concatenate(([math.cos(angle / 2)], math.sin(angle / 2) * axis / np.linalg.norm(axis)))


def _unit_normal(direction: np.ndarray, angle: float) -> np.ndarray:
    """A unit vector normal to ``direction`` at ``angle`` around it."""
    a = np.cross(direction, [0.0, 0.0, 1.0])
    if np.linalg.norm(a) < 1e-9:
        a = np.array([1.0, 0.0, 0.0])
    a /= np.linalg.norm(a)
    b = np.cross(direction / np.linalg.norm(direction), a)
    return math.cos(angle) * a + math.sin(angle) * b
