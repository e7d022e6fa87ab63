"""How a policy is wired to topics: the policy node's parameter file, readable without ROS.

The same YAML file configures the ROS 2 ``policy_node`` (``--params-file``) and rosbag replay,
so replay maps topics to streams exactly as the robot does. It is a standard ROS 2 parameter file
(``<node name>: ros__parameters:`` and ``/**: ros__parameters:`` sections)::

    policy_node:
      ros__parameters:
        checkpoint: /path/to/checkpoint
        engine: onnx
        streams:
          imu: {topic: /imu/data, type: sensor_msgs/msg/Imu, timeout_s: 0.1}  # scale: 9.80665 if in g
          camera: {topic: /camera/image_raw/compressed, type: sensor_msgs/msg/CompressedImage}
        output:
          topic: /lnn_control/command
          type: geometry_msgs/msg/TwistStamped
          twist_fields: [linear.z, angular.x, angular.y, angular.z]

:func:`deployment_from_parameters` builds the same :class:`Deployment` from the node's declared
parameters (ROS's own, such as ``use_sim_time``, are left to ROS), so node and replay cannot
disagree.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import os
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from lnn_control.config import config_from_dict, merge, read_yaml
from lnn_control.errors import ConfigError
from lnn_control.policy.config import PolicyConfig
from lnn_control.policy.engines import EngineKind
from lnn_control.policy.events import Runtime
from lnn_control.policy.guarded import GuardedController
from lnn_control.policy.messages.commands import COMMAND_TYPES
from lnn_control.policy.messages.sensors import MESSAGE_TYPES

__all__ = ["Deployment", "OutputTopic", "ParameterText", "StreamTopic", "deployment_from_parameters",
           "load_controller", "load_deployment", "load_node_parameters", "nest_parameters",
           "without_ros_parameters"]

T = TypeVar("T")

TWIST_FIELDS = {f"{part}.{axis}" for part in ("linear", "angular") for axis in "xyz"}


@dataclass(frozen=True)
class ParameterText:
    """What ``ros2 param describe`` says of a policy node parameter (a field's metadata).

    :param text: the description; ``{stream}`` stands for the stream's name.
    :param low: the inclusive lower bound of a number, if it has one (the upper is unbounded).
    :param constraints: what else a value must satisfy, in words.
    :param read_only: read once, at start-up (else: read at each configure).
    """

    text: str
    low: float | None = None
    constraints: str = ""
    read_only: bool = False


def described(text: str, default: Any = dataclasses.MISSING, *, factory: Any = dataclasses.MISSING,
              low: float | None = None, constraints: str = "", read_only: bool = False) -> Any:
    """A field of a node parameter with its description (:class:`ParameterText`, in the field's
    ``metadata["parameter"]``): the one place the parameter is documented, for this module's
    readers and for ``ros2 param describe`` (:mod:`lnn_control.ros.policy_parameters`)."""
    return field(default=default, default_factory=factory,
                 metadata={"parameter": ParameterText(text, low, constraints, read_only)})


@dataclass
class StreamTopic:
    """Where one stream comes from."""

    topic: str = described("topic stream {stream} is read from")
    type: str = described("message type of stream {stream}, e.g. sensor_msgs/msg/Imu",
                          constraints="one that can carry the checkpoint's stream")
    qos: Literal["sensor_data", "reliable"] = described(
        "sensor_data (best effort, as sensor drivers publish) or reliable", "sensor_data")
    timeout_s: float = described(
        "watchdog: stream {stream} without a valid message for this long (s) -> the safe command "
        "every command period; 0: not watched", 0.5, low=0.0)
    joint_names: list[str] = described(
        "joint_state streams: the joints in the policy's order (empty: as published)", factory=list)
    #: a stall of the node shorter than depth / rate loses no message (ROS's sensor_data default,
    #: 5, is 25 ms of a 200 Hz IMU), and every queued message is still integrated at its own stamp
    depth: int = described(
        "messages of stream {stream} queued while the node is busy (keep-last history)", 50, low=1)
    #: the angular velocity is left as it is
    scale: float = described(
        "imu streams: the factor converting the linear acceleration to m/s^2 (REP 145), e.g. "
        "9.80665 for a driver publishing g; other kinds: 1", 1.0, constraints="finite, > 0")

    def __post_init__(self) -> None:
        if not self.topic.startswith("/") and not self.topic[:1].isalpha():
            raise ConfigError(f"topic {self.topic!r} is not a valid ROS topic name")
        if self.timeout_s < 0:
            raise ConfigError(f"timeout_s must be >= 0, got {self.timeout_s}")
        if self.depth < 1:
            raise ConfigError(f"depth must be >= 1, got {self.depth}")
        if not 0.0 < self.scale < math.inf:
            raise ConfigError(f"scale must be a finite number > 0 (the factor to m/s^2, e.g. "
                              f"9.80665 for g), got {self.scale}")


@dataclass
class OutputTopic:
    """Where commands go and in what message."""

    topic: str = described("topic the commands are published on", "/lnn_control/command")
    type: str = described("the command message type, e.g. geometry_msgs/msg/TwistStamped",
                          "std_msgs/msg/Float64MultiArray")
    frame_id: str = described("header.frame_id of the commands", "base_link")
    joint_names: list[str] = described(
        "JointTrajectory: the joint of each action, in the policy's order", factory=list)
    twist_fields: list[str] = described(
        "TwistStamped: the field (linear.x ... angular.z) of each action, in the policy's order",
        factory=list)

    def __post_init__(self) -> None:
        if self.type not in COMMAND_TYPES:
            raise ConfigError(f"output.type {self.type!r} is not one of {list(COMMAND_TYPES)}")
        bad = [f for f in self.twist_fields if f not in TWIST_FIELDS]
        if bad:
            raise ConfigError(f"output.twist_fields {bad} are not among {sorted(TWIST_FIELDS)}")


@dataclass
class Deployment:
    """Everything the policy node needs besides the checkpoint's own config."""

    streams: dict[str, StreamTopic]
    checkpoint: str = described("checkpoint folder (policy.yaml + weights.safetensors)", "",
                                constraints="set exactly one of checkpoint and controller")
    controller: str = described(
        "instead of a checkpoint, a controller factory module:function returning "
        "(controller, PolicyConfig), e.g. an expert wrapped as a policy", "",
        constraints="set exactly one of checkpoint and controller")
    output: OutputTopic = field(default_factory=OutputTopic)
    engine: EngineKind = described(
        "how the network steps: torch (eager), onnx, compiled (AOTInductor) or native "
        "(generated C; needs cc)", "onnx")
    engine_file: str = described(
        "a step exported with `lnn-control export` (empty: exported at configure)", "")
    autostart: bool = described("configure and activate at start-up, without lifecycle transitions",
                                False, read_only=True)
    safe_command: Literal["safe", "zeros", "hold"] = described(
        "the command while the watchdog is tripped and on deactivate: the checkpoint's safe "
        "command, zeros (clipped to the limits) or the last command held", "safe")
    timer_rate_hz: float = described(
        "control mode timer: the command rate (Hz); 0: 1 / the checkpoint's nominal_dt_s", 0.0, low=0.0)
    diagnostics_period_s: float = described("period of /diagnostics (s)", 1.0, constraints="> 0")
    #: (a sensor clock that runs ahead; ROS stamps are taken at or before publishing)
    max_future_s: float = described(
        "messages stamped further than this (s) ahead of the node's clock are refused", 0.1,
        constraints="> 0")
    watchdog_error_s: float = described(
        "/diagnostics reports a watched stream at ERROR once it has had no valid message for this "
        "long (s); at WARN from its timeout_s", 1.0, constraints="> 0")
    #: the networks are small, and with 2 threads each layer of a camera frame waits for a second
    #: thread that a busy core has descheduled (measured on a loaded machine: the convolutions
    #: took 45 % of the node's busy time with 2 threads, 11 % with 1)
    torch_threads: int = described(
        "torch's intra-op threads in the node's process (image encoders, the torch engine)", 1, low=1)

    def __post_init__(self) -> None:
        for key in ("max_future_s", "watchdog_error_s", "diagnostics_period_s", "torch_threads"):
            if not getattr(self, key) > 0:
                raise ConfigError(f"{key} must be > 0, got {getattr(self, key)}")

    def check(self, policy: PolicyConfig) -> None:
        """Raise :class:`ConfigError` unless every stream of ``policy`` has a fitting topic."""
        names = [s.name for s in policy.streams]
        missing = [n for n in names if n not in self.streams]
        extra = sorted(set(self.streams) - set(names))
        if missing or extra:
            raise ConfigError(
                f"parameter streams must map exactly the checkpoint's streams {names}: "
                f"missing {missing}, unknown {extra}"
            )
        for spec in policy.streams:
            topic = self.streams[spec.name]
            if topic.type not in MESSAGE_TYPES[spec.kind]:
                raise ConfigError(
                    f"streams.{spec.name}.type {topic.type!r} cannot carry a {spec.kind} stream; "
                    f"use one of {list(MESSAGE_TYPES[spec.kind])}"
                )
            if topic.scale != 1.0 and spec.kind != "imu":
                raise ConfigError(
                    f"streams.{spec.name}.scale is {topic.scale}, but it converts an IMU's linear "
                    f"acceleration to m/s^2 and stream {spec.name!r} is a {spec.kind} stream; "
                    f"remove streams.{spec.name}.scale (it applies to imu streams only)"
                )
        count = len(policy.actions.names)
        if self.output.type.endswith("JointTrajectory") and len(self.output.joint_names) != count:
            raise ConfigError(f"output.joint_names must name {count} joints, one per action")
        if self.output.type.endswith("TwistStamped") and len(self.output.twist_fields) != count:
            raise ConfigError(f"output.twist_fields must give {count} fields, one per action")


def load_controller(deployment: Deployment) -> tuple[Runtime, PolicyConfig]:
    """The controller a deployment names, and the policy config describing its streams, actions
    and timing: a :class:`PolicyRuntime` on the checkpoint, or what the factory returns as a
    :class:`~lnn_control.policy.guarded.GuardedController`."""
    if bool(deployment.checkpoint) == bool(deployment.controller):
        raise ConfigError("set exactly one of the parameters 'checkpoint' (a checkpoint folder) "
                          "and 'controller' (a factory module:function)")
    if deployment.controller:
        module, _, function = deployment.controller.partition(":")
        try:
            factory = getattr(importlib.import_module(module), function)
        except (ImportError, AttributeError) as error:
            raise ConfigError(f"controller {deployment.controller!r} cannot be loaded: {error}") from None
        controller, config = factory()
        return GuardedController(controller, config), config
    from lnn_control.policy.checkpoint import load_checkpoint
    from lnn_control.policy.runtime import PolicyRuntime

    policy = load_checkpoint(deployment.checkpoint)
    runtime = PolicyRuntime(policy, deployment.engine, deployment.engine_file or None)
    return runtime, policy.config


def deployment_from_parameters(parameters: dict[str, Any]) -> Deployment:
    """A :class:`Deployment` from parameters, nested (``{"streams": {"imu": {...}}}``) or as ROS
    names them (``{"streams.imu.topic": ...}``)."""
    return config_from_dict(Deployment, without_ros_parameters(nest_parameters(parameters)), "parameters")


def load_deployment(path: str | os.PathLike[str], node: str = "policy_node") -> Deployment:
    """The :class:`Deployment` of ``node`` in a ROS 2 parameter file (``/**`` entries apply to
    every node; the node's own override them)."""
    return load_node_parameters(Deployment, path, node)


def load_node_parameters(cls: type[T], path: str | os.PathLike[str], node: str) -> T:
    """Dataclass ``cls`` from ``node``'s parameters in a ROS 2 parameter file (``/**`` entries
    apply to every node; the node's own override them; ROS's own parameters are left out)."""
    document = read_yaml(path)
    if not isinstance(document, dict):
        raise ConfigError(f"{path} is not a ROS 2 parameter file (a mapping of node names)")
    merged: dict[str, Any] = {}
    found = False
    for key in ("/**", node, f"/{node}"):
        section = document.get(key)
        if isinstance(section, dict) and isinstance(section.get("ros__parameters"), dict):
            merged = merge(merged, nest_parameters(section["ros__parameters"]))
            found = True
    if not found:
        raise ConfigError(
            f"{path} has no '{node}: ros__parameters:' or '/**: ros__parameters:' section "
            f"(it has {sorted(document)})"
        )
    try:
        return config_from_dict(cls, without_ros_parameters(merged), "ros__parameters")
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None


#: parameters every ROS 2 node has, which belong to ROS, not to the deployment
ROS_OWN_PARAMETERS = ("use_sim_time", "start_type_description_service", "qos_overrides")


def without_ros_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    """``parameters`` without the ones every ROS 2 node has (``use_sim_time``, ...)."""
    return {k: v for k, v in parameters.items() if k not in ROS_OWN_PARAMETERS}


def nest_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    """ROS parameter names (``streams.imu.topic``) as nested mappings (``{"streams": {...}}``)."""
    nested: dict[str, Any] = {}
    for key, value in parameters.items():
        value = nest_parameters(value) if isinstance(value, dict) else value
        target = nested
        *parents, leaf = str(key).split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = merge(target[leaf], value) if isinstance(target.get(leaf), dict) and isinstance(value, dict) else value
    return nested
