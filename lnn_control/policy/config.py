"""A policy's configuration: its input streams, its core, its actions and how it is stepped.

Loaded from YAML (``config/models/*.yaml``) with :func:`lnn_control.config.load_config`, or
through :func:`model_data` where a model file may start from another (``base:``); every value is
checked on load and errors name the key (``streams[1].height must be ...``).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional

from lnn_control.config import merge, read_yaml
from lnn_control.errors import ConfigError

__all__ = ["ActionSpec", "ControlConfig", "CoreConfig", "PolicyConfig", "StreamSpec", "model_data"]

StreamKind = Literal["imu", "attitude", "image", "joint_state", "odometry", "vector"]
Encoding = Literal["rgb8", "bgr8", "mono8"]
FIXED_SIZES = {"imu": 6, "attitude": 3, "odometry": 13}
#: what to do when a policy config (or a checkpoint's) has no ``actions.safe``
SAFE_MISSING = (
    "give the command that is safe to send when the policy cannot (e.g. hover thrust and zero "
    "rates for a quadrotor, the hold or home pose for an arm), one value per action in the "
    "actions' units; it must lie within [low, high]"
)


@dataclass
class StreamSpec:
    """One named input stream (see :mod:`lnn_control.policy.events` for values and units)."""

    #: the stream's name: what events carry and what a node maps a topic to
    name: str
    #: imu (6,), attitude (3,), odometry (13,), joint_state (2 * joints,), vector (size,), image (H, W, C)
    kind: StreamKind
    #: vector streams: the vector's length
    size: Optional[int] = None
    #: joint_state streams: number of joints (positions then velocities)
    joints: Optional[int] = None
    #: image streams: height and width in pixels, and pixel encoding
    height: Optional[int] = None
    width: Optional[int] = None
    encoding: Encoding = "rgb8"
    #: image streams: the CNN's head, ``pool`` or ``keypoints`` (see ImageEncoder)
    head: Literal["pool", "keypoints"] = "pool"
    #: encoder output size (vector kinds: 0 feeds the standardised values directly)
    features: int = 16
    #: odometry streams: how the encoder reads the orientation, ``quaternion`` (the 4 values as
    #: received), ``matrix`` (its rotation matrix: continuous over every heading and the same
    #: for q and -q, which a quaternion is not) or ``up`` (the world's up direction in the body
    #: frame, 3 values: roll and pitch without the heading). See
    #: :mod:`lnn_control.policy.stream_inputs`.
    orientation: Literal["quaternion", "matrix", "up"] = "quaternion"
    #: odometry streams: the frame the encoder reads the velocity in, ``world`` (as received) or
    #: ``body`` (rotated into the body frame)
    velocity: Literal["world", "body"] = "world"
    #: vector streams of size 3 holding a world-frame position (a goal): the odometry stream whose
    #: pose the encoder reads it from, as the offset from that position in that body frame
    #: (heading-free); None: the value as received
    offset_from: Optional[str] = None
    #: image streams: outputs of a linear head on the CNN's features that training fits to
    #: privileged labels of the simulation (an auxiliary loss, e.g. where the target is in the
    #: image); 0: none. The runtime never evaluates it.
    auxiliary: int = 0

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", self.name):
            raise ConfigError(f"stream name {self.name!r} must be a plain identifier")
        need = {"vector": ["size"], "joint_state": ["joints"], "image": ["height", "width"]}
        for key in need.get(self.kind, []):
            value = getattr(self, key)
            if value is None or value < 1:
                raise ConfigError(f"stream {self.name!r} ({self.kind}) needs {key} >= 1")
        if self.kind == "image" and (self.features < 1):
            raise ConfigError(f"image stream {self.name!r} needs features >= 1")
        if self.features < 0:
            raise ConfigError(f"stream {self.name!r} features must be >= 0")
        for key, default in (("orientation", "quaternion"), ("velocity", "world")):
            if getattr(self, key) != default and self.kind != "odometry":
                raise ConfigError(f"stream {self.name!r} ({self.kind}): {key}: {getattr(self, key)} is for "
                                  "odometry streams only")
        if self.offset_from is not None and (self.kind != "vector" or self.size != 3):
            raise ConfigError(f"stream {self.name!r} ({self.kind}): offset_from is for vector streams of "
                              "size 3 (a world-frame position) only")
        if self.auxiliary < 0 or (self.auxiliary and self.kind != "image"):
            raise ConfigError(f"stream {self.name!r}: auxiliary must be 0, or >= 1 on an image stream")

    @property
    def value_shape(self) -> tuple[int, ...]:
        """Shape of one event's value."""
        if self.kind == "image":
            assert self.height is not None and self.width is not None
            return (self.height, self.width, 1 if self.encoding == "mono8" else 3)
        if self.kind == "joint_state":
            assert self.joints is not None
            return (2 * self.joints,)
        if self.kind == "vector":
            assert self.size is not None
            return (self.size,)
        return (FIXED_SIZES[self.kind],)


