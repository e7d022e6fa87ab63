"""Errors of the simulation suite. Every message says what was wrong and what to do."""

from __future__ import annotations

from lnn_control.errors import LnnControlError

__all__ = ["SimulationError"]


class SimulationError(LnnControlError, RuntimeError):
    """MuJoCo raised a warning (an unstable or ill-posed simulation) or a scene failed to load."""
