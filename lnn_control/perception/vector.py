"""Encoder of fixed-size float vectors (IMU, odometry, joint states, goals)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lnn_control.errors import ShapeError

__all__ = ["VectorEncoder"]


class VectorEncoder(nn.Module):
    """``(..., size) -> (..., features)``: standardise with stored statistics, then
    ``tanh(Linear(.))``; with ``features=0`` the standardised vector itself (the NCP papers feed
    sensory neurons directly).

    :param size: length of the vector (what the policy's stream gives it:
        :func:`lnn_control.policy.stream_inputs.stream_input`).
    :param features: output size; 0 for the standardised input.
    """

    def __init__(self, size: int, features: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(size))
        self.register_buffer("std", torch.ones(size))
        self.linear = nn.Linear(size, features) if features > 0 else None
        self.output_size = features if features > 0 else size

    @torch.no_grad()
    def fit_statistics(self, values: Tensor, min_std: float) -> None:
        """Standardise by the mean and standard deviation (floored at ``min_std``) of ``values``
        ``(N, size)`` (training data), computed in float64."""
        values = values.double()
        self.set_statistics(values.mean(0).float(), values.std(0, unbiased=False).float().clamp(min=min_std))

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
        z = (x - self.mean) / self.std
        linear = self.linear
        if linear is None:
            return z
        return torch.tanh(linear(z))
