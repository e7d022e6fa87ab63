"""Simulation scenarios: domain randomisation, sensor timing and noise, loaded from YAML.

A scenario is a YAML file in ``config/sim/`` (installed under ``share/lnn_control/config/sim``);
the four shipped are ``nominal``, ``timing_ood`` (rates x0.5 to x2, 30 % jitter, 5 % dropped
messages), ``physics_ood`` (wind and gusts, mass +-30 %, motor and inertia changes) and
``visual_ood`` (floor textures and lighting never seen in ``nominal``). Every key is optional; a
missing key keeps the default given here, and an unknown or invalid key is an error that names it.
Ranges are written ``[low, high]`` (or one number for a fixed value); each episode draws from them.
"""

from __future__ import annotations

import difflib
import math
import os
import sys
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from lnn_control.errors import ConfigError
from lnn_control.sim.imu import ImuNoise
from lnn_control.sim.timing import StreamTiming

__all__ = [
    "ArmRandomisation",
    "QuadrotorRandomisation",
    "Range",
    "Scenario",
    "TimingRandomisation",
    "VisualRandomisation",
    "available_scenarios",
    "load_scenario",
    "resolve_scenario",
    "scenario_dirs",
]


@dataclass(frozen=True)
class Range:
    """A closed interval ``[low, high]`` an episode draws a value from (uniformly).

    :param low: smallest value.
    :param high: largest value (``>= low``).
    """

    low: float
    high: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.low) and math.isfinite(self.high) and self.low <= self.high):
            raise ConfigError(f"a range needs finite low <= high, got [{self.low}, {self.high}]")

    def sample(self, rng: np.random.Generator) -> float:
        """One value drawn uniformly from the range."""
        return float(rng.uniform(self.low, self.high))

    def sample_log(self, rng: np.random.Generator) -> float:
        """One value drawn log-uniformly (for scale factors: x0.5 as likely as x2)."""
        if self.low <= 0:
            raise ConfigError(f"a scale range must be positive, got [{self.low}, {self.high}]")
        return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))


def _fixed(value: float) -> Any:
    return field(default_factory=lambda: Range(value, value))


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

    rate_scale: Range = _fixed(1.0)
    latency_scale: Range = _fixed(1.0)
    jitter: float | None = None
    dropout: float | None = None

    def __post_init__(self) -> None:
        _check(self.rate_scale.low > 0, "rate_scale must be positive")
        _check(self.latency_scale.low >= 0, "latency_scale must be >= 0")
        # the values themselves are checked by StreamTiming
        StreamTiming(1.0, jitter=self.jitter or 0.0, dropout=self.dropout or 0.0)

    def apply(self, nominal: StreamTiming, rng: np.random.Generator) -> StreamTiming:
        """This episode's timing of a stream whose nominal timing is ``nominal``."""
        return StreamTiming(
            rate_hz=nominal.rate_hz * self.rate_scale.sample_log(rng),
            jitter=nominal.jitter if self.jitter is None else self.jitter,
            latency_s=nominal.latency_s * self.latency_scale.sample(rng),
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
    """

    mass_scale: Range = _fixed(1.0)
    inertia_scale: Range = _fixed(1.0)
    thrust_scale: Range = _fixed(1.0)
    motor_tau_scale: Range = _fixed(1.0)
    drag_scale: Range = _fixed(1.0)
    wind_speed: Range = _fixed(0.0)
    gust_std: float = 0.0
    gust_time_constant: float = 1.0
    start_offset: float = 1.0
    start_tilt: float = 0.2
    start_speed: float = 0.3

    def __post_init__(self) -> None:
        for name in ("mass_scale", "inertia_scale", "thrust_scale", "motor_tau_scale", "drag_scale"):
            _check(getattr(self, name).low > 0, f"{name} must be positive")
        _check(self.wind_speed.low >= 0, "wind_speed must be >= 0 m/s")
        _check(self.gust_std >= 0, "gust_std must be >= 0 m/s")
        _check(self.gust_time_constant > 0, "gust_time_constant must be > 0 s")
        _check(self.start_offset >= 0, "start_offset must be >= 0 m")
        _check(0 <= self.start_tilt < math.pi / 2, "start_tilt must be in [0, pi/2) rad")
        _check(self.start_speed >= 0, "start_speed must be >= 0 m/s")


@dataclass(frozen=True)
class ArmRandomisation:
    """Arm dynamics and initial state.

    :param mass_scale: factor on every link's mass and inertia.
    :param servo_gain_scale: factor on the position servos' stiffness and damping.
    :param start_joint_noise: the start pose is the home pose plus up to this much per joint, rad.
    """

    mass_scale: Range = _fixed(1.0)
    servo_gain_scale: Range = _fixed(1.0)
    start_joint_noise: float = 0.3

    def __post_init__(self) -> None:
        _check(self.mass_scale.low > 0, "mass_scale must be positive")
        _check(self.servo_gain_scale.low > 0, "servo_gain_scale must be positive")
        _check(self.start_joint_noise >= 0, "start_joint_noise must be >= 0 rad")


@dataclass(frozen=True)
class VisualRandomisation:
    """What the cameras see.

    :param floor_materials: floor materials to draw from, by name (defined in each scene.xml).
    :param light_diffuse: grey level of the sun's diffuse light.
    :param headlight_ambient: grey level of the ambient light.
    :param light_direction_jitter: largest tilt of the sun away from its nominal direction, rad.
    :param target_rgb_jitter: largest change of each colour channel of the target, in [0, 1].
    """

    floor_materials: tuple[str, ...] = ("floor_checker",)
    light_diffuse: Range = _fixed(0.6)
    headlight_ambient: Range = _fixed(0.3)
    light_direction_jitter: float = 0.0
    target_rgb_jitter: float = 0.0

    def __post_init__(self) -> None:
        _check(len(self.floor_materials) > 0, "floor_materials must name at least one material")
        for name in ("light_diffuse", "headlight_ambient"):
            value = getattr(self, name)
            _check(0 <= value.low and value.high <= 1, f"{name} must lie in [0, 1]")
        _check(0 <= self.light_direction_jitter < math.pi / 2, "light_direction_jitter must be in [0, pi/2)")
        _check(0 <= self.target_rgb_jitter <= 1, "target_rgb_jitter must be in [0, 1]")


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
    """

    name: str
    description: str = ""
    timing: TimingRandomisation = field(default_factory=TimingRandomisation)
    imu: ImuNoise = field(default_factory=ImuNoise)
    quadrotor: QuadrotorRandomisation = field(default_factory=QuadrotorRandomisation)
    arm: ArmRandomisation = field(default_factory=ArmRandomisation)
    visual: VisualRandomisation = field(default_factory=VisualRandomisation)


def scenario_dirs() -> list[Path]:
    """Folders searched for ``<name>.yaml``, first match wins: the source checkout's ``config/sim``,
    then ``share/lnn_control/config/sim`` under this Python's prefix and each ``AMENT_PREFIX_PATH``."""
    prefixes = [sys.prefix, *filter(None, os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep))]
    candidates = [Path(__file__).resolve().parents[1] / "config" / "sim"]
    candidates += [Path(p) / "share" / "lnn_control" / "config" / "sim" for p in prefixes]
    found: list[Path] = []
    for folder in candidates:
        if folder.is_dir() and folder not in found:
            found.append(folder)
    return found


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
    import yaml

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
    if not path.is_file():
        raise ConfigError(f"scenario file {path} does not exist: pass a scenario name or a YAML path")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from error
    if isinstance(data, Mapping):
        data = {"name": path.stem, **data}
    return _build(Scenario, data, str(path), "")


