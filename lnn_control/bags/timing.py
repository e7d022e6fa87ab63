"""Timing of a recorded stream: rate, jitter, gaps, out-of-order and duplicate stamps, receive lag.

Input: a stream's stamps in the order the messages were received (the bag's order), nanoseconds
since epoch, and optionally their receive times. Definitions, all in seconds unless named ``_hz``:

- *period*: the difference between consecutive distinct stamps, after sorting;
- *rate_hz*: ``(distinct stamps - 1) / (last - first)``, the mean rate, lower than the nominal rate
  when samples are missing; *nominal_rate_hz*: ``1 / median period``;
- *jitter_s*: standard deviation of the periods that are not gaps (gaps would dominate it);
  ``period`` gives the full distribution (mean, std, min, max, percentiles) with gaps included;
- *gap*: a period longer than ``GAP_FACTOR`` x the median period; ``missing`` estimates the samples
  lost in it as ``round(period / median) - 1``;
- *out of order*: a message whose stamp is older than the newest stamp received before it;
- *duplicate*: a stamp equal to an earlier one of the same stream;
- *lag*: receive time minus stamp (positive: received after it was stamped).

:func:`rate_mismatch` compares the stream that steps a policy with the period the policy expects
(its ``control.nominal_dt_s``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Optional

import numpy as np

from lnn_control.units import NS

__all__ = ["GAP_FACTOR", "RATE_FACTOR", "MeasuredTiming", "measure_timing", "rate_mismatch",
           "sorted_periods"]

#: a period longer than this many median periods is a gap
GAP_FACTOR = 1.5
#: a stepping stream whose median period is more than this many times longer or shorter than the
#: policy's nominal_dt_s is warned about
RATE_FACTOR = 2.0
PERCENTILES = (1, 5, 50, 95, 99)


@dataclass(frozen=True)
class MeasuredTiming:
    """The timing of one recorded stream, measured from its stamps (see the module docstring for
    the definitions); the timing a simulated stream is drawn from is
    :class:`lnn_control.sim.timing.StreamTiming`."""

    count: int
    #: last minus first stamp (s)
    duration_s: float
    rate_hz: Optional[float]
    nominal_rate_hz: Optional[float]
    #: std of the non-gap periods (s)
    jitter_s: Optional[float]
    #: distribution of the periods (s): mean, std, min, max, p1, p5, p50, p95, p99
    period_s: Optional[dict[str, float]]
    #: count, longest_s, missing (samples), and the first ones: [{"at_ns", "length_s"}]
    gaps: dict[str, Any]
    out_of_order: int
    duplicates: int
    #: receive time minus stamp (s): median, p95, mean, min, max; None without receive times
    lag_s: Optional[dict[str, float]]

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-safe)."""
        return asdict(self)


def sorted_periods(stamps_ns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct stamps sorted ``(M,)`` int64 ns, and the periods that end at each of the
    stamps after the first ``(M - 1,)`` seconds."""
    distinct = np.unique(np.asarray(stamps_ns, dtype=np.int64))
    return distinct, np.diff(distinct) * NS


def measure_timing(
    stamps_ns: np.ndarray, receive_ns: Optional[np.ndarray] = None, listed_gaps: int = 20
) -> MeasuredTiming:
    """Measure one stream's timing from its stamps.

    :param stamps_ns: ``(N,)`` stamps in receive order, nanoseconds since epoch.
    :param receive_ns: ``(N,)`` receive times of the same messages (for the lag), or ``None``.
    :param listed_gaps: how many gaps to list individually (all are counted).
    """
    stamps = np.asarray(stamps_ns, dtype=np.int64)
    count = int(stamps.size)
    distinct, periods = sorted_periods(stamps)
    newest_before = np.maximum.accumulate(stamps)[:-1] if count else stamps
    lag = None
    if receive_ns is not None and count:
        lags = (np.asarray(receive_ns, dtype=np.int64) - stamps) * NS
        lag = {"median": float(np.median(lags)), "p95": float(np.percentile(lags, 95)),
               "mean": float(lags.mean()), "min": float(lags.min()), "max": float(lags.max())}
    gaps: dict[str, Any] = {"count": 0, "longest_s": None, "missing": 0, "first": []}
    rate = nominal = jitter = distribution = None
    if periods.size:
        median = float(np.median(periods))
        span = float((distinct[-1] - distinct[0]) * NS)
        rate = (distinct.size - 1) / span
        nominal = 1.0 / median if median > 0 else None
        is_gap = periods > GAP_FACTOR * median
        regular = periods[~is_gap]
        jitter = float(regular.std()) if regular.size else None
        distribution = {"mean": float(periods.mean()), "std": float(periods.std()),
                        "min": float(periods.min()), "max": float(periods.max()),
                        **{f"p{q}": float(np.percentile(periods, q)) for q in PERCENTILES}}
        gap_lengths = periods[is_gap]
        gap_starts = distinct[:-1][is_gap]
        gaps = {
            "count": int(gap_lengths.size),
            "longest_s": float(gap_lengths.max()) if gap_lengths.size else None,
            "missing": int(np.sum(np.round(gap_lengths / median) - 1)) if median > 0 else 0,
            "first": [{"at_ns": int(at), "length_s": float(length)}
                      for at, length in zip(gap_starts[:listed_gaps], gap_lengths[:listed_gaps])],
        }
    return MeasuredTiming(
        count=count,
        duration_s=float((distinct[-1] - distinct[0]) * NS) if count else 0.0,
        rate_hz=rate,
        nominal_rate_hz=nominal,
        jitter_s=jitter,
        period_s=distribution,
        gaps=gaps,
        out_of_order=int(np.sum(stamps[1:] < newest_before)) if count else 0,
        duplicates=count - int(distinct.size),
        lag_s=lag,
    )


def rate_mismatch(stream: str, topic: str, timing: MeasuredTiming, nominal_dt_s: float) -> Optional[str]:
    """A warning when the stream that steps a policy runs at another rate than it was trained at.

    :param stream: the stepping stream's name (``control.stream``).
    :param topic: the topic it was read from.
    :param timing: its timing (:func:`measure_timing`); its median period is ``1 / nominal_rate_hz``.
    :param nominal_dt_s: the policy's ``control.nominal_dt_s``, the period it expects, s.
    :return: the warning text when the median period differs from ``nominal_dt_s`` by more than
        :data:`RATE_FACTOR` either way; ``None`` otherwise, or with fewer than two stamps.
    """
    if timing.nominal_rate_hz is None:
        return None
    period = 1.0 / timing.nominal_rate_hz
    ratio = period / nominal_dt_s
    if 1.0 / RATE_FACTOR <= ratio <= RATE_FACTOR:
        return None
    how = f"{ratio:.3g} times longer" if ratio > 1.0 else f"{1.0 / ratio:.3g} times shorter"
    return (
        f"stream {stream!r} ({topic}) steps the network at {timing.nominal_rate_hz:.3g} Hz (median "
        f"period {period * 1e3:.3g} ms), but the policy expects {1.0 / nominal_dt_s:.3g} Hz "
        f"(control.nominal_dt_s {nominal_dt_s:g} s): each step is {how} than the steps it was "
        f"trained on, so the network integrates over time steps it was never trained on and "
        f"its commands are not the ones it gives at its own rate. Retrain the policy at the "
        f"robot's rate, or replay the topic that carries the rate it was trained at"
    )
