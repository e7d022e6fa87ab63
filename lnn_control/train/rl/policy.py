"""The actor-critic: sb3-contrib's recurrent policy with the liquid policy as its recurrent module.

:class:`LiquidActorCriticPolicy` is a
:class:`~sb3_contrib.common.recurrent.policies.RecurrentActorCriticPolicy` whose recurrent module
is a :class:`~lnn_control.policy.model.LiquidPolicy` (CfC, LTC or a baseline core): over a
sequence of periods it runs the core over the valid steps only, with their real ``dt``, zeroing
the state where a step's reset flag is set (the first step of every episode, a gap reset, a clock
jump: exactly where the runtime zeroes it). The state carried between periods and stored by
RecurrentPPO's rollout buffer is the core's state, in the buffer's LSTM hidden-state slot
``(1, n, S)`` (the cell-state slot stays zero; the critic reads the same state). The action is
Gaussian: its mean is the policy's command after the period's last step in the env's ``[-1, 1]``
units (its deterministic action is the runtime's command), its log standard deviation a learned
vector, or, with ``use_sde``, sb3's state-dependent noise on the core state (exploration that is
smooth over many control steps). Image streams arrive as their frozen encoder's features
(:mod:`~lnn_control.train.rl.observation`), so the actor's image encoders never move. The critic
is an MLP on the core state and the last step's encoded inputs, both detached, so only the PPO objective moves the actor, and, with a
privileged critic, the env's privileged state (ground truth, goal, the hidden physics: an
asymmetric actor-critic, as in "Learning to Fly in Seconds"); the actor never sees it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import torch
from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy
from sb3_contrib.common.recurrent.type_aliases import RNNStates
from stable_baselines3.common.policies import ActorCriticPolicy
from torch import Tensor, nn

from lnn_control.policy.config import PolicyConfig
from lnn_control.policy.model import LiquidPolicy
from lnn_control.train.rl.observation import StepLayout

if TYPE_CHECKING:
    from stable_baselines3.common.distributions import Distribution

__all__ = ["LiquidActorCriticPolicy", "RecurrentStateShape"]


@dataclass(frozen=True)
class RecurrentStateShape:
    """What RecurrentPPO reads off ``policy.lstm_actor`` to size its state buffers."""

    num_layers: int
    hidden_size: int


class LiquidActorCriticPolicy(RecurrentActorCriticPolicy):
    """RecurrentPPO's policy with a :class:`LiquidPolicy` as its recurrent module (module docstring).

    Observations are :class:`NetworkStepsEnv` blocks ``(K, width)``; in a batch of ``N``
    sequences of ``L`` periods they come sequence-major ``(N * L, K, width)`` with the states
    ``(1, N, S)`` before each sequence, as RecurrentPPO passes them. ``episode_starts`` is not
    needed: the first step of an episode carries the reset flag, which zeroes the state.

    :param observation_space: the blocks' space.
    :param action_space: the env's ``Box(-1, 1, (A,))``.
    :param lr_schedule: sb3's schedule: its initial value is the critic's step size.
    :param policy_config: the liquid policy's config (its action limits are the env's).
    :param actor_learning_rate: the actor's (liquid policy and log std) step size.
    :param log_std_init: initial log standard deviation, in [-1, 1] action units.
    :param critic_units: hidden widths of the critic MLP.
    :param use_sde: gSDE exploration with the core state as its latent (sb3's
        ``StateDependentNoiseDistribution``: noise ``state @ W``, ``W`` resampled by
        :meth:`reset_noise`); otherwise a diagonal Gaussian with a learned log std vector.
    :param privileged: columns of privileged state the observations carry (``StepLayout``'s
        ``privileged``); the critic reads them, the actor never does (an asymmetric actor-critic).
    """

    def __init__(
        self,
        observation_space: gym.spaces.Space,
        action_space: gym.spaces.Space,
        lr_schedule: Any,
        policy_config: PolicyConfig,
        actor_learning_rate: float,
        log_std_init: float = -2.0,
        critic_units: tuple[int, ...] = (64, 64),
        use_sde: bool = False,
        privileged: int = 0,
    ) -> None:
        self.policy_config = policy_config
        self.privileged = int(privileged)
        self.actor_learning_rate = float(actor_learning_rate)
        self.critic_units = tuple(critic_units)
        # RecurrentActorCriticPolicy.__init__ would build LSTMs: our _build makes the modules instead
        ActorCriticPolicy.__init__(self, observation_space, action_space, lr_schedule, net_arch=[],
                                   ortho_init=False, use_sde=use_sde, log_std_init=log_std_init)

    def _build(self, lr_schedule: Any) -> None:
        self.actor = LiquidPolicy(self.policy_config)
        self.layout = StepLayout(self.policy_config, self.privileged)
        actions = len(self.policy_config.actions.names)
        if self.use_sde:  # one std per (state entry, action) of the noise matrix
            self.action_dist.latent_sde_dim = self.actor.state_size
            self.log_std = nn.Parameter(torch.full((self.actor.state_size, actions), float(self.log_std_init)))
            self.action_dist.sample_weights(self.log_std)
        else:
            self.log_std = nn.Parameter(torch.full((actions,), float(self.log_std_init)))
        safe = torch.tensor(self.policy_config.actions.safe_command, dtype=torch.float32)
        self.register_buffer("safe_action", (safe - self.actor.action_mid) / self.actor.action_half_range)
        layers: list[nn.Module] = []
        width = self.actor.state_size + self.actor.input_size + self.privileged
        for units in self.critic_units:
            layers += [nn.Linear(width, units), nn.Tanh()]
            width = units
        self.value_mlp = nn.Sequential(*layers, nn.Linear(width, 1))
        self.lstm_actor = RecurrentStateShape(1, self.actor.state_size)
        self.lstm_hidden_state_shape = (1, 1, self.actor.state_size)
        self.optimizer = self.optimizer_class(  # type: ignore[call-arg]
            [{"params": self.actor_parameters(), "lr": self.actor_learning_rate},
             {"params": list(self.value_mlp.parameters()), "lr": lr_schedule(1)}],
            **self.optimizer_kwargs,
        )

    def actor_parameters(self) -> list[nn.Parameter]:
        """The parameters PPO's policy loss moves: the liquid policy's (but its image encoders and
        their auxiliary heads, frozen: the observations carry their features) and the log std."""
        frozen = {id(p) for name in self.layout.images for p in self.actor.encoders[name].parameters()}
        frozen |= {id(p) for p in self.actor.auxiliary.parameters()}
        return [p for p in self.actor.parameters() if id(p) not in frozen] + [self.log_std]

    # -- the recurrence ---------------------------------------------------------------------------
    def unroll(self, obs: Tensor, h0: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Run the liquid policy over ``N`` sequences of ``L`` periods' network steps.

        The valid steps of each sequence are gathered into one sequence (padding rows dropped)
        and run by the core's ``scan`` with their ``dt`` (s) and reset flags; a period's outcome
        is the state after its last valid step (unchanged from the previous period if it had
        none), or, while the safe flag is set, a zero state and the safe command: the runtime's
        rules.

        :param obs: ``(N * L, K, width)`` blocks, sequence-major.
        :param h0: ``(N, S)`` core state before each sequence.
        :return: the mean action in [-1, 1] units ``(N * L, A)``, the core state after every
            period ``(N * L, S)`` and the encoded inputs of each period's last step ``(N * L, F)``.
        """
        layout, actor = self.layout, self.actor
        n = h0.shape[0]
        flat = obs.reshape(n, -1, obs.shape[-1])  # (N, L * K, width)
        periods = flat.shape[1] // obs.shape[-2]
        valid = flat[..., layout.valid] > 0.5
        width = max(int(valid.sum(1).max()), 1)
        order = torch.argsort((~valid).to(torch.uint8), dim=1, stable=True)[:, :width]  # valid first
        steps = flat.gather(1, order.unsqueeze(-1).expand(-1, -1, flat.shape[-1]))  # (N, M, width)
        held = {name: steps[..., columns] for name, columns in layout.streams.items()}
        features = [held[name] if name in layout.images else actor.encode(name, actor.encoder_input(name, held))
                    for name in layout.streams]
        x = torch.cat(features + [steps[..., layout.ages]], -1)
        keep = 1.0 - steps[..., layout.reset : layout.reset + 1]
        dt = steps[..., layout.dt : layout.dt + 1].detach()
        core = actor.core
        prep = core.prepare()
        states = core.scan(core.input_terms(x, prep), h0, dt, keep, prep)  # (N, M, S)
        taken = valid.reshape(n, periods, -1).sum(-1).cumsum(1).unsqueeze(-1)  # (N, L, 1) steps so far
        safe = flat.reshape(n, periods, -1, flat.shape[-1])[:, :, :1, layout.safe] > 0.5  # (N, L, 1)
        after = torch.cat([h0.unsqueeze(1), states], 1).gather(1, taken.expand(-1, -1, states.shape[-1]))
        after = after.masked_fill(safe, 0.0)
        last = torch.cat([x.new_zeros(n, 1, x.shape[-1]), x], 1).gather(1, taken.expand(-1, -1, x.shape[-1]))
        last = last.masked_fill(safe, 0.0)
        command = actor.actions(core.output(after, prep))
        mean = torch.where(safe, self.safe_action, (command - actor.action_mid) / actor.action_half_range)
        return mean.reshape(n * periods, -1), after.reshape(n * periods, -1), last.reshape(n * periods, -1)

    def _value(self, after: Tensor, last: Tensor, obs: Tensor) -> Tensor:
        """The critic on the core state after each period, its last step's encoded inputs (both
        detached) and the period's privileged state (``(N * L, ...)``)."""
        privileged = obs[:, 0, self.layout.privileged].float()
        return self.value_mlp(torch.cat([after.detach(), last.detach(), privileged], -1))

    def _distribution(self, mean: Tensor, after: Tensor) -> Distribution:
        if self.use_sde:
            return self.action_dist.proba_distribution(mean, self.log_std, after)
        return self.action_dist.proba_distribution(mean, self.log_std)

    @staticmethod
    def _final(after: Tensor, n: int) -> tuple[Tensor, Tensor]:
        """The state after each sequence's last period as RecurrentPPO's ``(h, c)``, ``(1, N, S)``."""
        h = after.reshape(n, -1, after.shape[-1])[:, -1].unsqueeze(0)
        return h, torch.zeros_like(h)

    # -- RecurrentActorCriticPolicy's interface ---------------------------------------------------
    def forward(
        self, obs: Tensor, lstm_states: RNNStates, episode_starts: Tensor, deterministic: bool = False
    ) -> tuple[Tensor, Tensor, Tensor, RNNStates]:
        h0 = lstm_states.pi[0][0]
        mean, after, last = self.unroll(obs.float(), h0)
        distribution = self._distribution(mean, after)
        actions = distribution.get_actions(deterministic=deterministic)
        state = self._final(after, h0.shape[0])
        return actions, self._value(after, last, obs), distribution.log_prob(actions), RNNStates(state, state)

    def get_distribution(
        self, obs: Tensor, lstm_states: tuple[Tensor, Tensor], episode_starts: Tensor
    ) -> tuple[Distribution, tuple[Tensor, ...]]:
        h0 = lstm_states[0][0]
        mean, after, _ = self.unroll(obs.float(), h0)
        return self._distribution(mean, after), self._final(after, h0.shape[0])

    def predict_values(self, obs: Tensor, lstm_states: tuple[Tensor, Tensor], episode_starts: Tensor) -> Tensor:
        _, after, last = self.unroll(obs.float(), lstm_states[0][0])
        return self._value(after, last, obs)

    def evaluate_actions(
        self, obs: Tensor, actions: Tensor, lstm_states: RNNStates, episode_starts: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        mean, after, last = self.unroll(obs.float(), lstm_states.pi[0][0])
        distribution = self._distribution(mean, after)
        return self._value(after, last, obs), distribution.log_prob(actions), distribution.entropy()
