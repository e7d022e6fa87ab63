"""Policies: encoders + liquid core + action head, their checkpoints, and the event-driven runtime."""

from lnn_control.policy.aligner import EventAligner, StepInput
from lnn_control.policy.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from lnn_control.policy.config import (
    ActionSpec,
    ControlConfig,
    CoreConfig,
    PolicyConfig,
    StreamSpec,
)
from lnn_control.policy.events import (
    Controller,
    EventOutcome,
    EventResult,
    Rejection,
    Runtime,
    RuntimeStats,
    SensorEvent,
)
from lnn_control.policy.model import LiquidPolicy, PolicyStep
from lnn_control.policy.runtime import PolicyRuntime

__all__ = [
    "ActionSpec",
    "CheckpointError",
    "ControlConfig",
    "Controller",
    "CoreConfig",
    "EventAligner",
    "EventOutcome",
    "EventResult",
    "LiquidPolicy",
    "PolicyConfig",
    "PolicyRuntime",
    "PolicyStep",
    "Rejection",
    "Runtime",
    "RuntimeStats",
    "SensorEvent",
    "StepInput",
    "StreamSpec",
    "load_checkpoint",
    "save_checkpoint",
]
