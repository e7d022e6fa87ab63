"""Simulation scenarios: domain randomisation, sensor timing and noise, loaded from YAML.

A scenario is a YAML file in ``config/sim/`` (installed under ``share/lnn_control/config/sim``).
The evaluation scenarios are ``nominal``, ``timing_ood`` (rates x0.5 to x2, 30 % jitter, 5 %
dropped messages), ``physics_ood`` (wind and gusts, mass +-30 %, motor and inertia changes) and
``visual_ood`` (floor textures and lighting never seen in ``nominal``); every ``*_ood`` scenario is
for evaluation only. The training scenarios, ``train_*`` (``train_physics``, ``train_visual`` and
both together in ``train_randomised``), randomise physics within three quarters of ``physics_ood``'s
deviations and appearance from floor textures no evaluation scenario uses. Every key is optional; a
missing key keeps the default given here, and an unknown or invalid key is an error that names it.
Ranges are written ``[low, high]`` (``[1.0, 1.0]`` for a fixed value); each episode draws from them.
Files load through the project's :func:`lnn_control.config.config_from_dict`.
"""

from __future__ import annotations

import difflib
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lnn_control.config import config_from_dict, read_yaml
from lnn_control.errors import ConfigError
from lnn_control.resources import config_dirs
from lnn_control.sim.imu import ImuNoise
from lnn_control.sim.timing import StreamTiming

__all__ = [
    "Adaptation",
    "ArmRandomisation",
    "Bounds",
    "CameraRandomisation",
    "EVALUATION_SUFFIX",
    "QuadrotorRandomisation",
    "Scenario",
    "TRAINING_PREFIX",
    "TimingRandomisation",
    "VisualRandomisation",
    "available_scenarios",
    "evaluation_only",
    "load_scenario",
    "log_uniform",
    "resolve_scenario",
    "scenario_dirs",
    "uniform",
]

#: a closed interval ``(low, high)`` an episode draws a value from; YAML ``[low, high]``
Bounds = tuple[float, float]

#: a training scenario's name starts with this (``config/sim/train_*.yaml``)
TRAINING_PREFIX = "train_"
#: an evaluation-only scenario's name ends with this (``config/sim/*_ood.yaml``)
EVALUATION_SUFFIX = "_ood"


def uniform(rng: np.random.Generator, bounds: Bounds) -> float:
    """One value drawn uniformly from ``bounds``."""
    return float(rng.uniform(bounds[0], bounds[1]))


def log_uniform(rng: np.random.Generator, bounds: Bounds) -> float:
    """One value drawn log-uniformly from positive ``bounds`` (a scale: x0.5 as likely as x2)."""
    return float(math.exp(rng.uniform(math.log(bounds[0]), math.log(bounds[1]))))


def _ranges(config: object, names: tuple[str, ...], minimum: float, strict: bool = False) -> None:
    """Check that each field in ``names`` is ``[low, high]`` with ``minimum <= low <= high``
    (``minimum < low`` when ``strict``), stored as floats; the error names the field."""
    for name in names:
        value = getattr(config, name)
        bounds = tuple(value)
        if len(bounds) != 2 or not all(math.isfinite(b) for b in bounds) or bounds[0] > bounds[1]:
            raise ConfigError(f"{name} must be [low, high] with low <= high, got {value!r}")
        if bounds[0] < minimum or (strict and bounds[0] == minimum):
            relation = ">" if strict else ">="
            raise ConfigError(f"{name} must be {relation} {minimum}, got {value!r}")
        object.__setattr__(config, name, (float(bounds[0]), float(bounds[1])))


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


