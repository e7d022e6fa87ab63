"""The training forward pass: :meth:`LiquidPolicy.forward_sequence` with each camera frame
encoded once.

A 64x64 frame arrives at 30 Hz but is held over the ~7 IMU steps (200 Hz) until the next one;
``forward_sequence`` takes the held value at every step, so it would run the CNN on each frame ~7
times. Here a batch carries its distinct frames and an index per step: the CNN encodes each frame
once and its features are gathered to the steps (backpropagation sums the gradients of the steps
that share a frame). Everything after the encoders is ``forward_sequence``'s computation; the
tests check that both give the same commands and states. A policy's auxiliary heads
(:attr:`LiquidPolicy.auxiliary`) read the same frame features.
"""

from __future__ import annotations

from typing import Optional

from torch import Tensor

from lnn_control.liquid.base import sequence_dt
from lnn_control.policy.model import LiquidPolicy
from lnn_control.train.dataset import Batch

__all__ = ["run_batch"]


def run_batch(
    policy: LiquidPolicy, batch: Batch, h0: Optional[Tensor] = None
) -> tuple[Tensor, Tensor, Optional[Tensor]]:
    """Commands ``(B, L, A)`` (physical units), core states ``(B, L, S)`` and the auxiliary heads'
    outputs ``(B, L, M)`` (streams in order; None without a head) on ``batch``.

    :param h0: the state before the first step ``(B, S)``; zeros if ``None``.
    """
    import torch

    features, auxiliary = [], []
    for spec in policy.config.streams:
        name = spec.name
        if spec.kind == "image":
            encoded = policy.encode(name, batch.frames[name])
            features.append(encoded[batch.frame_index[name]])
            if name in policy.auxiliary:
                auxiliary.append(policy.auxiliary[name](encoded)[batch.frame_index[name]])
        else:
            features.append(policy.encode(name, policy.encoder_input(name, batch.vectors)))
    x = torch.cat(features + [batch.ages], -1)
    keep = (~batch.reset).to(x.dtype).unsqueeze(-1)
    state = x.new_zeros(x.shape[0], policy.state_size) if h0 is None else h0
    core = policy.core
    prep = core.prepare()
    states = core.scan(core.input_terms(x, prep), state, sequence_dt(batch.dt, x).detach(), keep, prep)
    commands = policy.actions(core.output(states, prep), policy.relative_base(batch.vectors))
    return commands, states, torch.cat(auxiliary, -1) if auxiliary else None
