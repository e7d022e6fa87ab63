"""Timed sensor streams of an env: what each stream is, and its messages within one episode.

An :class:`EnvStream` declares one stream an env offers (kind, shape, units, nominal timing). A
:class:`TimedStream` turns a stream's :class:`~lnn_control.sim.timing.StreamTiming` into
messages: the env asks which measurements fall in a control step (:meth:`TimedStream.take`), reads
each value from the simulation at its measurement instant (:meth:`TimedStream.capture`), and hands
out those that have arrived (:meth:`TimedStream.deliver`). Lost messages are never read (a camera
frame that would be dropped is never rendered).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import mujoco
import numpy as np

from lnn_control.policy.events import SensorEvent
from lnn_control.sim.timing import StreamTiming, sample_stamps

__all__ = ["EnvStream", "Noise", "Reader", "TimedStream"]

#: reads a stream's value from the simulation: ``MjData -> array`` (a new array each call)
Reader = Callable[[mujoco.MjData], np.ndarray]
#: additive noise at given stamps: ``(n,) int64 ns -> (n, *shape)``
Noise = Callable[[np.ndarray], np.ndarray]

#: message kinds of ``lnn_control.policy.events``
KINDS = ("imu", "attitude", "image", "joint_state", "odometry", "vector")


@dataclass(frozen=True)
class EnvStream:
    """One stream an env offers, as the env declares it (its ``STREAMS`` table).

    :param kind: the message kind (``imu``, ``image``, ``joint_state``, ``odometry``, ``vector``).
    :param shape: the value's shape.
    :param description: contents and units, for the env's docstring and errors.
    :param timing: nominal timing; ``None`` for a privileged stream, which is emitted exactly at
        every control instant (``ground_truth``) or whenever it changes (a privileged ``goal``).
    :param privileged: True for a stream only an expert may read (never in the observation).
    """

    kind: str
    shape: tuple[int, ...]
    description: str
    timing: StreamTiming | None = None
    privileged: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown stream kind {self.kind!r}: one of {', '.join(KINDS)}")
        if (self.timing is None) != self.privileged:
            raise ValueError("a stream has a timing exactly when it is not privileged")


class TimedStream:
    """The messages of one stream in one episode.

    :param name: the stream's name as the policy declares it.
    :param timing: this episode's timing (after domain randomisation).
    :param read: reads the value from ``MjData`` at a measurement instant.
    :param rng: the episode's random generator (stamps, dropouts and noise come from it).
    :param noise: additive measurement noise, or ``None``.
    :param chunk: how many measurement instants to draw at a time.
    """

    def __init__(
        self,
        name: str,
        timing: StreamTiming,
        read: Reader,
        rng: np.random.Generator,
        noise: Noise | None = None,
        chunk: int = 256,
    ) -> None:
        self.name = name
        self.timing = timing
        self._read = read
        self._rng = rng
        self._noise = noise
        self._chunk = chunk
        self._latency_ns = timing.latency_ns
        self._in_flight: deque[tuple[int, SensorEvent]] = deque()
        self._last_ns = np.int64(0)
        # the first message is stamped 0 and never lost
        self._stamps: list[int] = [0]
        self._noise_rows: np.ndarray | None = None if noise is None else noise(np.zeros(1, np.int64))
        self._next = 0

    def _extend(self) -> None:
        timing = self.timing
        stamps, kept = sample_stamps(
            self._rng, self._last_ns, self._chunk, timing.period_ns, timing.jitter, timing.dropout
        )
        self._last_ns = stamps[-1]
        kept_stamps = stamps[kept]
        self._stamps = kept_stamps.tolist()
        if self._noise is not None:
            self._noise_rows = self._noise(kept_stamps)
        self._next = 0

    def take(self, until_ns: int) -> list[tuple[int, np.ndarray | None]]:
        """Measurements stamped up to ``until_ns`` not taken before, as ``(stamp_ns, noise)``, in order."""
        taken: list[tuple[int, np.ndarray | None]] = []
        while True:
            if self._next == len(self._stamps):
                self._extend()
                continue
            stamp = self._stamps[self._next]
            if stamp > until_ns:
                return taken
            noise = None if self._noise_rows is None else self._noise_rows[self._next]
            taken.append((stamp, noise))
            self._next += 1

    def _measure(self, noise: np.ndarray | None, data: mujoco.MjData) -> np.ndarray:
        value = self._read(data)
        if noise is not None:
            value += noise
        return value

    def capture(self, stamp_ns: int, noise: np.ndarray | None, data: mujoco.MjData) -> None:
        """Read the value of the measurement stamped ``stamp_ns`` from ``data`` and send it."""
        event = SensorEvent(self.name, stamp_ns, self._measure(noise, data))
        self._in_flight.append((stamp_ns + self._latency_ns, event))

    def deliver(self, until_ns: int) -> list[SensorEvent]:
        """Messages that have arrived by ``until_ns``, oldest first; they leave the stream."""
        arrived = []
        in_flight = self._in_flight
        while in_flight and in_flight[0][0] <= until_ns:
            arrived.append(in_flight.popleft()[1])
        return arrived

    def first(self, data: mujoco.MjData) -> SensorEvent:
        """Take, read and hand out the episode's first message (stamp 0), at once, whatever the latency."""
        ((stamp, noise),) = self.take(0)
        return SensorEvent(self.name, stamp, self._measure(noise, data))