@dataclass(frozen=True)
class TimingRandomisation:
    """How the scenario changes every non-privileged stream's nominal timing, per episode.

    :param rate_scale: factor on each stream's rate, drawn log-uniformly per stream.
    :param latency_scale: factor on each stream's latency, drawn uniformly per stream.
    :param jitter: replaces every stream's jitter (fraction of the period); null keeps each own.
    :param dropout: replaces every stream's message-loss probability; null keeps each own.
    """

    rate_scale: Bounds = (1.0, 1.0)
    latency_scale: Bounds = (1.0, 1.0)
    jitter: float | None = None
    dropout: float | None = None

    def __post_init__(self) -> None:
        _ranges(self, ("rate_scale",), 0.0, strict=True)
        _ranges(self, ("latency_scale",), 0.0)
        # the values themselves are checked by StreamTiming
        StreamTiming(1.0, jitter=self.jitter or 0.0, dropout=self.dropout or 0.0)

    def apply(self, nominal: StreamTiming, rng: np.random.Generator) -> StreamTiming:
        """This episode's timing of a stream whose nominal timing is ``nominal``."""
        return StreamTiming(
            rate_hz=nominal.rate_hz * log_uniform(rng, self.rate_scale),
            jitter=nominal.jitter if self.jitter is None else self.jitter,
            latency_s=nominal.latency_s * uniform(rng, self.latency_scale),
            dropout=nominal.dropout if self.dropout is None else self.dropout,
        )


@dataclass(frozen=True)
class QuadrotorRandomisation:
    """Quadrotor dynamics, disturbances and initial state.

    :param mass_scale: factor on the mass.
    :param inertia_scale: factor on each principal moment of inertia (drawn per axis).
    :param thrust_scale: factor on each rotor's thrust constant (drawn per rotor).
    :param motor_tau_scale: factor on the motors' time constant.
    :param drag_scale: factor on the translational rotor drag.
    :param wind_speed: steady wind speed, m/s, blowing horizontally in a random direction.
    :param gust_std: standard deviation of the gusts on top of it, m/s per axis.
    :param gust_time_constant: correlation time of the gusts (Ornstein-Uhlenbeck), s.
    :param start_offset: the start lies within this distance of its nominal point per axis, m.
    :param start_tilt: largest initial roll and pitch, rad.
    :param start_speed: largest initial speed per axis, m/s.
    :param start_yaw: largest initial heading either side of zero, rad (pi: any heading).
    """

    mass_scale: Bounds = (1.0, 1.0)
    inertia_scale: Bounds = (1.0, 1.0)
    thrust_scale: Bounds = (1.0, 1.0)
    motor_tau_scale: Bounds = (1.0, 1.0)
    drag_scale: Bounds = (1.0, 1.0)
    wind_speed: Bounds = (0.0, 0.0)
    gust_std: float = 0.0
    gust_time_constant: float = 1.0
    start_offset: float = 1.0
    start_tilt: float = 0.2
    start_speed: float = 0.3
    start_yaw: float = math.pi

    #: the fields that scale the airframe
    SCALES = ("mass_scale", "inertia_scale", "thrust_scale", "motor_tau_scale", "drag_scale")

    def __post_init__(self) -> None:
        _ranges(self, self.SCALES, 0.0, strict=True)
        _ranges(self, ("wind_speed",), 0.0)
        _check(self.gust_std >= 0, "gust_std must be >= 0 m/s")
        _check(self.gust_time_constant > 0, "gust_time_constant must be > 0 s")
        _check(self.start_offset >= 0, "start_offset must be >= 0 m")
        _check(0 <= self.start_tilt < math.pi / 2, "start_tilt must be in [0, pi/2) rad")
        _check(self.start_speed >= 0, "start_speed must be >= 0 m/s")
        _check(0 <= self.start_yaw <= math.pi, "start_yaw must be in [0, pi] rad")

    @property
    def randomises_airframe(self) -> bool:
        """True if any airframe scale is a range rather than a fixed value."""
        return any(getattr(self, name)[0] != getattr(self, name)[1] for name in self.SCALES)


@dataclass(frozen=True)
class ArmRandomisation:
    """Arm dynamics and initial state.

    :param mass_scale: factor on every link's mass and inertia.
    :param servo_gain_scale: factor on the position servos' stiffness and damping.
    :param start_joint_noise: the start pose is the home pose plus up to this much per joint, rad.
    """

    mass_scale: Bounds = (1.0, 1.0)
    servo_gain_scale: Bounds = (1.0, 1.0)
    start_joint_noise: float = 0.3

    def __post_init__(self) -> None:
        _ranges(self, ("mass_scale", "servo_gain_scale"), 0.0, strict=True)
        _check(self.start_joint_noise >= 0, "start_joint_noise must be >= 0 rad")


