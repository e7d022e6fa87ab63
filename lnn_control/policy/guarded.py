"""Any controller as a :class:`~lnn_control.policy.events.Runtime`: what a ROS 2 node drives.

A node runs either a :class:`~lnn_control.policy.runtime.PolicyRuntime` or a controller a factory
returns (an expert, a classical controller of the user's). :class:`GuardedController` gives the
latter the runtime's interface, so the node treats both alike: every event is accepted (such a
controller does its own validation, if any), the stepping stream's events step, and every command
is checked: a non-finite one is replaced by the safe command, and each value is clipped to the
actions' limits (a plugin's bug must not reach a robot).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from lnn_control.policy.config import PolicyConfig
from lnn_control.policy.events import PLAIN_RESULTS, Controller, EventOutcome, EventResult, RuntimeStats

__all__ = ["GuardedController"]


class GuardedController:
    """A :class:`~lnn_control.policy.events.Controller` with the runtime's interface and checks.

    :param controller: the controller (``reset``, ``on_event``, ``command`` in the actions' units).
    :param config: the policy config describing its streams, actions and timing.
    """

    def __init__(self, controller: Controller, config: PolicyConfig) -> None:
        self.controller = controller
        self.stats = RuntimeStats(events={spec.name: 0 for spec in config.streams})
        control, actions = config.control, config.actions
        self._stepping = control.stream if control.mode == "stream" else None
        self._low = np.asarray(actions.low, dtype=np.float64)
        self._high = np.asarray(actions.high, dtype=np.float64)
        self._safe = np.asarray(actions.safe_command, dtype=np.float64)

    def reset(self) -> None:
        """Start a new episode."""
        self.controller.reset()

    def restart(self) -> None:
        """After a sensor fault: the controller starts its episode afresh (it has no other way)."""
        self.controller.reset()

    def on_event(self, stream: str, stamp_ns: int, value: np.ndarray,
                 encoding: Optional[str] = None) -> EventResult:
        """Pass the event on; ``STEPPED`` for the stepping stream (mode ``stream``), else
        ``HELD``. ``encoding`` is not passed on."""
        self.controller.on_event(stream, stamp_ns, value)
        self.stats.events[stream] = self.stats.events.get(stream, 0) + 1
        if stream != self._stepping:
            return PLAIN_RESULTS[EventOutcome.HELD]
        self.stats.steps += 1
        return PLAIN_RESULTS[EventOutcome.STEPPED]

    @property
    def waiting_for(self) -> tuple[str, ...]:
        """None: the controller commands from whatever it has."""
        return ()

    def command(self, stamp_ns: int) -> np.ndarray:
        """The checked command ``(A,)`` float64 for ``stamp_ns``."""
        command = np.asarray(self.controller.command(stamp_ns), dtype=np.float64)
        if not np.isfinite(command).all():
            command = self._safe
        return np.minimum(np.maximum(command, self._low), self._high)

    def command_values(self, stamp_ns: int) -> list[float]:
        """:meth:`command` as Python floats."""
        values: list[float] = self.command(stamp_ns).tolist()
        return values
