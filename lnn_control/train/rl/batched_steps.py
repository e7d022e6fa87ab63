"""Many envs' sensor messages -> the network steps of each control period, all envs at once.

:class:`BatchedStepBlocks` gives, for every env of a batched env (``QuadHoverVectorEnv`` with
``messages=True``), the ``(max_substeps, width)`` float32 block that
:class:`~lnn_control.train.rl.observation.NetworkStepsEnv` builds for one env from the same messages through
the policy's :class:`~lnn_control.policy.aligner.EventAligner` (via
:class:`~lnn_control.train.featurize.StepRecorder`): bit for bit, so a policy trained on these
blocks sees what the runtime feeds it on a robot. Each period it

1. merges each env's messages into the single env's delivery order: by stamp, ties in the env's
   stream order (a stable sort of the streams' messages concatenated in that order; the order of
   ``infos["messages"]["streams"]``), skipping the streams the policy does not read and the
   messages the aligner rejects (a value with NaN or Inf after the cast to float32);
2. walks the merged slots (a period holds a few messages), applying the aligner's rules to all
   envs with a message of a stream in that slot at once, with numpy: the duplicate, clock-jump
   (``max_backward_s``) and late drops, the held values, readiness (every stream has reported
   since the reset), the step over the time since the last step (``nominal_dt_s`` for the first
   after a reset, equal sub-steps no longer than ``max_step_s``, a state reset beyond
   ``reset_gap_s``) and the ages of the aged streams at every (sub-)step;
3. in timer mode, ticks at the period's control instant (``infos["messages"]["now_ns"]``).

Autoreset is ``SAME_STEP``: an env whose episode ended gets its last period's block (from
``infos["final_info"]["messages"]``) in :attr:`PeriodBlocks.final`, then a fresh aligner state
and its reset messages' block (``NetworkStepsEnv.reset``'s) in :attr:`PeriodBlocks.blocks`.

Stamps are integer nanoseconds since the episode's reset; comparisons that the aligner makes
between an integer stamp and a float (``last - max_backward_s``) are exact here for stamps below
2^53 ns (104 days).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from lnn_control.errors import ConfigError, LnnControlError
from lnn_control.policy.config import PolicyConfig
from lnn_control.train.rl.observation import StepLayout
from lnn_control.units import NS

__all__ = ["BatchedStepBlocks", "PeriodBlocks"]

#: the sort key of a padding slot (after every real stamp)
_PADDING = np.iinfo(np.int64).max


class PeriodBlocks(NamedTuple):
    """The blocks of one batched step (``N`` envs, ``K = max_substeps`` rows, ``W`` columns).

    :param blocks: ``(N, K, W)`` float32: each env's observation, the block of its period (for an
        env whose episode ended, its new episode's reset block).
    :param final: ``(N, K, W)`` float32: each env's block before any autoreset (for an ended env,
        its episode's last period; for the others, equal to ``blocks``).
    :param ended: ``(N,)`` bool: the envs whose episode ended in this step.
    """

    blocks: np.ndarray
    final: np.ndarray
    ended: np.ndarray


class BatchedStepBlocks:
    """The :class:`~lnn_control.train.rl.observation.NetworkStepsEnv` blocks of ``num_envs`` envs:
    one aligner state per env, its rules applied with numpy over the envs (module docstring).

    Call :meth:`reset` with the infos of the vector env's ``reset`` and :meth:`step` with those of
    every ``step``; the env must be made with ``messages=True``.

    :param config: the policy's config (vector streams, absolute actions: :class:`StepLayout`).
    :param max_substeps: rows ``K`` of a block; a period with more network steps is an error.
    :param num_envs: envs ``N`` of the batch.
    """

    def __init__(self, config: PolicyConfig, max_substeps: int, num_envs: int) -> None:
        self.config = config
        self.layout = StepLayout(config)
        self.max_substeps = int(max_substeps)
        self.num_envs = int(num_envs)
        if self.max_substeps < 1 or self.num_envs < 1:
            raise ConfigError(f"max_substeps and num_envs must be >= 1, got {max_substeps} and {num_envs}")
        control = config.control
        self.control = control
        self._names = [spec.name for spec in config.streams]
        self._index = {name: i for i, name in enumerate(self._names)}
        self._sizes = [spec.value_shape[0] for spec in config.streams]
        self._columns = [self.layout.streams[name] for name in self._names]
        self._stepping = self._index[control.stream] if control.mode == "stream" else None
        self._aged = np.array([self._index[name] for name in config.aged_streams], dtype=np.intp)
        self._max_backward_ns = control.max_backward_s / NS
        self._age_scale = 1.0 / control.max_age_s
        self._all = np.arange(self.num_envs)
        n, streams = self.num_envs, len(self._names)
        #: each env's held value of every stream ``(N, V)`` float32, laid out as a block's first
        #: ``V`` columns
        self.held = np.zeros((n, self.layout.ages.start), np.float32)
        #: each stream's last applied stamp ``(N, S)`` ns, and whether it has one since the reset
        self.stamps = np.zeros((n, streams), np.int64)
        self.has_stamp = np.zeros((n, streams), bool)
        #: the last step's stamp ``(N,)`` ns, and whether there is one since the reset
        self.last_step = np.zeros(n, np.int64)
        self.has_last = np.zeros(n, bool)
        #: the next step starts from zero state (``StepRecorder.fresh``)
        self.fresh = np.ones(n, bool)
        #: each env's control period since its episode's reset
        self.instant = np.zeros(n, np.int64)

    # -- the API ----------------------------------------------------------------------------------
    def reset(self, infos: Mapping[str, Any]) -> np.ndarray:
        """New episodes in every env: the blocks ``(N, K, W)`` float32 of the reset's messages
        (``infos["messages"]`` of the vector env's ``reset``), as ``NetworkStepsEnv.reset``."""
        self._restart(self._all)
        return self._period(self._all, _messages(infos))

    def step(self, infos: Mapping[str, Any]) -> PeriodBlocks:
        """One control period of every env (the infos of the vector env's ``step``): each env's
        block as ``NetworkStepsEnv.step`` gives it; an env that ended also restarts, its block
        being its reset block (:class:`PeriodBlocks`)."""
        messages = _messages(infos)
        ended = np.asarray(infos.get("_final_info", np.zeros(self.num_envs, bool)), dtype=bool)
        self.instant += 1
        period = messages
        if ended.any():  # the ended envs' last period is in final_info, their reset in messages
            period = _with_rows(messages, infos["final_info"]["messages"], ended)
        final = self._period(self._all, period)
        blocks = final.copy()
        if ended.any():
            ids = np.flatnonzero(ended)
            self._restart(ids)
            blocks[ids] = self._period(ids, _rows(messages, ids))
        return PeriodBlocks(blocks, final, ended)

    # -- one period -------------------------------------------------------------------------------
    def _restart(self, ids: np.ndarray) -> None:
        """A new aligner and recorder for envs ``ids`` (a new episode)."""
        self.held[ids] = 0.0
        self.has_stamp[ids] = False
        self.has_last[ids] = False
        self.fresh[ids] = True
        self.instant[ids] = 0

    def _clear(self, ids: np.ndarray) -> None:
        """A clock jump in envs ``ids``: the aligner forgets every stamp and its last step; the
        next step starts from zero state (``EventAligner.reset`` and the recorder's ``cleared``)."""
        self.has_stamp[ids] = False
        self.has_last[ids] = False
        self.fresh[ids] = True

    def _period(self, ids: np.ndarray, messages: Mapping[str, Any]) -> np.ndarray:
        """Apply one period's ``messages`` (rows: the envs ``ids``) and return their blocks
        ``(len(ids), K, W)`` float32."""
        layout = self.layout
        block = np.zeros((len(ids), self.max_substeps, layout.width), np.float32)
        rows = np.zeros(len(ids), np.int64)  # rows of each env's block filled so far
        stream_at, position_at, stamp_at, values = self._merge(messages, len(ids))
        for slot in range(stamp_at.shape[1]):
            column = stream_at[:, slot]
            for index, value in values.items():
                local = np.flatnonzero(column == index)
                if local.size:
                    at = position_at[local, slot]
                    self._event(index, ids[local], local, stamp_at[local, slot], value[local, at], block, rows)
        if self.control.mode == "timer":
            self._tick(ids, np.asarray(messages["now_ns"], dtype=np.int64), block, rows)
        block[:, :, layout.safe] = self.fresh[ids][:, None]
        return block

    def _merge(
        self, messages: Mapping[str, Any], n: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[int, np.ndarray]]:
        """Each env's messages in delivery order (module docstring).

        :return: per env and slot ``(n, T)``: the policy's index of the slot's stream (-1 past
            the env's last message), the message's position in its stream's arrays, its stamp
            ns; and each read stream's values as float32 ``(n, M, size)``.
        """
        streams = messages["streams"]
        missing = [name for name in self._names if name not in streams]
        if missing:
            raise ConfigError(f"the policy reads the streams {missing}, which the env's messages do not hold "
                              f"(it delivers {list(streams)}): make the env with those streams")
        keys, stream_of, position_of = [], [], []
        values: dict[int, np.ndarray] = {}
        for name, stream in streams.items():
            index = self._index.get(name)
            if index is None:  # the runtime would reject it: skipped, as StepRecorder does
                continue
            # through float64 to float32, beyond float32's range inf: the aligner's cast (array("f"))
            with np.errstate(over="ignore"):
                value = np.asarray(stream["values"], dtype=np.float64).astype(np.float32)
            if value.ndim != 3 or value.shape[0] != n or value.shape[2] != self._sizes[index]:
                raise ConfigError(f"stream {name!r}: messages of shape {value.shape}, expected "
                                  f"({n}, M, {self._sizes[index]}) for this policy")
            stamps = np.asarray(stream["stamp_ns"], dtype=np.int64)
            most = value.shape[1]
            # a value the aligner rejects (NaN or Inf) changes nothing: it leaves the merge
            kept = (np.arange(most) < np.asarray(stream["count"])[:, None]) & np.isfinite(value).all(axis=2)
            if np.any(stamps[kept] == _PADDING):
                raise ConfigError(f"stream {name!r}: stamp {_PADDING} ns is reserved; stamps are ns since the reset")
            keys.append(np.where(kept, stamps, _PADDING))
            stream_of.append(np.full(most, index))
            position_of.append(np.arange(most))
            values[index] = value
        key = np.concatenate(keys, axis=1)
        order = np.argsort(key, axis=1, kind="stable")
        total = np.count_nonzero(key != _PADDING, axis=1)
        width = int(total.max(initial=0))
        order = order[:, :width]
        stream_at = np.concatenate(stream_of)[order]
        stream_at[np.arange(width) >= total[:, None]] = -1
        return stream_at, np.concatenate(position_of)[order], np.take_along_axis(key, order, axis=1), values

    def _event(
        self, index: int, envs: np.ndarray, local: np.ndarray, stamp: np.ndarray, value: np.ndarray,
        block: np.ndarray, rows: np.ndarray,
    ) -> None:
        """``EventAligner.on_event`` of one message of stream ``index`` in each env of ``envs``
        (rows ``local`` of ``block``): stamps ``(m,)`` ns, values ``(m, size)`` float32."""
        has, last = self.has_stamp[envs, index], self.stamps[envs, index]
        duplicate = has & (stamp == last)
        jump = has & (stamp < last - self._max_backward_ns)
        late = has & (stamp < last)
        if index == self._stepping:
            late |= self.has_last[envs] & (stamp <= self.last_step[envs])
        if jump.any():
            self._clear(envs[jump])
        applied = ~duplicate & (jump | ~late)
        if not applied.all():
            envs, local, stamp, value = envs[applied], local[applied], stamp[applied], value[applied]
        self.held[envs, self._columns[index]] = value
        self.stamps[envs, index] = stamp
        self.has_stamp[envs, index] = True
        if index == self._stepping:
            ready = self.has_stamp[envs].all(axis=1)
            if ready.any():
                self._advance(envs[ready], local[ready], stamp[ready], block, rows)

    def _tick(self, ids: np.ndarray, now: np.ndarray, block: np.ndarray, rows: np.ndarray) -> None:
        """``EventAligner.tick`` at each env's control instant ``now`` ``(len(ids),)`` ns (timer mode)."""
        ready = self.has_stamp[ids].all(axis=1)
        had, last = ready & self.has_last[ids], self.last_step[ids]
        jump = had & (now < last - self._max_backward_ns)
        if jump.any():
            self._clear(ids[jump])
        go = np.flatnonzero(ready & ~jump & ~(had & (now <= last)))
        if go.size:
            self._advance(ids[go], go, now[go], block, rows)

    def _advance(
        self, envs: np.ndarray, local: np.ndarray, stamp: np.ndarray, block: np.ndarray, rows: np.ndarray
    ) -> None:
        """``EventAligner._advance`` to ``stamp`` ``(m,)`` ns in each env of ``envs``, writing its
        (sub-)steps into rows of ``block`` (its rows ``local``), as ``StepRecorder.add`` records them."""
        control, layout = self.control, self.layout
        had = self.has_last[envs]
        elapsed = (stamp - self.last_step[envs]) * NS
        gap = had & (elapsed > control.reset_gap_s)
        normal = had & ~gap
        steps = np.ones(len(envs), np.int64)
        dt = np.full(len(envs), control.nominal_dt_s)
        if normal.any():
            spans = elapsed[normal]
            counts = np.maximum(1, np.ceil(spans / control.max_step_s - 1e-9)).astype(np.int64)
            steps[normal] = counts
            dt[normal] = spans / counts
        self.last_step[envs] = stamp
        self.has_last[envs] = True
        first = rows[local]
        over = np.flatnonzero(first + steps > self.max_substeps)
        if over.size:
            env = int(envs[over[0]])
            raise LnnControlError(
                f"control period {int(self.instant[env])} of env {env} took at least "
                f"{int(first[over[0]] + steps[over[0]])} network steps but observations hold "
                f"max_substeps={self.max_substeps}: raise max_substeps in the RL config"
            )
        for sub in range(int(steps.max())):
            take = steps > sub
            env, row = envs[take], local[take]
            k = (steps[take] - sub).astype(np.float64)  # the aligner's k, counting down to 1
            at = stamp[take] - np.rint((k - 1.0) * dt[take] / NS).astype(np.int64)
            index = first[take] + sub
            block[row, index, : layout.ages.start] = self.held[env]
            if self._aged.size:
                age = (at[:, None] - self.stamps[env][:, self._aged]) * NS
                block[row, index, layout.ages] = np.minimum(np.maximum(age, 0.0) * self._age_scale, 1.0)
            block[row, index, layout.dt] = dt[take]
            block[row, index, layout.reset] = (gap[take] & (sub == 0)) | self.fresh[env]
            block[row, index, layout.valid] = 1.0
            self.fresh[env] = False
        rows[local] = first + steps


def _messages(infos: Mapping[str, Any]) -> Mapping[str, Any]:
    """``infos["messages"]``, or an error saying how to get them."""
    if "messages" not in infos:
        raise ConfigError("the vector env's infos hold no 'messages': make it with messages=True "
                          "(QuadHoverVectorEnv(..., messages=True))")
    return infos["messages"]


def _rows(messages: Mapping[str, Any], ids: np.ndarray) -> dict[str, Any]:
    """The envs ``ids``' rows of ``messages`` (``infos["messages"]``)."""
    return {
        "now_ns": np.asarray(messages["now_ns"])[ids],
        "streams": {name: {key: np.asarray(array)[ids] for key, array in stream.items()}
                    for name, stream in messages["streams"].items()},
    }


def _with_rows(messages: Mapping[str, Any], other: Mapping[str, Any], ids: np.ndarray) -> dict[str, Any]:
    """``messages`` with the rows ``ids`` (an ``(N,)`` mask) taken from ``other`` (copies)."""

    def merged(mine: Any, theirs: Any) -> np.ndarray:
        array = np.array(mine)
        array[ids] = np.asarray(theirs)[ids]
        return array

    return {
        "now_ns": merged(messages["now_ns"], other["now_ns"]),
        "streams": {name: {key: merged(array, other["streams"][name][key]) for key, array in stream.items()}
                    for name, stream in messages["streams"].items()},
    }