@dataclass(frozen=True)
class VisualRandomisation:
    """What the cameras see.

    :param floor_materials: floor materials to draw from, by name (defined in each scene.xml).
    :param light_diffuse: grey level of the sun's diffuse light, in [0, 1].
    :param headlight_ambient: grey level of the ambient light, in [0, 1].
    :param light_direction_jitter: largest tilt of the sun away from its nominal direction, rad.
    :param target_rgb_jitter: largest change of each colour channel of the target, in [0, 1].
    """

    floor_materials: tuple[str, ...] = ("floor_checker",)
    light_diffuse: Bounds = (0.6, 0.6)
    headlight_ambient: Bounds = (0.3, 0.3)
    light_direction_jitter: float = 0.0
    target_rgb_jitter: float = 0.0

    def __post_init__(self) -> None:
        _check(len(self.floor_materials) > 0, "floor_materials must name at least one material")
        _ranges(self, ("light_diffuse", "headlight_ambient"), 0.0)
        _check(self.light_diffuse[1] <= 1 and self.headlight_ambient[1] <= 1, "light levels must be <= 1")
        _check(0 <= self.light_direction_jitter < math.pi / 2, "light_direction_jitter must be in [0, pi/2)")
        _check(0 <= self.target_rgb_jitter <= 1, "target_rgb_jitter must be in [0, 1]")


@dataclass(frozen=True)
class CameraRandomisation:
    """The image streams' cameras (the camera ``render()`` uses stays put).

    :param position_jitter: largest offset of each camera from where it is mounted, per axis, m.
    :param angle_jitter: largest rotation of each camera away from its mounted orientation, about
        a random axis, rad.
    :param noise_std: standard deviation of the Gaussian noise added to every pixel and channel of
        every frame, grey levels of 255 (then rounded and clipped to [0, 255]).
    """

    position_jitter: float = 0.0
    angle_jitter: float = 0.0
    noise_std: float = 0.0

    def __post_init__(self) -> None:
        _check(0 <= self.position_jitter <= 0.1, "position_jitter must be in [0, 0.1] m")
        _check(0 <= self.angle_jitter < math.pi / 2, "angle_jitter must be in [0, pi/2) rad")
        _check(0 <= self.noise_std <= 255, "noise_std must be in [0, 255] grey levels")

    @property
    def randomised(self) -> bool:
        """True if the cameras move or their frames get noise."""
        return self.position_jitter > 0 or self.angle_jitter > 0 or self.noise_std > 0


@dataclass(frozen=True)
class Adaptation:
    """A change of the robot in the middle of an episode, which a controller must adapt to.

    Each episode draws one of ``changes`` (none if empty) and the instant it happens, counted back
    from the episode's time limit (late enough for the robot to have arrived, early enough to
    recover within the success window); the draws come from a child of the episode's generator,
    so the episode is the same one up to the change.

    :param changes: what may happen: ``payload`` (the quadrotor's mass grows by
        ``payload_fraction``; the arm's end effector picks up ``arm_payload``), ``wind`` (the
        quadrotor's steady wind grows by ``wind_step`` in a random horizontal direction).
    :param before_end_s: when the change happens, s before the episode's time limit.
    :param payload_fraction: the quadrotor's payload, a fraction of its mass.
    :param wind_step: the steady wind's step, m/s.
    :param arm_payload: the arm's payload, kg (its servos' gravity compensation does not know it).
    """

    changes: tuple[str, ...] = ()
    before_end_s: Bounds = (2.5, 3.0)
    payload_fraction: float = 0.25
    wind_step: float = 1.5
    arm_payload: float = 2.0

    #: the changes there are
    CHANGES = ("payload", "wind")

    def __post_init__(self) -> None:
        for change in self.changes:
            _check(change in self.CHANGES, f"changes: unknown change {change!r} (choose from {', '.join(self.CHANGES)})")
        _ranges(self, ("before_end_s",), 0.0)
        _check(self.payload_fraction >= 0, "payload_fraction must be >= 0")
        _check(self.wind_step >= 0, "wind_step must be >= 0 m/s")
        _check(self.arm_payload >= 0, "arm_payload must be >= 0 kg")

    def draw(self, rng: np.random.Generator, offered: tuple[str, ...], episode_s: float) -> tuple[str | None, float]:
        """This episode's change among those the env ``offered`` (None: no change) and its time,
        s after the reset, in an episode of ``episode_s`` s."""
        possible = [change for change in self.changes if change in offered]
        if not possible:
            return None, math.inf
        return possible[int(rng.integers(len(possible)))], episode_s - uniform(rng, self.before_end_s)


