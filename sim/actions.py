"""Physical commands <-> the envs' normalised actions: a linear map of ``[low, high]`` onto
``[-1, 1]`` per entry of an :class:`~lnn_control.policy.config.ActionSpec`."""

from __future__ import annotations

import numpy as np

from lnn_control.policy.config import ActionSpec

__all__ = ["to_action", "to_command"]


def to_action(spec: ActionSpec, command: np.ndarray) -> np.ndarray:
    """Physical command ``(..., A)`` -> normalised action in [-1, 1] (clipped), float32."""
    low, high = np.asarray(spec.low), np.asarray(spec.high)
    action = 2.0 * (np.asarray(command, dtype=np.float64) - low) / (high - low) - 1.0
    return np.clip(action, -1.0, 1.0).astype(np.float32)


def to_command(spec: ActionSpec, action: np.ndarray) -> np.ndarray:
    """Normalised action ``(..., A)`` -> physical command (inverse of :func:`to_action`), float32."""
    low, high = np.asarray(spec.low), np.asarray(spec.high)
    return (low + (np.asarray(action, dtype=np.float64) + 1.0) * 0.5 * (high - low)).astype(np.float32)
