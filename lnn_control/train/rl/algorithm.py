"""The algorithm: sb3-contrib's RecurrentPPO, with a critic warm-up for fine-tuning.

**Fine-tuning** (``init``: a checkpoint) starts the actor at exactly the checkpoint's weights,
with a small step size, a small initial standard deviation and ``critic_warmup_iterations`` PPO
iterations in which only the critic learns (the usual guard against PPO wrecking a good policy
with a random critic's advantages).
"""

from __future__ import annotations

from typing import Any

from sb3_contrib import RecurrentPPO

__all__ = ["LiquidPPO"]


class LiquidPPO(RecurrentPPO):
    """RecurrentPPO with a critic warm-up (the first ``critic_warmup_iterations`` updates leave
    the actor frozen) and per-group step sizes (actor, critic) set by the policy: constant, or
    with ``anneal`` falling linearly to zero over the run (CleanRL's ``anneal_lr``: large steps
    while the policy is far from good, fine ones at the end, where holding a goal to a few
    centimetres is decided).

    :param critic_warmup_iterations: updates during which only the critic learns.
    :param anneal: scale every step size by the fraction of the run still to go.
    """

    def __init__(self, *args: Any, critic_warmup_iterations: int = 0, anneal: bool = False, **kwargs: Any) -> None:
        self.critic_warmup_iterations = int(critic_warmup_iterations)
        self.anneal = bool(anneal)
        self.iterations = 0
        super().__init__(*args, **kwargs)
        #: each param group's step size as configured
        self.base_learning_rates = [group["lr"] for group in self.policy.optimizer.param_groups]

    def train(self) -> None:
        frozen = self.iterations < self.critic_warmup_iterations
        self.iterations += 1
        parameters = self.policy.actor_parameters()
        for parameter in parameters:
            parameter.requires_grad_(not frozen)
        try:
            super().train()
        finally:
            for parameter in parameters:
                parameter.requires_grad_(True)
        self.logger.record("train/actor_frozen", float(frozen))

    def _update_learning_rate(self, optimizers: Any) -> None:
        scale = self._current_progress_remaining if self.anneal else 1.0
        for name, group, base in zip(("actor", "critic"), self.policy.optimizer.param_groups,
                                     self.base_learning_rates):
            group["lr"] = base * scale
            self.logger.record(f"train/learning_rate_{name}", group["lr"])
