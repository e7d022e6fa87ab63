"""Command messages, without importing ROS: each command type's layout, written once.

A command is ``(A,)`` float64 in the policy's action order and physical units, sent as one message
of the parameter file's ``output.type``. :data:`COMMAND_TYPES` says once per type where a command
lies in its messages (:class:`CommandLayout`: the field of the values, how each value is named,
whether a header carries the stamp and frame, the other fields). :class:`CommandMessages` joins a
layout with one output's settings; everything else derives from it:

- building a message (nested plain data, which ``rclpy`` or ``rosbags`` turns into its message
  class): :meth:`CommandMessages.build`, for the simulator, recording and the replay's output bag;
- the policy node's serialized writer, :class:`lnn_control.ros.conversions.CommandWriter`, which
  serializes one built message as a template;
- reading a message back: :meth:`CommandMessages.read`, for the simulator's node and the
  recorded-bag reader :func:`lnn_control.bags.recorded.read_recorded_command`.

A command stamped by a header carries the sensor stamp it was computed from, nanoseconds since
epoch; a ``Float64MultiArray`` has no header (its receive time stands in for the stamp).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from lnn_control.errors import ConfigError, ShapeError
from lnn_control.policy.messages.building import ns_to_stamp
from lnn_control.policy.messages.sensors import stamp_ns

__all__ = ["COMMAND_TYPES", "CommandLayout", "CommandMessages"]

#: how the values of a command are named in a message (see :class:`CommandLayout`)
Naming = Literal["label", "joint_names", "twist_fields"]


@dataclass(frozen=True)
class CommandLayout:
    """Where a command lies in the messages of one type.

    :param stamped: a ``header`` carries the command's stamp and the output's ``frame_id``.
    :param values: the field that holds the values: a path of field names joined by dots, a
        number indexing a list (``points.0.positions``).
    :param naming: how each value is named:

        - ``label``: ``values`` is a sequence in action order; the one dimension of the message's
          ``layout`` is labelled with the action names, comma-separated (not read back);
        - ``joint_names``: ``values`` is a sequence in the order of the message's ``joint_names``
          field, which the output's ``joint_names`` fill (one per action); read back by name;
        - ``twist_fields``: action ``i`` lies in the field ``twist_fields[i]`` (``linear.z``,
          ``angular.x``, ...) of ``values``, the output's ``twist_fields``; the others stay 0.
    :param fixed: every other field of the message, nested plain data (the header aside; the
        values' containers with their fixed fields).
    """

    stamped: bool
    values: str
    naming: Naming
    fixed: dict[str, Any]


#: the command message types and their layouts
COMMAND_TYPES: dict[str, CommandLayout] = {
    # ros2_control's forward command controllers
    "std_msgs/msg/Float64MultiArray": CommandLayout(
        stamped=False, values="data", naming="label",
        fixed={"layout": {"dim": [], "data_offset": 0}}),
    # one point, reached at time_from_start 0
    "trajectory_msgs/msg/JointTrajectory": CommandLayout(
        stamped=True, values="points.0.positions", naming="joint_names",
        fixed={"points": [{"velocities": [], "accelerations": [], "effort": [],
                           "time_from_start": {"sec": 0, "nanosec": 0}}]}),
    # e.g. collective thrust on linear.z, body rates on angular
    "geometry_msgs/msg/TwistStamped": CommandLayout(
        stamped=True, values="twist", naming="twist_fields",
        fixed={"twist": {"linear": {"x": 0.0, "y": 0.0, "z": 0.0},
                         "angular": {"x": 0.0, "y": 0.0, "z": 0.0}}}),
}


@dataclass(frozen=True)
class CommandMessages:
    """The command messages of one output: its type's :class:`CommandLayout` with the output's
    settings (the parameter file's ``output``).

    :param msgtype: one of :data:`COMMAND_TYPES`.
    :param action_names: the policy's ``A`` actions (a ``Float64MultiArray``'s label); reading
        needs none.
    :param frame_id: the header's frame.
    :param joint_names: ``JointTrajectory``: the joint of each action.
    :param twist_fields: ``TwistStamped``: the field (``linear.x`` ... ``angular.z``) of each
        action.
    :raises ConfigError: ``msgtype`` is not a command type.
    """

    msgtype: str
    action_names: Sequence[str] = ()
    frame_id: str = ""
    joint_names: Sequence[str] = ()
    twist_fields: Sequence[str] = ()

    def __post_init__(self) -> None:
        if self.msgtype not in COMMAND_TYPES:
            raise ConfigError(f"unknown command type {self.msgtype!r}; use one of {tuple(COMMAND_TYPES)}")

    @property
    def layout(self) -> CommandLayout:
        """The layout of :attr:`msgtype`."""
        return COMMAND_TYPES[self.msgtype]

    def build(self, command: Sequence[float], stamp: int) -> dict[str, Any]:
        """A command as nested plain data in the fields of :attr:`msgtype`.

        :param command: ``(A,)`` the command, physical units.
        :param stamp: the sensor stamp the command was computed from, nanoseconds.
        :raises ConfigError: ``joint_names`` or ``twist_fields`` do not give one place per action.
        """
        layout = self.layout
        values = [float(v) for v in command]
        data = copy.deepcopy(layout.fixed)
        if layout.stamped:
            data["header"] = {"stamp": ns_to_stamp(stamp), "frame_id": self.frame_id}
        if layout.naming == "twist_fields":
            if len(self.twist_fields) != len(values):
                raise ConfigError(f"output.twist_fields must give a field for each of the {len(values)} actions")
            for field, value in zip(self.twist_fields, values):
                _set(data, f"{layout.values}.{field}", value)
            return data
        if layout.naming == "joint_names":
            if len(self.joint_names) != len(values):
                raise ConfigError(f"output.joint_names must name the {len(values)} joints, one per action")
            data["joint_names"] = list(self.joint_names)
        else:
            data["layout"]["dim"] = [{"label": ",".join(self.action_names), "size": len(values),
                                      "stride": len(values)}]
        _set(data, layout.values, values)
        return data

    def read(self, msg: Any) -> tuple[int | None, np.ndarray]:
        """``(header stamp ns or None, command (A,) float64)`` of a message (rclpy or rosbags):
        the inverse of :meth:`build`. A ``Float64MultiArray`` gives all its values, however many.

        :raises ShapeError: a ``JointTrajectory`` lacks a joint or has no point.
        """
        layout = self.layout
        stamp = stamp_ns(msg.header.stamp) if layout.stamped else None
        if layout.naming == "twist_fields":
            return stamp, np.array([_get(msg, f"{layout.values}.{field}") for field in self.twist_fields],
                                   dtype=np.float64)
        try:
            sequence = _get(msg, layout.values)
        except IndexError:
            sequence = None
        if layout.naming == "label":
            return stamp, np.asarray(sequence, dtype=np.float64)
        names = list(msg.joint_names)
        missing = [n for n in self.joint_names if n not in names]
        if missing or sequence is None:
            raise ShapeError(f"a JointTrajectory lacks the joints {missing} (it names {names}) "
                             "or has no point")
        positions = np.asarray(sequence, dtype=np.float64)
        return stamp, positions[[names.index(n) for n in self.joint_names]]


def _get(msg: Any, path: str) -> Any:
    """The field of ``msg`` at ``path`` (field names joined by dots, a number indexing a list)."""
    for part in path.split("."):
        msg = msg[int(part)] if part.isdigit() else getattr(msg, part)
    return msg


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    """Set the field of nested plain data at ``path`` (as :func:`_get`)."""
    *parents, last = path.split(".")
    node: Any = data
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    node[last] = value
