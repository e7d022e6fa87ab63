"""Errors a user of lnn_control can cause. Every message says what was wrong and what to do."""

__all__ = ["ConfigError", "LnnControlError", "OutputPathError", "ShapeError"]


class LnnControlError(Exception):
    """Base class of every error lnn_control raises on bad input (not on its own bugs)."""


class ConfigError(LnnControlError, ValueError):
    """A configuration value (constructor argument, YAML key, wiring) is invalid."""


class ShapeError(LnnControlError, ValueError):
    """A tensor or array has the wrong shape, dtype or value range for where it was passed."""


class OutputPathError(LnnControlError, ValueError):
    """A path given for a command's output cannot be written (a file where a folder must be, a
    folder where a file must be, or a folder this user may not write into)."""