def resolve_scenario(scenario: str | os.PathLike[str] | Scenario) -> Scenario:
    """A :class:`Scenario` as given, or loaded by :func:`load_scenario`."""
    return scenario if isinstance(scenario, Scenario) else load_scenario(scenario)


_T = TypeVar("_T")


def _build(cls: type[_T], data: object, source: str, where: str) -> _T:
    """Build the dataclass ``cls`` from a YAML mapping, naming ``source: where.key`` on errors."""
    label = where or "top level"
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: {label}: expected a mapping of keys, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    known = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{where}.{key}" if where else str(key)
        if key not in known:
            hint = difflib.get_close_matches(str(key), known, n=1)
            maybe = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise ConfigError(
                f"{source}: unknown key {dotted!r}{maybe}; known keys here: {', '.join(known)}"
            )
        kwargs[key] = _convert(hints[key], value, source, dotted)
    try:
        return cls(**kwargs)
    except ConfigError as error:
        raise ConfigError(f"{source}: {label}: {error}") from error
    except TypeError as error:  # a required key is missing
        raise ConfigError(f"{source}: {label}: {error}") from error


def _convert(hint: Any, value: object, source: str, where: str) -> Any:
    optional = typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in typing.get_args(hint)
    if optional:
        if value is None:
            return None
        (hint,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
    if is_dataclass(hint) and hint is not Range:
        return _build(hint, value, source, where)  # type: ignore[arg-type]
    if hint is Range:
        items = value if isinstance(value, list) else [value, value]
        if len(items) != 2:
            raise ConfigError(f"{source}: {where}: a range is [low, high] or one number, got {value!r}")
        low, high = (_convert(float, item, source, where) for item in items)
        try:
            return Range(low, high)
        except ConfigError as error:
            raise ConfigError(f"{source}: {where}: {error}") from error
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{source}: {where}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{source}: {where}: expected a string, got {value!r}")
        return value
    if typing.get_origin(hint) is tuple:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ConfigError(f"{source}: {where}: expected a list of names, got {value!r}")
        return tuple(value)
    raise TypeError(f"no YAML conversion for {hint!r}")  # a bug in this module, not user input
