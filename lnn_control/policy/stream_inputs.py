"""What a vector stream's encoder reads: the stream's held value as received, or a view of it.

An odometry value is ``(13,)``: position ``p`` m and orientation quaternion ``q = [x, y, z, w]``
(body to world) in the world frame, velocity ``v`` m/s in the world frame, body rates rad/s. Its
stream options (:class:`~lnn_control.policy.config.StreamSpec`) change what its encoder reads:

- ``orientation``: ``quaternion`` (the 4 values), ``matrix`` (``R(q)``, 9 values, row-major:
  continuous over every rotation and the same for ``q`` and ``-q``) or ``up`` (``R^T e_z``, the
  world's up direction in the body frame: roll and pitch without the heading);
- ``velocity``: ``world`` (``v``) or ``body`` (``R^T v``);

and a 3-vector stream with ``offset_from: <odometry stream>`` (a world-frame goal ``g``) is read as
``R^T (g - p)``, the goal as seen from the body. With ``orientation: up``, ``velocity: body`` and
the goal's ``offset_from``, nothing a policy reads about its flight depends on its heading, except
the odometry's world position. Every view is torch arithmetic inside the step, so the ONNX and
native engines compute it too; before a stream's first message its value is zeros, read as the
identity rotation.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from lnn_control.policy.config import StreamSpec

__all__ = ["input_size", "rotation_matrix", "stream_input"]

#: the slices of an odometry value
POSITION, QUATERNION, VELOCITY, RATES = slice(0, 3), slice(3, 7), slice(7, 10), slice(10, 13)
#: values the encoder reads for each orientation option
ORIENTATION_SIZE = {"quaternion": 4, "matrix": 9, "up": 3}


def rotation_matrix(quaternion: Tensor) -> Tensor:
    """``(..., 4)`` quaternion ``[x, y, z, w]`` of any norm -> ``(..., 9)`` its rotation matrix,
    row-major. Unlike the quaternion it is continuous over every rotation and the same for ``q``
    and ``-q`` (a quaternion changes sign somewhere on every full turn of heading). A zero
    quaternion (a stream's value before its first message) gives the identity."""
    x, y, z, w = quaternion.split(1, dim=-1)
    norm = x * x + y * y + z * z + w * w
    s = 2.0 / torch.maximum(norm, norm.new_tensor(1e-12))
    return torch.cat([
        1.0 - s * (y * y + z * z), s * (x * y - z * w), s * (x * z + y * w),
        s * (x * y + z * w), 1.0 - s * (x * x + z * z), s * (y * z - x * w),
        s * (x * z - y * w), s * (y * z + x * w), 1.0 - s * (x * x + y * y),
    ], dim=-1)


def to_body(r: Tensor, world: Tensor) -> Tensor:
    """``R^T world``: world-frame vectors ``(..., 3)`` in the body frame of the rotation ``r``
    ``(..., 9)`` (row-major; R^T w is the rows of R weighted by w's entries)."""
    return r[..., 0:3] * world[..., 0:1] + r[..., 3:6] * world[..., 1:2] + r[..., 6:9] * world[..., 2:3]


def input_size(spec: StreamSpec) -> int:
    """How many values the encoder of a vector-kind stream reads."""
    if spec.kind != "odometry":
        return spec.value_shape[0]
    return 13 - 4 + ORIENTATION_SIZE[spec.orientation]


def stream_input(spec: StreamSpec, values: Mapping[str, Tensor]) -> Tensor:
    """What ``spec``'s encoder reads, ``(..., input_size(spec))``, from the held values of the
    streams ``(..., value size)`` (the stream itself, and the odometry its ``offset_from`` names)."""
    value = values[spec.name]
    if spec.offset_from is not None:
        odometry = values[spec.offset_from]
        return to_body(rotation_matrix(odometry[..., QUATERNION]), value - odometry[..., POSITION])
    if spec.kind != "odometry" or (spec.orientation, spec.velocity) == ("quaternion", "world"):
        return value
    r = rotation_matrix(value[..., QUATERNION])  # once, for the orientation and the velocity
    orientation = {"matrix": r, "up": r[..., 6:9], "quaternion": value[..., QUATERNION]}[spec.orientation]
    velocity = to_body(r, value[..., VELOCITY]) if spec.velocity == "body" else value[..., VELOCITY]
    return torch.cat([value[..., POSITION], orientation, velocity, value[..., RATES]], -1)
