"""Behaviour cloning of a whole policy (encoders, CNN included, + recurrent core) by truncated
backpropagation through time. One function, :func:`fit`, read top to bottom.

Per epoch the training episodes are shuffled (a generator seeded by ``(seed, phase, epoch)``, so
a resumed run draws the same order) and laid into lanes; each update takes the next chunk of
every lane, starts from the state the previous chunk ended in (detached), runs the policy with
every step's real ``dt`` and minimises the squared error to the expert's command, each action
measured in half-ranges of its limits (so thrust in newtons and rates in rad/s weigh alike),
averaged over the unpadded steps; a policy with an auxiliary head adds ``auxiliary_weight`` times
the squared error of its outputs to their labels, averaged over the labels that exist (not NaN).
With an ``augmentation`` section in the training config, the camera frames of each training batch
(never of a validation one) are shifted, colour-jittered and noised first
(:mod:`lnn_control.train.augment`).
Adam, gradients clipped to a global norm, the step size annealed by a cosine over the phase.
After each epoch the validation episodes are run whole; the phase stops after ``max_epochs`` epochs,
``max_updates`` updates or ``patience`` epochs without a better validation loss, and ends with
its best weights (those it started with included: a DAgger round never makes the policy worse on
its own validation data).

Everything :func:`fit` needs to continue after a kill lives in
:class:`~lnn_control.train.state.TrainingState`; ``on_update`` is where the caller logs and
writes checkpoints.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from lnn_control.policy.model import LiquidPolicy
from lnn_control.train.augment import augment_batch
from lnn_control.train.config import AugmentationConfig, BudgetConfig, OptimConfig
from lnn_control.train.dataset import Batch, StepDataset
from lnn_control.train.sequence import run_batch
from lnn_control.train.state import TrainingState

__all__ = ["auxiliary_loss", "command_loss", "fit", "set_input_statistics", "validation_loss"]


def set_input_statistics(policy: LiquidPolicy, data: StepDataset, min_std: float) -> None:
    """Standardise every vector stream's encoder input with its mean and standard deviation over
    ``data``'s steps (stored in the encoders' buffers, so checkpoints carry them)."""
    held = {name: data.values(name) for name in data.vector_names}
    for name in data.vector_names:
        policy.encoders[name].fit_statistics(policy.encoder_input(name, held), min_std)


def command_loss(policy: LiquidPolicy, commands: Tensor, batch: Batch, weights: Optional[Tensor]) -> Tensor:
    """Mean over unpadded steps of the squared command error, each action in units of
    ``policy.command_scale`` (the half-range of its limits, or its ``max_change`` for relative
    actions), weighted by ``weights`` ``(A,)`` (None: all 1) and averaged over actions."""
    error = (commands - batch.labels) / policy.command_scale
    squared = error.square() if weights is None else error.square() * weights
    per_step = squared.mean(-1)
    return (per_step * batch.mask).sum() / batch.mask.sum().clamp(min=1.0)


def auxiliary_loss(outputs: Tensor, batch: Batch) -> Tensor:
    """Mean squared error of the auxiliary heads' ``outputs`` ``(B, L, M)`` to ``batch.auxiliary``
    over the unpadded steps' labels that are not NaN."""
    assert batch.auxiliary is not None, "a policy with an auxiliary head has a dataset with its labels"
    known = torch.isfinite(batch.auxiliary) & (batch.mask > 0).unsqueeze(-1)
    error = torch.where(known, outputs - batch.auxiliary.nan_to_num(), torch.zeros_like(outputs))
    return error.square().sum() / known.sum().clamp(min=1)


@torch.no_grad()
def validation_loss(
    policy: LiquidPolicy, data: Optional[StepDataset], optim: OptimConfig, weights: Optional[Tensor]
) -> float:
    """The command loss over all of ``data`` (episodes whole, in chunks carrying the state); NaN if
    empty. The auxiliary loss is left out: early stopping judges the commands."""
    if data is None or len(data) == 0:
        return float("nan")
    policy.eval()
    index = data.lanes(range(len(data)), optim.lanes)
    total, count, carry = 0.0, 0.0, None
    for start in range(0, index.shape[1], optim.chunk_steps):
        batch = data.batch(index[:, start : start + optim.chunk_steps])
        commands, states, _ = run_batch(policy, batch, carry)
        steps = float(batch.mask.sum())
        total += float(command_loss(policy, commands, batch, weights)) * steps
        count += steps
        carry = states[:, -1]
    return total / max(count, 1.0)


