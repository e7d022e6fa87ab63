"""The policy node's ROS 2 parameters, each declared with a descriptor (``ros2 param describe``).

The parameters are the fields of :class:`~lnn_control.policy.deployment.Deployment`, named as
ROS names them: ``engine``, ``output.topic``, ``streams.<stream>.timeout_s`` (one set per stream
the parameter file or ``--ros-args -p`` names). Their types and defaults are the dataclasses'
(every parameter not given holds its default, so ``ros2 param list`` shows what the node runs
with); so are their descriptions and inclusive ranges, each field's
:class:`~lnn_control.policy.deployment.ParameterText` (a bound ROS cannot express, such as
``> 0``, is in the descriptor's constraints and checked at configure).

A parameter given at start-up that the node cannot take is refused, not ignored: an unknown name
(a typo such as ``streams.imu.timeout`` would otherwise leave the 0.5 s default watchdog in
place, and replay of the same file refuses it too) or a value of the wrong type or out of range.
:func:`declare_parameters` leaves it undeclared and returns why; the node logs it and fails
every configure with it. An integer given for a floating-point parameter (``timeout_s: 1``) is
taken as that number, as the deployment's YAML loader takes it.

Every parameter is read at configure (``autostart`` once, at start-up: it is read-only): the node
refuses a change while it is configured, rather than accept one it would not honour.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import typing
from dataclasses import dataclass
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.exceptions import InvalidParameterValueException
from rclpy.node import Node
from rclpy.parameter import Parameter

from lnn_control.policy.deployment import (
    ROS_OWN_PARAMETERS,
    Deployment,
    OutputTopic,
    ParameterText,
    StreamTopic,
)

__all__ = ["declare_parameters", "is_ros_own"]

#: the largest integer an integer range admits (a C int: torch's thread count, a QoS depth)
_INT_MAX = 2**31 - 1

_TYPES = {str: Parameter.Type.STRING, bool: Parameter.Type.BOOL, int: Parameter.Type.INTEGER,
          float: Parameter.Type.DOUBLE}


@dataclass(frozen=True)
class _Declared:
    """One parameter the node declares: its type, its default (None: required) and descriptor."""

    kind: Parameter.Type
    default: Any
    descriptor: ParameterDescriptor


def is_ros_own(name: str) -> bool:
    """Whether parameter ``name`` belongs to ROS (``use_sim_time``, ``qos_overrides.*``, ...)."""
    return name.split(".", 1)[0] in ROS_OWN_PARAMETERS


def declare_parameters(node: Node) -> list[str]:
    """Give every parameter of the policy node its descriptor and, where not given, its default.

    ``node`` must have been made with ``automatically_declare_parameters_from_overrides=True``
    (and without undeclared parameters): what the parameter file and ``-p`` gave is declared,
    each with its value's own type, and is checked here against the descriptor.

    :return: why each parameter given that the node cannot take was refused (left undeclared).
    """
    given = {name: parameter for name, parameter in node.get_parameters_by_prefix("").items()
             if not is_ros_own(name)}
    streams = sorted({name.split(".")[1] for name in given
                      if name.startswith("streams.") and name.count(".") == 2})
    known = _parameters(streams)
    refused = []
    for name, parameter in given.items():
        declared = known.get(name)
        if declared is None:
            node.undeclare_parameter(name)
            close = difflib.get_close_matches(name, known, n=1)
            refused.append(f"unknown parameter {name!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
                           + f"; the node's parameters: {sorted(known)}")
            continue
        value = parameter.value
        if declared.kind == Parameter.Type.DOUBLE and parameter.type_ == Parameter.Type.INTEGER:
            value = float(value)  # `timeout_s: 1` means 1.0, as in the deployment's YAML
        try:
            node.set_descriptor(name, declared.descriptor, Parameter(name, value=value).get_parameter_value())
        except InvalidParameterValueException as error:
            node.undeclare_parameter(name)
            # rclpy's words, without its preamble and the name it appends
            reason = str(error.args[0]).split("Reason: ", 1)[-1].removesuffix(f": {name}")
            refused.append(f"parameter {name!r} = {parameter.value!r} refused: {reason}")
    for name, declared in known.items():
        if name in given or declared.default is None:
            continue
        if isinstance(declared.default, list):  # [] would read as a byte array: type, then value
            node.declare_parameter(name, declared.kind, declared.descriptor)
            node.set_parameters([Parameter(name, declared.kind, declared.default)])
        else:
            node.declare_parameter(name, declared.default, declared.descriptor)
    return refused


def _parameters(streams: list[str]) -> dict[str, _Declared]:
    """Every parameter of a node whose parameters name ``streams``, by name."""
    known = _fields(Deployment, "")
    known.update(_fields(OutputTopic, "output."))
    for stream in streams:
        known.update(_fields(StreamTopic, f"streams.{stream}.", stream))
    return known


def _fields(cls: type, prefix: str, stream: str = "") -> dict[str, _Declared]:
    """The parameters of dataclass ``cls``'s fields of plain types (a nested dataclass, or the
    streams mapping, is declared by its own fields), named ``prefix + field``."""
    hints = typing.get_type_hints(cls)
    declared = {}
    for field in dataclasses.fields(cls):
        kind = _parameter_type(hints[field.name])
        if kind is None:
            continue
        description: ParameterText = field.metadata["parameter"]
        choices = typing.get_args(hints[field.name]) if typing.get_origin(hints[field.name]) is typing.Literal else ()
        constraints = "; ".join(filter(None, [
            f"one of {', '.join(choices)}" if choices else "", description.constraints,
            "read once, at start-up" if description.read_only else
            "read at configure: a change is refused while the node is configured"]))
        descriptor = ParameterDescriptor(description=description.text.format(stream=stream), type=kind.value,
                                         read_only=description.read_only, additional_constraints=constraints)
        if description.low is not None and kind == Parameter.Type.DOUBLE:
            descriptor.floating_point_range = [FloatingPointRange(from_value=description.low, to_value=math.inf)]
        elif description.low is not None:
            descriptor.integer_range = [IntegerRange(from_value=int(description.low), to_value=_INT_MAX, step=1)]
        if field.default is not dataclasses.MISSING:
            default = field.default
        elif field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        else:
            default = None
        declared[prefix + field.name] = _Declared(kind, default, descriptor)
    return declared


def _parameter_type(hint: Any) -> Parameter.Type | None:
    """The ROS parameter type of a field's type hint (None: not a parameter of its own)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Literal:
        return _TYPES[type(args[0])]
    if origin is list and args == (str,):
        return Parameter.Type.STRING_ARRAY
    return _TYPES.get(hint)
