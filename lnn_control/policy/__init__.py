"""Policies: encoders + liquid core + action head, their checkpoints, and the event-driven runtime."""

from lnn_control.policy.events import Controller, SensorEvent

__all__ = ["Controller", "SensorEvent"]
