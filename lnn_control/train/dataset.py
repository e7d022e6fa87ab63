"""Featurized episodes as flat tensors, and the TBPTT batches drawn from them.

Episodes (:class:`~lnn_control.train.featurize.EpisodeSteps`) are concatenated step by step.
For an epoch they are shuffled and laid end to end into ``lanes`` lanes (each episode goes to
the shortest lane so far); each lane is cut into chunks of ``chunk_steps`` steps, and chunk ``c``
of every lane forms batch ``c``. The state is carried from chunk to chunk (detached: truncated
backpropagation through time), and zeroed where an episode starts (its ``reset`` flag), so an
episode is seen from its first step with the state the runtime would have. Lanes shorter than
the longest are padded at their end with masked steps.

Camera frames are kept once per distinct frame (``(F, H, W, C)`` uint8) with an index per step,
so a batch encodes each frame it holds once (:mod:`lnn_control.train.sequence`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from lnn_control.policy.config import PolicyConfig
from lnn_control.train.featurize import EpisodeSteps

__all__ = ["Batch", "StepDataset", "lane_layout"]


@dataclass
class Batch:
    """One TBPTT chunk of every lane (``B`` lanes, ``L`` steps).

    :param vectors: per vector stream ``(B, L, size)`` float32 held values.
    :param frames: per image stream, the distinct frames of the batch ``(U, H, W, C)`` uint8.
    :param frame_index: per image stream ``(B, L)`` index into ``frames``.
    :param ages: ``(B, L, aged)``; :param dt: ``(B, L)`` s; :param reset: ``(B, L)`` bool.
    :param labels: ``(B, L, A)`` expert commands, physical units.
    :param mask: ``(B, L)`` float32, 0 on padding.
    :param auxiliary: ``(B, L, M)`` auxiliary labels (NaN: none) if the policy has an auxiliary head.
    """

    vectors: dict[str, Tensor]
    frames: dict[str, Tensor]
    frame_index: dict[str, Tensor]
    ages: Tensor
    dt: Tensor
    reset: Tensor
    labels: Tensor
    mask: Tensor
    auxiliary: Optional[Tensor] = None


def lane_layout(lengths: Sequence[int], order: Sequence[int], lanes: int) -> list[list[int]]:
    """Episodes (indices into ``lengths``, taken in ``order``) laid into ``lanes`` lanes, each
    episode appended to the currently shortest lane (ties: the lowest lane)."""
    layout: list[list[int]] = [[] for _ in range(max(1, min(lanes, len(order))))]
    filled = [0] * len(layout)
    for episode in order:
        lane = int(np.argmin(filled))
        layout[lane].append(int(episode))
        filled[lane] += int(lengths[episode])
    return layout


class StepDataset:
    """Featurized episodes concatenated (see the module docstring).

    :param config: the policy's config (which streams are vectors, which images).
    :param episodes: initial episodes.
    """

    def __init__(self, config: PolicyConfig, episodes: Sequence[EpisodeSteps] = ()) -> None:
        self.vector_names = [s.name for s in config.streams if s.kind != "image"]
        self.image_names = [s.name for s in config.streams if s.kind == "image"]
        self.aged = len(config.aged_streams)
        self.actions = len(config.actions.names)
        self._shapes = {s.name: s.value_shape for s in config.streams}
        self.starts: list[int] = []
        self.lengths: list[int] = []
        self.metadata: list[dict] = []
        self.steps = 0
        self.vectors = {n: torch.zeros((0,) + self._shapes[n]) for n in self.vector_names}
        self.frames = {n: torch.zeros((0,) + self._shapes[n], dtype=torch.uint8) for n in self.image_names}
        self.frame_index = {n: torch.zeros(0, dtype=torch.long) for n in self.image_names}
        self.ages = torch.zeros(0, self.aged)
        self.dt = torch.zeros(0)
        self.reset = torch.zeros(0, dtype=torch.bool)
        self.labels = torch.zeros(0, self.actions)
        outputs = sum(s.auxiliary for s in config.streams)
        self.auxiliary = torch.zeros(0, outputs) if outputs else None
        self.extend(episodes)

    def __len__(self) -> int:
        """Number of episodes."""
        return len(self.lengths)

    def extend(self, episodes: Sequence[EpisodeSteps]) -> None:
        """Append episodes (DAgger's aggregation)."""
        episodes = [e for e in episodes if len(e) > 0]
        if not episodes:
            return
        for episode in episodes:
            self.starts.append(self.steps)
            self.lengths.append(len(episode))
            self.metadata.append(episode.metadata)
            self.steps += len(episode)

        def cat(old: Tensor, parts: list[np.ndarray]) -> Tensor:
            return torch.cat([old] + [torch.from_numpy(np.ascontiguousarray(p)) for p in parts])

        for name in self.vector_names:
            self.vectors[name] = cat(self.vectors[name], [e.vectors[name] for e in episodes])
        for name in self.image_names:
            offsets = np.cumsum([0] + [len(e.frames[name]) for e in episodes[:-1]]) + len(self.frames[name])
            self.frame_index[name] = cat(
                self.frame_index[name],
                [e.frame_index[name].astype(np.int64) + o for e, o in zip(episodes, offsets)],
            )
            self.frames[name] = cat(self.frames[name], [e.frames[name] for e in episodes])
        self.ages = cat(self.ages, [e.ages for e in episodes])
        self.dt = cat(self.dt, [e.dt for e in episodes])
        self.reset = cat(self.reset, [e.reset for e in episodes])
        self.labels = cat(self.labels, [e.labels for e in episodes])
        if self.auxiliary is not None:
            if any(e.auxiliary is None for e in episodes):
                raise ValueError("the policy has an auxiliary head: featurize episodes with its labels")
            self.auxiliary = cat(self.auxiliary, [e.auxiliary for e in episodes])

    def values(self, name: str) -> Tensor:
        """A vector stream's held values at all steps, ``(steps, size)``."""
        return self.vectors[name].reshape(self.steps, -1)

    def lanes(self, order: Sequence[int], lanes: int) -> Tensor:
        """``(B, Lmax)`` long step indices of the episodes in ``order`` laid into lanes (-1: pad)."""
        layout = lane_layout(self.lengths, order, lanes)
        rows = [
            np.concatenate([np.arange(self.starts[e], self.starts[e] + self.lengths[e]) for e in lane])
            if lane else np.zeros(0, dtype=np.int64)
            for lane in layout
        ]
        width = max(len(r) for r in rows)
        index = np.full((len(rows), width), -1, dtype=np.int64)
        for i, row in enumerate(rows):
            index[i, : len(row)] = row
        return torch.from_numpy(index)

    def batch(self, index: Tensor) -> Batch:
        """The batch of the step indices ``index`` ``(B, L)`` (-1: padding)."""
        mask = index >= 0
        safe = index.clamp(min=0)
        frames, frame_index = {}, {}
        for name in self.image_names:
            used, inverse = torch.unique(self.frame_index[name][safe], return_inverse=True)
            frames[name] = self.frames[name][used]
            frame_index[name] = inverse
        return Batch(
            vectors={name: self.vectors[name][safe] for name in self.vector_names},
            frames=frames,
            frame_index=frame_index,
            ages=self.ages[safe],
            dt=self.dt[safe],
            reset=self.reset[safe] & mask,
            labels=self.labels[safe],
            mask=mask.float(),
            auxiliary=None if self.auxiliary is None else self.auxiliary[safe],
        )
