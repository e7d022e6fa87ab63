"""A command topic recorded in a bag (what a live policy sent), read back and compared with the
commands the replay computed.

The recorded topic is the parameter file's ``output.topic``, of type ``output.type``; its values
are read back with the layout of that type
(:meth:`lnn_control.policy.messages.commands.CommandMessages.read`: ``Float64MultiArray.data``,
the ``output.twist_fields`` of a ``TwistStamped``, the first point's positions of a
``JointTrajectory`` in ``output.joint_names`` order). A recorded command is stamped with its
``header.stamp`` (the sensor stamp it was computed from), or its receive time when the type has
no header.

Comparison (:func:`compare_commands`): each recorded command is compared with the replayed
command in force at its stamp (the last replay step at or before it, as an actuator holds its
command); RMSE per action over those pairs. Commands whose stamp is exactly a replay step's (a
live node stamps each command with the sensor stamp that stepped it) are also compared one to one:
``exact_max_abs``, the test of "replay equals live". The lag comes from the cross-correlation of the two
signals, both held on a uniform grid at the replay's median step period: a positive lag means the
recorded commands trail the replayed ones (``recorded(t) ~ replay(t - lag)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lnn_control.bags.errors import MessageTypeError
from lnn_control.errors import ConfigError, ShapeError
from lnn_control.policy.deployment import OutputTopic
from lnn_control.policy.messages.commands import CommandMessages
from lnn_control.units import NS

__all__ = ["RecordedCommands", "compare_commands", "read_recorded_command"]

#: the lag search covers +- this (s)
MAX_LAG_S = 1.0


@dataclass
class RecordedCommands:
    """The commands of the bag's recorded command topic.

    :param topic: the topic.
    :param msgtype: its message type.
    :param stamps_ns: ``(M,)`` int64 stamps (``header.stamp`` or receive time), ns since epoch.
    :param values: ``(M, A)`` float64 commands, in the policy's action order and units.
    """

    topic: str
    msgtype: str
    stamps_ns: np.ndarray
    values: np.ndarray


def read_recorded_command(msgtype: str, msg: Any, output: OutputTopic) -> tuple[int | None, np.ndarray]:
    """``(header stamp ns or None, command (A,) float64)`` of a recorded command message, read
    with ``output``'s settings (:meth:`~lnn_control.policy.messages.commands.CommandMessages.read`).

    :raises MessageTypeError: ``msgtype`` is not a command type, or a joint is missing.
    """
    try:
        messages = CommandMessages(msgtype, joint_names=output.joint_names, twist_fields=output.twist_fields)
        return messages.read(msg)
    except (ShapeError, ConfigError) as error:
        raise MessageTypeError(f"recorded command on {output.topic}: {error}") from None


def _held(
    stamps_ns: np.ndarray, values: np.ndarray, at_ns: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``values`` in force at each of ``at_ns`` (the last one stamped at or before it), and a
    mask of the times that have one."""
    index = np.searchsorted(stamps_ns, at_ns, side="right") - 1
    valid = index >= 0
    return values[np.clip(index, 0, None)], valid


def compare_commands(
    replay_stamps_ns: np.ndarray,
    replay: np.ndarray,
    recorded: RecordedCommands,
    names: Sequence[str],
    max_lag_s: float = MAX_LAG_S,
) -> dict[str, Any]:
    """Error of the replayed commands against the recorded ones (see the module docstring).

    :param replay_stamps_ns: ``(N,)`` stamps of the replay's steps, increasing, ns.
    :param replay: ``(N, A)`` replayed commands.
    :param names: the ``A`` action names (keys of the per-axis results).
    :return: ``{"topic", "count", "compared", "exact_stamps", "rmse": {name: v}, "max_abs":
        {name: v}, "exact_max_abs": {name: v}, "lag_s", "grid_s"}``; ``lag_s`` is ``None`` when
        the signals are constant; ``exact_max_abs`` is over the ``exact_stamps`` pairs.
    """
    order = np.argsort(recorded.stamps_ns, kind="stable")
    rec_stamps, rec_values = recorded.stamps_ns[order], recorded.values[order]
    result: dict[str, Any] = {"topic": recorded.topic, "count": int(rec_stamps.size), "compared": 0,
                              "exact_stamps": 0, "rmse": None, "max_abs": None, "exact_max_abs": None,
                              "lag_s": None, "grid_s": None}
    if replay_stamps_ns.size == 0 or rec_stamps.size == 0:
        return result
    held, valid = _held(replay_stamps_ns, replay.astype(np.float64), rec_stamps)
    error = held[valid] - rec_values[valid]
    result["compared"] = int(valid.sum())
    exact = np.isin(rec_stamps, replay_stamps_ns)
    result["exact_stamps"] = int(exact.sum())
    if exact.any():
        at = np.searchsorted(replay_stamps_ns, rec_stamps[exact])
        gap = np.abs(replay[at].astype(np.float64) - rec_values[exact]).max(axis=0)
        result["exact_max_abs"] = dict(zip(names, gap.tolist()))
    if error.size:
        result["rmse"] = dict(zip(names, np.sqrt(np.mean(error**2, axis=0)).tolist()))
        result["max_abs"] = dict(zip(names, np.abs(error).max(axis=0).tolist()))
    result.update(_lag(replay_stamps_ns, replay, rec_stamps, rec_values, max_lag_s))
    return result


def _lag(
    replay_stamps: np.ndarray, replay: np.ndarray, rec_stamps: np.ndarray, rec_values: np.ndarray,
    max_lag_s: float,
) -> dict[str, float | None]:
    """Cross-correlation lag (s) of the recorded commands behind the replayed ones."""
    if replay_stamps.size < 2:
        return {}
    grid_s = float(np.median(np.diff(replay_stamps))) * NS
    start, stop = max(replay_stamps[0], rec_stamps[0]), min(replay_stamps[-1], rec_stamps[-1])
    if grid_s <= 0 or stop <= start:
        return {"grid_s": grid_s}
    grid = np.arange(start, stop, grid_s / NS).astype(np.int64)
    a = _held(replay_stamps, replay.astype(np.float64), grid)[0]
    b = _held(rec_stamps, rec_values, grid)[0]
    a, b = a - a.mean(0), b - b.mean(0)
    varying = (a.std(0) > 0) & (b.std(0) > 0)
    if not varying.any() or grid.size < 3:
        return {"grid_s": grid_s}
    a, b = a[:, varying] / a[:, varying].std(0), b[:, varying] / b[:, varying].std(0)
    count = grid.size
    reach = min(int(max_lag_s / grid_s), count - 2)
    lags = np.arange(-reach, reach + 1)
    scores = [float(np.mean(a[max(0, -k):count - max(0, k)] * b[max(0, k):count - max(0, -k)]))
              for k in lags]
    return {"grid_s": grid_s, "lag_s": float(lags[int(np.argmax(scores))] * grid_s)}
