"""Encoder of fixed-size float vectors (IMU, odometry, joint states, goals)."""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn

from lnn_control.errors import ShapeError

__all__ = ["VectorEncoder", "rotation_matrix"]


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


class VectorEncoder(nn.Module):
    """``(..., size) -> (..., features)``: standardise with stored statistics, then
    ``tanh(Linear(.))``; with ``features=0`` the standardised vector itself (the NCP papers feed
    sensory neurons directly).

    :param size: length of the vector.
    :param features: output size; 0 for the standardised input.
    :param quaternion_at: where a quaternion ``[x, y, z, w]`` starts in the vector, to be read as
        its rotation matrix (:func:`rotation_matrix`; the encoder then sees ``size + 5`` values);
        None: the vector as it is.
    """

    def __init__(self, size: int, features: int, quaternion_at: Optional[int] = None) -> None:
        super().__init__()
        if quaternion_at is not None and not 0 <= quaternion_at <= size - 4:
            raise ShapeError(f"quaternion_at must be in [0, {size - 4}] for a vector of {size}, got {quaternion_at}")
        self.quaternion_at = quaternion_at
        inputs = size if quaternion_at is None else size + 5
        self.register_buffer("mean", torch.zeros(inputs))
        self.register_buffer("std", torch.ones(inputs))
        self.linear = nn.Linear(inputs, features) if features > 0 else None
        self.output_size = features if features > 0 else inputs

    def inputs(self, x: Tensor) -> Tensor:
        """``(..., size) -> (..., size or size + 5)``: the values that are standardised (the
        quaternion replaced by its rotation matrix if ``quaternion_at``)."""
        at = self.quaternion_at
        if at is None:
            return x
        return torch.cat([x[..., :at], rotation_matrix(x[..., at:at + 4]), x[..., at + 4:]], dim=-1)

    @torch.no_grad()
    def fit_statistics(self, values: Tensor, min_std: float) -> None:
        """Standardise by the mean and standard deviation (floored at ``min_std``) of
        :meth:`inputs` over ``values`` ``(N, size)`` (training data), computed in float64."""
        inputs = self.inputs(values.double())
        self.set_statistics(inputs.mean(0).float(), inputs.std(0, unbiased=False).float().clamp(min=min_std))

    @torch.no_grad()
    def set_statistics(self, mean: Tensor, std: Tensor) -> None:
        """Standardisation statistics ``(size,)`` (from training data); ``std`` floored at 1e-6."""
        if mean.shape != self.mean.shape or std.shape != self.std.shape:
            raise ShapeError(
                f"statistics must have shape {tuple(self.mean.shape)}, got mean "
                f"{tuple(mean.shape)} and std {tuple(std.shape)}"
            )
        self.mean.copy_(mean)
        self.std.copy_(std.clamp(min=1e-6))

    def forward(self, x: Tensor) -> Tensor:
        z = (self.inputs(x) - self.mean) / self.std
        linear = self.linear
        if linear is None:
            return z
        return torch.tanh(linear(z))