@dataclass(frozen=True)
class Scenario:
    """A named simulation scenario.

    :param name: the scenario's name (the YAML file's stem unless given).
    :param description: one paragraph saying what the scenario tests.
    :param timing: sensor timing changes.
    :param imu: IMU noise parameters.
    :param quadrotor: quadrotor randomisation.
    :param arm: arm randomisation.
    :param visual: appearance randomisation.
    :param cameras: the image cameras' pose jitter and pixel noise.
    :param adaptation: a change of the robot mid-episode (none by default).
    """

    name: str
    description: str = ""
    timing: TimingRandomisation = field(default_factory=TimingRandomisation)
    imu: ImuNoise = field(default_factory=ImuNoise)
    quadrotor: QuadrotorRandomisation = field(default_factory=QuadrotorRandomisation)
    arm: ArmRandomisation = field(default_factory=ArmRandomisation)
    visual: VisualRandomisation = field(default_factory=VisualRandomisation)
    cameras: CameraRandomisation = field(default_factory=CameraRandomisation)
    adaptation: Adaptation = field(default_factory=Adaptation)


def scenario_dirs() -> list[Path]:
    """Folders searched for ``<name>.yaml``, first match wins: the source checkout's ``config/sim``,
    then ``share/lnn_control/config/sim`` under this Python's prefix and each ``AMENT_PREFIX_PATH``."""
    return config_dirs("sim")


def evaluation_only(scenario: str | os.PathLike[str]) -> bool:
    """True for a scenario, by name or YAML path, that only evaluations may run (``*_ood``)."""
    return Path(scenario).stem.endswith(EVALUATION_SUFFIX)


def available_scenarios() -> dict[str, Path]:
    """Scenario name -> YAML file, over :func:`scenario_dirs`."""
    scenarios: dict[str, Path] = {}
    for folder in scenario_dirs():
        for path in sorted(folder.glob("*.yaml")):
            scenarios.setdefault(path.stem, path)
    return scenarios


def load_scenario(name_or_path: str | os.PathLike[str]) -> Scenario:
    """Load a scenario by name (``"nominal"``) or from a YAML file path; validated on load.

    :raises ConfigError: unknown name, unreadable file, unknown key or invalid value (the message
        names the file and the key).
    """
    text = os.fspath(name_or_path)
    path = Path(text)
    if not (text.endswith((".yaml", ".yml")) or os.sep in text):
        scenarios = available_scenarios()
        if text not in scenarios:
            hint = difflib.get_close_matches(text, scenarios, n=1)
            maybe = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise ConfigError(
                f"unknown scenario {text!r}{maybe}: available are {', '.join(sorted(scenarios)) or 'none'}"
                f" (searched {', '.join(map(str, scenario_dirs()))}); or pass a path to a YAML file"
            )
        path = scenarios[text]
    data = read_yaml(path)
    if data is None or isinstance(data, dict):
        data = {"name": path.stem, **(data or {})}
    try:
        return config_from_dict(Scenario, data)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None


def resolve_scenario(scenario: str | os.PathLike[str] | Scenario) -> Scenario:
    """A :class:`Scenario` as given, or loaded by :func:`load_scenario`."""
    return scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
