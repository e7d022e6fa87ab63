"""The one data contract between sensors and controllers: timestamped sensor events.

Data flows one way: sensor event ``(stream, stamp_ns, value)`` -> controller -> actuator command.
The ROS 2 node, the simulator, rosbag replay and evaluation all feed controllers through this
contract, so replay equals live and simulation equals robot by construction.

Stream values by kind (float arrays are float32 or float64; SI units):

- ``imu``: ``(6,)`` angular velocity ``[wx, wy, wz]`` rad/s then linear acceleration
  ``[ax, ay, az]`` m/s^2 (specific force, as an accelerometer reads: +9.81 up at rest), body frame.
- ``attitude``: ``(3,)`` the world's up direction in the body frame, ``R^T [0, 0, 1]`` (unit; level:
  ``[0, 0, 1]``), from an attitude estimate (a flight controller's, as ``sensor_msgs/Imu``'s
  ``orientation``); it holds roll and pitch, not yaw, which an estimator without a compass lacks.
- ``image``: ``(H, W, C)`` uint8, rgb8 (C=3) unless the stream declares bgr8 or mono8 (C=1).
- ``joint_state``: ``(2 n,)`` joint positions (rad or m) then velocities (rad/s or m/s).
- ``odometry``: ``(13,)`` position ``[x, y, z]`` m, orientation quaternion ``[qx, qy, qz, qw]``
  (ROS order, body to world), linear velocity ``[vx, vy, vz]`` m/s (world frame), angular velocity
  ``[wx, wy, wz]`` rad/s (body frame).
- ``vector``: ``(n,)`` any fixed-size float vector (a goal position, a target pose).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["Controller", "SensorEvent"]


@dataclass(frozen=True)
class SensorEvent:
    """One sensor message.

    :param stream: the stream's name as the policy declares it (e.g. ``"imu"``, ``"camera"``).
    :param stamp_ns: when the sensor measured it (the message's ``header.stamp``), nanoseconds.
    :param value: the measurement, shaped and in the units of the stream's kind (module docstring).
    """

    stream: str
    stamp_ns: int
    value: np.ndarray


@runtime_checkable
class Controller(Protocol):
    """What drives a robot: the policy runtime, and the privileged expert controllers.

    A controller consumes sensor events in stamp order and, when asked, returns the actuator
    command for a time.
    """

    def reset(self) -> None:
        """Forget all state: a new episode starts."""

    def on_event(self, stream: str, stamp_ns: int, value: np.ndarray) -> None:
        """Take one sensor measurement stamped ``stamp_ns`` (nanoseconds)."""

    def command(self, stamp_ns: int) -> np.ndarray:
        """The actuator command for time ``stamp_ns``: finite, within the actuator limits."""