def fit(
    policy: LiquidPolicy,
    optimizer: torch.optim.Optimizer,
    train: StepDataset,
    val: Optional[StepDataset],
    optim: OptimConfig,
    budget: BudgetConfig,
    state: TrainingState,
    seed: int,
    learning_rate: float,
    on_update: Callable[[float], None] = lambda loss: None,
    on_epoch: Callable[[float, bool], None] = lambda loss, best: None,
    augmentation: Optional[AugmentationConfig] = None,
) -> None:
    """Train ``policy`` on ``train`` until the phase in ``state`` ends (see the module docstring).

    Continues from ``state`` (a fresh phase or one restored from a checkpoint) and leaves it
    with ``phase_done`` set and the best weights loaded.

    :param learning_rate: the phase's step size, annealed by a cosine to
        ``optim.final_lr_fraction`` of it at ``budget.max_epochs`` (a function of the position in
        the phase, so a resumed run anneals alike).
    :param on_update: called after every update with its training loss (``state`` already
        counts it: a checkpoint written there resumes with the next chunk).
    :param on_epoch: called after every epoch's validation with its loss and whether it is the
        best so far.
    :param augmentation: how the camera frames of each training batch are augmented
        (:mod:`lnn_control.train.augment`, seeded by ``(seed, phase, epoch, chunk)``); None: every
        batch exactly as the dataset gives it. Validation never augments.
    """
    weights = None if optim.action_weights is None else torch.tensor(optim.action_weights)
    constrained = [m for m in policy.modules() if hasattr(m, "apply_weight_constraints")]
    limit = budget.max_updates or math.inf

    if state.best is None:  # the phase starts: the weights it starts with are the first candidate
        state.best_loss = validation_loss(policy, val, optim, weights)
        state.best = {k: v.detach().clone() for k, v in policy.state_dict().items()}

    while not state.phase_done:
        # -- one epoch: this epoch's lanes, then its chunks in order ------------------------------
        order = np.random.default_rng([seed, state.phase, state.epoch]).permutation(len(train))
        index = train.lanes(order, optim.lanes)
        chunks = math.ceil(index.shape[1] / optim.chunk_steps)
        policy.train()
        while state.chunk < chunks and state.phase_update < limit:
            done = min(1.0, (state.epoch + state.chunk / chunks) / budget.max_epochs)
            low = optim.final_lr_fraction
            for group in optimizer.param_groups:
                group["lr"] = learning_rate * (low + (1.0 - low) * 0.5 * (1.0 + math.cos(math.pi * done)))
            start = state.chunk * optim.chunk_steps
            batch = train.batch(index[:, start : start + optim.chunk_steps])
            if augmentation is not None:
                batch = augment_batch(batch, augmentation, (seed, state.phase, state.epoch, state.chunk))
            commands, states, auxiliary = run_batch(policy, batch, state.carry)
            loss = command_loss(policy, commands, batch, weights)
            if auxiliary is not None:
                loss = loss + optim.auxiliary_weight * auxiliary_loss(auxiliary, batch)

            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), optim.grad_clip)
            optimizer.step()
            for module in constrained:
                module.apply_weight_constraints()

            state.carry = states[:, -1].detach()  # truncated BPTT: the state goes on, its graph not
            state.chunk += 1
            state.update += 1
            state.phase_update += 1
            value = loss.detach().item()
            state.train_curve.append([state.update, value])
            on_update(value)

        # -- validation and early stopping ----------------------------------------------------------
        val_loss = validation_loss(policy, val, optim, weights)
        best_loss = state.best_loss
        improved = best_loss is None or not (val_loss >= best_loss) or math.isnan(best_loss)
        if improved:
            state.best_loss = val_loss
            state.best = {k: v.detach().clone() for k, v in policy.state_dict().items()}
            state.bad_epochs = 0
        else:
            state.bad_epochs += 1
        state.val_curve.append([state.update, state.phase, state.epoch, val_loss])
        state.epoch += 1
        state.chunk = 0
        state.carry = None
        on_epoch(val_loss, improved)
        stop = (
            state.epoch >= budget.max_epochs
            or state.phase_update >= limit
            or (budget.patience > 0 and state.bad_epochs >= budget.patience)
        )
        if stop:
            policy.load_state_dict(state.best)
            state.phase_done = True
