"""Sensor timing: when a stream measures, which messages are lost, and when the rest arrive.

A stream's messages are measured at instants ``t_k = t_{k-1} + T (1 + e_k)`` with nominal period
``T = 1 / rate`` and ``e_k`` uniform with standard deviation ``jitter`` (so the intervals stay
positive for ``jitter <= 0.5``); each message is lost with probability ``dropout``; the others
arrive ``latency`` after their stamp, in order. The first message of an episode is stamped 0 and
never lost. Stamps are integer nanoseconds since the episode started.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lnn_control.errors import ConfigError
from lnn_control.units import NS_PER_S

__all__ = ["MAX_JITTER", "StreamTiming", "sample_stamps"]

#: largest jitter (standard deviation of an interval over the period) with positive intervals
MAX_JITTER = 0.5


@dataclass(frozen=True)
class StreamTiming:
    """How one sensor stream is timed.

    :param rate_hz: nominal message rate, Hz (> 0).
    :param jitter: standard deviation of the interval between measurements over the nominal
        period, in ``[0, 0.5]`` (0.3 means 30 % jitter).
    :param latency_s: time from measurement (the stamp) to arrival at the controller, seconds.
    :param dropout: probability that a message is lost, in ``[0, 1)``.
    """

    rate_hz: float
    jitter: float = 0.0
    latency_s: float = 0.0
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.rate_hz) and self.rate_hz > 0):
            raise ConfigError(f"rate_hz must be a positive number of Hz, got {self.rate_hz!r}")
        if not 0 <= self.jitter <= MAX_JITTER:
            raise ConfigError(
                f"jitter must be in [0, {MAX_JITTER}] (a fraction of the period), got {self.jitter!r}"
            )
        if not (math.isfinite(self.latency_s) and self.latency_s >= 0):
            raise ConfigError(f"latency_s must be >= 0 seconds, got {self.latency_s!r}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must be a probability in [0, 1), got {self.dropout!r}")

    @property
    def period_ns(self) -> float:
        """Nominal interval between measurements, nanoseconds."""
        return NS_PER_S / self.rate_hz

    @property
    def latency_ns(self) -> int:
        """Latency in whole nanoseconds."""
        return round(self.latency_s * NS_PER_S)


def sample_stamps(
    rng: np.random.Generator,
    after_ns: np.ndarray | int,
    count: int,
    period_ns: np.ndarray | float,
    jitter: np.ndarray | float,
    dropout: np.ndarray | float,
) -> tuple[np.ndarray, np.ndarray]:
    """The next ``count`` measurement instants of a stream (or a batch of streams) and which are kept.

    :param after_ns: ``(*batch,)`` int64, the last measurement instant so far (ns).
    :param period_ns: nominal interval, ns; ``jitter`` and ``dropout`` as in :class:`StreamTiming`.
        Each is a number or a ``(*batch,)`` array (one value per stream of the batch).
    :return: ``stamps`` ``(*batch, count)`` int64 ns, increasing; ``kept`` ``(*batch, count)`` bool,
        False where the message is lost.
    """
    shape = (*np.shape(after_ns), count)
    spread = np.asarray(jitter)[..., None] * math.sqrt(3.0)
    unit = rng.uniform(-1.0, 1.0, shape)
    intervals = np.asarray(period_ns)[..., None] * (1.0 + spread * unit)
    stamps = np.asarray(after_ns, dtype=np.int64)[..., None] + np.rint(
        np.cumsum(intervals, axis=-1)
    ).astype(np.int64)
    kept = rng.random(shape) >= np.asarray(dropout)[..., None]
    return stamps, kept