@dataclass
class CoreConfig:
    """The recurrent core; its outputs are the actions (an NCP's motor neurons)."""

    #: cfc / ltc (liquid) or the baselines lstm / gru / mlp (frame-stacked)
    type: Literal["cfc", "ltc", "lstm", "gru", "mlp"] = "cfc"
    #: cfc / ltc: a wiring config (e.g. {type: AutoNCP, units: 19, output_size: 4}); None: dense
    wiring: Optional[dict[str, Any]] = None
    #: neurons of a dense core (cfc/ltc without wiring, lstm, gru) or hidden width (mlp)
    units: int = 32
    #: cfc: default / no_gate / pure
    mode: Literal["default", "no_gate", "pure"] = "default"
    #: cfc / ltc: LSTM memory in front of the cell
    mixed_memory: bool = False
    #: ltc: semi-implicit Euler sub-steps per step, and softplus parameter constraints
    ode_unfolds: int = 6
    implicit_param_constraints: bool = True
    #: ltc: the ODE's unit of time, s (1.0: seconds; the nominal step gives ncps's time
    #: constants in steps, see :mod:`lnn_control.liquid.ltc`)
    time_unit_s: float = 1.0
    #: wired cfc: honour the wiring's synapses within a layer (ncps issue 53)
    wiring_recurrence: bool = False
    #: dense cfc: backbone MLP width and depth
    backbone_units: int = 64
    backbone_layers: int = 1
    #: mlp: number of past inputs stacked
    frames: int = 4

    def __post_init__(self) -> None:
        if self.wiring is not None:
            if self.type not in ("cfc", "ltc"):
                raise ConfigError(f"core.wiring applies to cfc and ltc cores, not {self.type}")
            from lnn_control.liquid.wiring import wiring_from_config

            try:
                wiring_from_config(self.wiring)
            except ConfigError as error:
                raise ConfigError(f"core.wiring: {error}") from None
        for key in ("units", "ode_unfolds", "frames", "backbone_units"):
            if getattr(self, key) < 1:
                raise ConfigError(f"core.{key} must be >= 1, got {getattr(self, key)}")
        if not self.time_unit_s > 0:
            raise ConfigError(f"core.time_unit_s must be > 0 s, got {self.time_unit_s}")


@dataclass
class ActionSpec:
    """The actuator command: names, physical units and limits, and the safe command."""

    names: list[str]
    #: physical unit of each entry (documentation and reports), e.g. N, rad/s, rad
    units: list[str]
    low: list[float]
    high: list[float]
    #: sent before the first step, when the network's output is not finite, and by the node's
    #: watchdog: what the robot can safely receive when the policy cannot command (e.g. hover
    #: thrust and zero rates; a hold pose). Required: the limits' midpoint is rarely safe (a
    #: QuadHover's is 0.298 N of thrust, not its hover thrust 0.265 N)
    safe: list[float] = field(metadata={"missing": SAFE_MISSING})
    #: a joint_state stream: each command is then that stream's newest joint position plus a
    #: change of at most ``max_change`` (the network's output), clipped to [low, high]; None:
    #: the network's output spans [low, high] itself
    relative_to: Optional[str] = None
    #: with ``relative_to``: the largest change per action, in its unit (e.g. rad)
    max_change: Optional[list[float]] = None

    def __post_init__(self) -> None:
        count = len(self.names)
        if count < 1:
            raise ConfigError("actions.names must name at least one action")
        if (self.relative_to is None) != (self.max_change is None):
            raise ConfigError("actions.relative_to and actions.max_change go together: set both or neither")
        if self.max_change is not None and not all(change > 0 for change in self.max_change):
            raise ConfigError(f"actions.max_change must be > 0 for every action, got {self.max_change}")
        sized = ("units", "low", "high", "safe", "max_change")
        for key in (key for key in sized if getattr(self, key) is not None):
            if len(getattr(self, key)) != count:
                raise ConfigError(
                    f"actions.{key} has {len(getattr(self, key))} entries but there are {count} "
                    f"actions ({self.names})"
                )
        for name, low, high in zip(self.names, self.low, self.high):
            if not low < high:
                raise ConfigError(f"action {name!r}: low ({low}) must be below high ({high})")
        for name, low, high, safe in zip(self.names, self.low, self.high, self.safe):
            if not low <= safe <= high:
                raise ConfigError(f"action {name!r}: safe value {safe} is outside [{low}, {high}]")

    @property
    def safe_command(self) -> list[float]:
        """The configured safe command ``(A,)``, in the actions' units."""
        return list(self.safe)


@dataclass
class ControlConfig:
    """When the network steps, and how the runtime treats irregular timing."""

    #: stream: step on every event of `stream`; timer: step on each command(stamp) call
    mode: Literal["stream", "timer"] = "stream"
    #: stream mode: the stream whose events advance the network
    stream: Optional[str] = None
    #: the stepping stream's expected period (s), the one the policy is trained at: the step
    #: length of the first step after a reset, when there is no previous stamp, and what replay
    #: compares the stepping stream's median period with (a warning beyond a factor of 2)
    nominal_dt_s: float = 0.01
    #: gaps longer than this (s) are integrated in sub-steps no longer than it
    max_step_s: float = 0.05
    #: gaps longer than this (s) reset the network state
    reset_gap_s: float = 1.0
    #: a stamp older than its stream's last one by more than this (s) is a clock jump: reset;
    #: by less, a late (out-of-order) message: dropped
    max_backward_s: float = 0.5
    #: every stream but the stepping one feeds its age (s since its last message) to the network,
    #: clipped to this and scaled to [0, 1]
    max_age_s: float = 1.0

    def __post_init__(self) -> None:
        for key in ("nominal_dt_s", "max_step_s", "reset_gap_s", "max_backward_s", "max_age_s"):
            if not getattr(self, key) > 0:
                raise ConfigError(f"control.{key} must be > 0, got {getattr(self, key)}")
        if self.reset_gap_s < self.max_step_s:
            raise ConfigError("control.reset_gap_s must be at least control.max_step_s")
        if self.mode == "stream" and not self.stream:
            raise ConfigError("control.stream must name the stream that steps the network")
        if self.mode == "timer" and self.stream:
            raise ConfigError("control.stream applies to mode 'stream' only; remove it for 'timer'")


@dataclass
class PolicyConfig:
    """A whole policy: streams -> encoders -> core -> actions, and its control timing."""

    streams: list[StreamSpec]
    core: CoreConfig
    actions: ActionSpec
    control: ControlConfig = field(default_factory=ControlConfig)

    def __post_init__(self) -> None:
        names = [s.name for s in self.streams]
        if not names:
            raise ConfigError("streams must declare at least one input stream")
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ConfigError(f"stream names must be unique; repeated: {duplicated}")
        if self.control.stream is not None and self.control.stream not in names:
            raise ConfigError(f"control.stream {self.control.stream!r} is not one of the streams {names}")
        relative_to = self.actions.relative_to
        if relative_to is not None:
            spec = self.stream(relative_to)
            if spec.kind != "joint_state" or spec.joints != len(self.actions.names):
                raise ConfigError(
                    f"actions.relative_to {relative_to!r} must be a joint_state stream with one joint "
                    f"per action ({len(self.actions.names)}); it is a {spec.kind} stream"
                    + (f" of {spec.joints} joints" if spec.joints else "")
                )
        for spec in self.streams:
            if spec.offset_from is not None and (spec.offset_from not in names
                                                 or self.stream(spec.offset_from).kind != "odometry"):
                raise ConfigError(f"stream {spec.name!r}: offset_from {spec.offset_from!r} must name an "
                                  f"odometry stream of this policy; its streams are {names}")
        if self.core.wiring is not None:
            from lnn_control.liquid.wiring import wiring_from_config

            motors = wiring_from_config(self.core.wiring).output_dim
            if motors != len(self.actions.names):
                raise ConfigError(
                    f"core.wiring has {motors} motor neurons but there are "
                    f"{len(self.actions.names)} actions; they must match"
                )

    def stream(self, name: str) -> StreamSpec:
        """The stream called ``name``."""
        for spec in self.streams:
            if spec.name == name:
                return spec
        raise ConfigError(f"unknown stream {name!r}; this policy has {[s.name for s in self.streams]}")

    @property
    def aged_streams(self) -> list[str]:
        """Streams whose age is a network input: all but the stepping one, in declared order."""
        return [s.name for s in self.streams if s.name != self.control.stream]


def model_data(model: str | dict[str, Any], overrides: dict[str, Any],
               folder: Optional[Path] = None) -> dict[str, Any]:
    """A model config as plain data: ``model`` is a model YAML path (relative to ``folder`` where
    the file is there) or a mapping inline; ``overrides`` are merged in (mappings key by key,
    other values, lists included, replace).

    A model file may start from another: ``base: OTHER.yaml`` (relative to the file) gives every
    key the file does not set, merged the same way, e.g. a policy of the same core and actions
    that reads its streams differently.
    """
    if isinstance(model, dict):
        return merge(copy.deepcopy(model), overrides)
    path = Path(model)
    if not path.is_absolute() and folder is not None and (folder / path).exists():
        path = folder / path
    return merge(_model_file(path, ()), overrides)


def _model_file(path: Path, seen: tuple[Path, ...]) -> dict[str, Any]:
    """A model file's data with its ``base`` chain merged; ``seen``: the files that lead here."""
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"model: {path} must hold a mapping (a model config)")
    if "base" not in data:
        return data
    base = data.pop("base")
    if not isinstance(base, str):
        raise ConfigError(f"model: {path}: base must be the path of another model YAML, relative to this file")
    parent = path.parent / base
    if parent.resolve() in seen + (path.resolve(),):
        raise ConfigError(f"model: {path}: base {base!r} leads back to a file of its own chain; "
                          f"point it at a model file that does not name this one")
    return merge(_model_file(parent, seen + (path.resolve(),)), data)
