"""Reinforcement learning of a liquid policy: sb3-contrib's RecurrentPPO with the policy's own
recurrent core, from scratch or as fine-tuning of a behaviour-cloned policy.

**What the network sees.** The policy is trained as it is deployed. :class:`NetworkStepsEnv`
feeds every control period's ``info["sensor_events"]`` through the policy's
:class:`~lnn_control.policy.aligner.EventAligner` (via :class:`~lnn_control.train.featurize.StepRecorder`,
the rules the :class:`~lnn_control.policy.runtime.PolicyRuntime` applies on the robot) and returns
the network steps of that period as a padded block ``(K, D)``: per step the held raw value of
every stream, the ages, ``dt`` (s), the reset flag and a valid flag. QuadHover's 200 Hz IMU steps
the network about twice per 100 Hz control period.

**The recurrent module.** :class:`LiquidActorCriticPolicy` is a
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
smooth over many control steps). The critic is an MLP on the core state and the last step's encoded inputs, both detached,
so only the PPO objective moves the actor.

**Fine-tuning** (``init``: a checkpoint) starts the actor at exactly the checkpoint's weights,
with a small step size, a small initial standard deviation and ``critic_warmup_iterations`` PPO
iterations in which only the critic learns (the usual guard against PPO wrecking a good policy
with a random critic's advantages). **From scratch** (``model``) the encoders are standardised on
the initial policy's own flights (``statistics_steps``).

The run folder (``--out``)::

    run.yaml                 the resolved config
    initial_policy/          the actor before RL (a policy checkpoint)
    policy/                  the actor after RL (a plain policy checkpoint: evaluate, ROS, replay)
    tensorboard/             sb3's logs (episode reward, success, losses, std)
    learning_curve.json      every training episode: env steps, return, length, success
    evaluation.json          before and after, through the evaluation harness (same seeds)
    learning_curve.png, report.md
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import gymnasium as gym
import numpy as np
import torch
import yaml
from sb3_contrib import RecurrentPPO
from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy
from sb3_contrib.common.recurrent.type_aliases import RNNStates
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.policies import ActorCriticPolicy
from torch import Tensor, nn

from lnn_control.config import config_from_dict, config_to_dict, read_yaml
from lnn_control.errors import ConfigError, LnnControlError
from lnn_control.policy.aligner import EventAligner
from lnn_control.policy.checkpoint import load_checkpoint, read_checkpoint_config, save_checkpoint
from lnn_control.policy.config import PolicyConfig
from lnn_control.policy.model import LiquidPolicy
from lnn_control.train.config import EnvConfig, EvaluationConfig, _at_least
from lnn_control.train.featurize import StepRecorder
from lnn_control.train.rollouts import EnvSpec, check_actions, env_spec_for

if TYPE_CHECKING:
    from stable_baselines3.common.distributions import Distribution

__all__ = [
    "LiquidActorCriticPolicy",
    "NetworkStepsEnv",
    "PPOConfig",
    "RLConfig",
    "RLRun",
    "StepLayout",
    "load_rl_config",
]


# -- configuration --------------------------------------------------------------------------------
@dataclass
class PPOConfig:
    """PPO's settings (sb3-contrib's RecurrentPPO), with separate actor and critic step sizes."""

    #: control steps each env runs between updates (the rollout per env)
    n_steps: int = 512
    #: transitions per minibatch (RecurrentPPO cuts sequences at minibatch edges)
    batch_size: int = 256
    #: passes over each rollout
    n_epochs: int = 5
    #: discount per control step (0.99 at 100 Hz: a horizon of about 1 s)
    gamma: float = 0.99
    gae_lambda: float = 0.95
    #: PPO's ratio clip
    clip_range: float = 0.1
    ent_coef: float = 0.0
    vf_coef: float = 0.5
    #: gradients are clipped to this global norm
    max_grad_norm: float = 0.5
    #: an epoch stops early when the approximate KL divergence exceeds 1.5 x this (null: never)
    target_kl: Optional[float] = 0.02
    #: Adam's step size for the actor (the liquid policy and the log standard deviation)
    learning_rate: float = 3e-5
    #: Adam's step size for the critic
    critic_learning_rate: float = 1e-3
    #: initial log standard deviation of the Gaussian, in the env's [-1, 1] action units (with
    #: use_sde: of each entry of the noise matrix, so the action's std is exp(.) |core state|)
    log_std_init: float = -2.0
    #: generalised state-dependent exploration (gSDE, Raffin et al. 2022): the noise is the core
    #: state times a random matrix held for sde_sample_freq control steps, smooth in time,
    #: instead of white noise at every 10 ms step (whose effect the dynamics average away)
    use_sde: bool = False
    #: control steps between new noise matrices (-1: one per rollout)
    sde_sample_freq: int = -1
    #: hidden layer widths of the critic's MLP
    critic_units: list[int] = field(default_factory=lambda: [64, 64])
    #: the first PPO iterations train only the critic (the actor and its std are frozen)
    critic_warmup_iterations: int = 0
    #: divide rewards by a running estimate of the return's standard deviation (VecNormalize)
    normalize_reward: bool = True

    def __post_init__(self) -> None:
        for key in ("n_steps", "batch_size", "n_epochs"):
            _at_least(self, key, 1)
        _at_least(self, "sde_sample_freq", -1)
        _at_least(self, "critic_warmup_iterations", 0)
        for key in ("learning_rate", "critic_learning_rate", "clip_range", "max_grad_norm"):
            if not getattr(self, key) > 0:
                raise ConfigError(f"{key} must be > 0, got {getattr(self, key)}")
        for key in ("gamma", "gae_lambda"):
            if not 0.0 < getattr(self, key) <= 1.0:
                raise ConfigError(f"{key} must be in (0, 1], got {getattr(self, key)}")
        if self.target_kl is not None and not self.target_kl > 0:
            raise ConfigError(f"target_kl must be > 0 or null (no limit), got {self.target_kl}")
        if any(units < 1 for units in self.critic_units):
            raise ConfigError(f"critic_units must be positive widths, got {self.critic_units}")


@dataclass
class RLConfig:
    """An RL run (``config/rl/*.yaml``); set exactly one of ``init`` and ``model``.

    Seeds: the network (and PPO's sampling) from ``seed``; training env ``i`` is first reset with
    ``first_env_seed + i`` and draws its later episodes from that generator; evaluation uses
    ``evaluation.first_seed + j`` (0..99 by default, apart from the training seeds).
    """

    env: EnvConfig
    #: fine-tuning: the policy checkpoint folder to start from (relative to the working directory),
    #: e.g. a BC + DAgger run's ``policy/``
    init: Optional[str] = None
    #: from scratch: a model YAML path (relative to this file) or its contents inline
    model: Any = None
    #: initialises the network (scratch) and PPO's sampling
    seed: int = 0
    first_env_seed: int = 300_000
    #: envs stepped in lockstep in this process (sb3's DummyVecEnv: an env step costs far less
    #: than the policy's, so worker processes would only add overhead)
    envs: int = 2
    #: processes running the evaluation episodes (0 or 1: this process)
    workers: int = 2
    #: torch threads of the training process
    threads: int = 1
    #: control steps to train for, over all envs
    total_steps: int = 100_000
    #: network steps one observation holds (a control period that takes more is an error)
    max_substeps: int = 4
    #: scratch only: control steps the initial policy flies to standardise the inputs
    statistics_steps: int = 2000
    ppo: PPOConfig = field(default_factory=PPOConfig)
    #: before/after evaluation through the harness (``lnn-control evaluate``'s)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)

    def __post_init__(self) -> None:
        if (self.init is None) == (self.model is None):
            raise ConfigError(
                "set exactly one of init (a policy checkpoint folder to fine-tune, e.g. "
                "out/train/quad_hover/policy) and model (a model YAML to train from scratch)"
            )
        if self.model is not None and not isinstance(self.model, (str, dict)):
            raise ConfigError("model must be a model YAML path or a mapping (a model config inline)")
        for key, minimum in (("envs", 1), ("workers", 0), ("threads", 1), ("total_steps", 1),
                             ("max_substeps", 1), ("statistics_steps", 1), ("seed", 0), ("first_env_seed", 0)):
            _at_least(self, key, minimum)

    def policy_config(self, base: Optional[Path] = None) -> PolicyConfig:
        """The policy's config: the ``init`` checkpoint's, or ``model`` (read relative to ``base``)."""
        if self.init is not None:
            document, _ = read_checkpoint_config(self.init)
            return config_from_dict(PolicyConfig, document["config"], "config")
        data = self.model
        if isinstance(data, str):
            path = Path(data)
            if not path.is_absolute() and base is not None and (base / path).exists():
                path = base / path
            data = read_yaml(path)
        try:
            return config_from_dict(PolicyConfig, data)
        except ConfigError as error:
            raise ConfigError(f"model: {error}") from None

    def resolved(self, base: Optional[Path] = None) -> dict[str, Any]:
        """Plain data of this config, a scratch model inlined (what a run folder stores)."""
        data = config_to_dict(self)
        if self.model is not None:
            data["model"] = config_to_dict(self.policy_config(base))
        return data


def load_rl_config(path: str | os.PathLike[str]) -> tuple[RLConfig, Path]:
    """The config at ``path`` (checked: its ``init`` checkpoint or ``model`` is read now, so a bad
    one fails here, naming the key) and the folder a relative ``model`` path is read from."""
    file = Path(path)
    try:
        config = config_from_dict(RLConfig, read_yaml(file))
        try:
            config.policy_config(file.parent)
        except LnnControlError as error:
            key = "init" if config.init is not None else "model"
            hint = (" (train one with `lnn-control train --config config/train/quad_hover.yaml --out "
                    "out/train/quad_hover`, or point init at another policy folder)") if key == "init" else ""
            raise ConfigError(f"{key}: {error}{hint}") from None
    except ConfigError as error:
        raise ConfigError(f"{file}: {error}") from None
    return config, file.parent


# -- the observation: a control period's network steps -------------------------------------------
class StepLayout:
    """Columns of one network step in :class:`NetworkStepsEnv`'s observation ``(K, width)``:
    each vector stream's held raw value (the policy's streams' order, its units), the ages scaled
    to [0, 1], then ``dt`` (s), the reset flag, the valid flag (0 on padding rows) and, on every
    row, the period's safe flag: 1 when the network has not stepped since the episode started
    (or the state was cleared by a clock jump), so the runtime sends the configured safe command.

    :param config: the policy's config (vector-kind streams only).
    """

    def __init__(self, config: PolicyConfig) -> None:
        images = [s.name for s in config.streams if s.kind == "image"]
        if images:
            raise ConfigError(f"RL trains policies on vector streams only; this policy reads the image "
                              f"streams {images} (train it by behaviour cloning: lnn-control train)")
        if config.actions.relative_to is not None:
            raise ConfigError(f"RL trains absolute commands only; this policy's actions are changes from "
                              f"{config.actions.relative_to!r} (remove actions.relative_to and max_change)")
        self.streams: dict[str, slice] = {}
        start = 0
        for spec in config.streams:
            self.streams[spec.name] = slice(start, start + spec.value_shape[0])
            start += spec.value_shape[0]
        self.ages = slice(start, start + len(config.aged_streams))
        self.dt = self.ages.stop
        self.reset = self.dt + 1
        self.valid = self.dt + 2
        self.safe = self.dt + 3
        self.width = self.dt + 4


class NetworkStepsEnv(gym.Wrapper):
    """An env whose observation is the policy's network steps of the last control period.

    At reset and after every step, the period's ``info["sensor_events"]`` go through the
    policy's aligner (:class:`StepRecorder`, as in training data and on the robot; timer mode
    ticks at the control instant) and the steps they cause fill the first rows of a
    ``(max_substeps, width)`` float32 block (:class:`StepLayout`); other rows are zero. Rewards,
    termination and info pass through.

    :param env: a lnn_control env delivering the policy's streams.
    :param config: the policy's config.
    :param max_substeps: rows of the block.
    """

    def __init__(self, env: gym.Env, config: PolicyConfig, max_substeps: int) -> None:
        super().__init__(env)
        self.config = config
        self.layout = StepLayout(config)
        self.max_substeps = int(max_substeps)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (self.max_substeps, self.layout.width), np.float32)
        self._recorder = StepRecorder(config, EventAligner(config))
        self._instant = 0

    def reset(self, *, seed: Optional[int] = None, options: Optional[dict[str, Any]] = None) -> tuple[np.ndarray, dict[str, Any]]:
        _, info = self.env.reset(seed=seed, options=options)
        self._recorder = StepRecorder(self.config, EventAligner(self.config))
        self._instant = 0
        return self._block(info), info

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        _, reward, terminated, truncated, info = self.env.step(action)
        self._instant += 1
        return self._block(info), float(reward), terminated, truncated, info

    def _block(self, info: dict[str, Any]) -> np.ndarray:
        recorder, layout = self._recorder, self.layout
        start = len(recorder)
        recorder.feed(info["sensor_events"], self._instant, int(self.env.unwrapped.now_ns))
        count = len(recorder) - start
        if count > self.max_substeps:
            raise LnnControlError(
                f"control period {self._instant} took {count} network steps but observations hold "
                f"max_substeps={self.max_substeps}: raise max_substeps in the RL config"
            )
        block = np.zeros((self.max_substeps, layout.width), dtype=np.float32)
        block[:, layout.safe] = float(recorder.fresh)  # no step since the state was last cleared
        if not count:
            return block
        rows = recorder.rows
        for name, columns in layout.streams.items():
            block[:count, columns] = recorder.vectors[name][start:]
        block[:count, layout.ages] = rows["ages"][start:]
        block[:count, layout.dt] = rows["dt"][start:]
        block[:count, layout.reset] = rows["reset"][start:]
        block[:count, layout.valid] = 1.0
        return block


def make_training_env(spec: EnvSpec, config: PolicyConfig, max_substeps: int) -> gym.Env:
    """A monitored :class:`NetworkStepsEnv` of ``spec`` (sb3's Monitor records its episodes)."""
    from stable_baselines3.common.monitor import Monitor

    return Monitor(NetworkStepsEnv(spec.make(), config, max_substeps))


# -- the policy -----------------------------------------------------------------------------------
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
    ) -> None:
        self.policy_config = policy_config
        self.actor_learning_rate = float(actor_learning_rate)
        self.critic_units = tuple(critic_units)
        # RecurrentActorCriticPolicy.__init__ would build LSTMs: our _build makes the modules instead
        ActorCriticPolicy.__init__(self, observation_space, action_space, lr_schedule, net_arch=[],
                                   ortho_init=False, use_sde=use_sde, log_std_init=log_std_init)

    def _build(self, lr_schedule: Any) -> None:
        self.actor = LiquidPolicy(self.policy_config)
        self.layout = StepLayout(self.policy_config)
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
        width = self.actor.state_size + self.actor.input_size
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
        """The parameters PPO's policy loss moves: the liquid policy's and the log std."""
        return [*self.actor.parameters(), self.log_std]

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
        features = [actor.encode(name, steps[..., columns]) for name, columns in layout.streams.items()]
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

    def _value(self, after: Tensor, last: Tensor) -> Tensor:
        return self.value_mlp(torch.cat([after.detach(), last.detach()], -1))

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
        return actions, self._value(after, last), distribution.log_prob(actions), RNNStates(state, state)

    def get_distribution(
        self, obs: Tensor, lstm_states: tuple[Tensor, Tensor], episode_starts: Tensor
    ) -> tuple[Distribution, tuple[Tensor, ...]]:
        h0 = lstm_states[0][0]
        mean, after, _ = self.unroll(obs.float(), h0)
        return self._distribution(mean, after), self._final(after, h0.shape[0])

    def predict_values(self, obs: Tensor, lstm_states: tuple[Tensor, Tensor], episode_starts: Tensor) -> Tensor:
        _, after, last = self.unroll(obs.float(), lstm_states[0][0])
        return self._value(after, last)

    def evaluate_actions(
        self, obs: Tensor, actions: Tensor, lstm_states: RNNStates, episode_starts: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        mean, after, last = self.unroll(obs.float(), lstm_states.pi[0][0])
        distribution = self._distribution(mean, after)
        return self._value(after, last), distribution.log_prob(actions), distribution.entropy()


class LiquidPPO(RecurrentPPO):
    """RecurrentPPO with a critic warm-up (the first ``critic_warmup_iterations`` updates leave
    the actor frozen) and constant per-group step sizes (actor, critic) set by the policy.

    :param critic_warmup_iterations: updates during which only the critic learns.
    """

    def __init__(self, *args: Any, critic_warmup_iterations: int = 0, **kwargs: Any) -> None:
        self.critic_warmup_iterations = int(critic_warmup_iterations)
        self.iterations = 0
        super().__init__(*args, **kwargs)

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
        for name, group in zip(("actor", "critic"), self.policy.optimizer.param_groups):
            self.logger.record(f"train/learning_rate_{name}", group["lr"])


# -- the run --------------------------------------------------------------------------------------
class _Curve(BaseCallback):
    """Records every finished training episode and drives the progress bar."""

    def __init__(self, progress: Any, total: int) -> None:
        super().__init__()
        self.rows: list[dict[str, Any]] = []
        self.progress = progress
        self.task = progress.add_task("rl", total=total) if progress is not None else None

    def _on_step(self) -> bool:
        for info, done in zip(self.locals["infos"], self.locals["dones"]):
            if done and "episode" in info:
                self.rows.append({"env_steps": int(self.num_timesteps), "return": float(info["episode"]["r"]),
                                  "length": int(info["episode"]["l"]), "success": bool(info.get("is_success", False))})
        if self.task is not None:
            recent = self.rows[-20:]
            text = (f"rl: return {np.mean([r['return'] for r in recent]):.1f}, success "
                    f"{np.mean([r['success'] for r in recent]):.0%} (last {len(recent)} episodes)") if recent else "rl"
            self.progress.update(self.task, completed=self.num_timesteps, description=text)
        return True


class RLRun:
    """One RL run of an :class:`RLConfig` into a folder; :meth:`run` does everything.

    :param config: the run's config.
    :param out: the run folder (created; must not hold a run).
    :param base: the folder a relative ``model`` path is read from.
    :param workers: overrides ``config.workers``.
    :param console: a ``rich`` console for progress and messages (None: silent).
    :param source: the config file (named in the report).
    """

    def __init__(self, config: RLConfig, out: Path, base: Optional[Path] = None, workers: Optional[int] = None,
                 console: Any = None, source: Optional[Path] = None) -> None:
        self.folder = Path(out)
        if (self.folder / "run.yaml").exists():
            raise ConfigError(f"{out} already holds an RL run; choose another --out")
        self.config = config if workers is None else dataclasses.replace(config, workers=int(workers))
        self.base, self.console, self.source = base, console, source
        self.policy_config = config.policy_config(base)
        StepLayout(self.policy_config)  # a policy RL cannot train fails now
        self.env = env_spec_for(config.env.id, config.env.scenario, self.policy_config)
        check_actions(self.env, self.policy_config.actions)
        self.training_time_s = 0.0
        self.model: Optional[LiquidPPO] = None

    def run(self) -> dict[str, Any]:
        """Train, save the actor, evaluate before and after, write the report; returns the
        evaluation document (``evaluation.json``)."""
        from lnn_control.train.pipeline import progress_display

        config, folder = self.config, self.folder
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "run.yaml").write_text(yaml.safe_dump(config.resolved(self.base), sort_keys=False))
        torch.set_num_threads(config.threads)
        initial = self._initial_policy()
        save_checkpoint(initial, folder / "initial_policy", metadata=self._metadata("initial"), overwrite=True)
        with progress_display(self.console) as progress:
            before = self._evaluate(folder / "initial_policy", progress)
            self._say(f"before: {_line(before)}")
            start = time.perf_counter()
            model, curve = self._train(initial, progress)
            self.training_time_s = time.perf_counter() - start
            self.model = model
            save_checkpoint(model.policy.actor, folder / "policy", metadata=self._metadata("rl"), overwrite=True)
            after = self._evaluate(folder / "policy", progress)
            self._say(f"after: {_line(after)}")
        document = {"env": config.env.id, "init": config.init, "env_steps": int(model.num_timesteps),
                    "training_time_s": self.training_time_s, "before": before, "after": after,
                    "return_change": {name: _paired_change(before[name], after[name]) for name in after}}
        (folder / "evaluation.json").write_text(json.dumps(document, indent=1) + "\n")
        (folder / "learning_curve.json").write_text(json.dumps(curve, indent=1) + "\n")
        _write_report(folder, config, self.source, document, curve)
        return document

    def _initial_policy(self) -> LiquidPolicy:
        """The checkpoint to fine-tune, or a fresh policy standardised on its own flights."""
        config = self.config
        if config.init is not None:
            return load_checkpoint(config.init)
        torch.manual_seed(config.seed)
        policy = LiquidPolicy(self.policy_config).eval()
        self._say(f"standardising the inputs on {config.statistics_steps} control steps of the initial policy")
        for name, (mean, std) in _flight_statistics(policy, self.env, config.statistics_steps,
                                                    config.first_env_seed + 10_000).items():
            policy.encoders[name].set_statistics(mean, std.clamp(min=1e-3))
        return policy

    def _train(self, initial: LiquidPolicy, progress: Any) -> tuple[LiquidPPO, list[dict[str, Any]]]:
        from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

        config, ppo = self.config, self.config.ppo
        factories = [partial(make_training_env, self.env, self.policy_config, config.max_substeps)] * config.envs
        venv: Any = DummyVecEnv(factories)
        if ppo.normalize_reward:
            venv = VecNormalize(venv, norm_obs=False, norm_reward=True, gamma=ppo.gamma)
        try:
            model = LiquidPPO(
                LiquidActorCriticPolicy, venv, learning_rate=ppo.critic_learning_rate, n_steps=ppo.n_steps,
                batch_size=ppo.batch_size, n_epochs=ppo.n_epochs, gamma=ppo.gamma, gae_lambda=ppo.gae_lambda,
                clip_range=ppo.clip_range, ent_coef=ppo.ent_coef, vf_coef=ppo.vf_coef,
                max_grad_norm=ppo.max_grad_norm, target_kl=ppo.target_kl, use_sde=ppo.use_sde,
                sde_sample_freq=ppo.sde_sample_freq, seed=config.seed, device="cpu",
                tensorboard_log=str(self.folder / "tensorboard"), critic_warmup_iterations=ppo.critic_warmup_iterations,
                policy_kwargs={"policy_config": self.policy_config, "actor_learning_rate": ppo.learning_rate,
                               "log_std_init": ppo.log_std_init, "critic_units": tuple(ppo.critic_units)},
            )
            model.policy.actor.load_state_dict(initial.state_dict())
            venv.seed(config.first_env_seed)
            curve = _Curve(progress, config.total_steps)
            self._say(f"PPO: {config.total_steps} control steps in {config.envs} envs")
            model.learn(config.total_steps, callback=curve, tb_log_name="ppo")
        finally:
            venv.close()
        model.policy.actor.eval()
        return model, curve.rows

    def _evaluate(self, policy_dir: Path, progress: Any) -> dict[str, dict[str, Any]]:
        from lnn_control.train.pipeline import evaluate_policy
        from lnn_control.train.rollouts import EpisodeRunner

        evaluation = self.config.evaluation
        if evaluation.episodes == 0:
            return {}
        with EpisodeRunner(self.config.workers) as runner:
            results = evaluate_policy(policy_dir, self.config.env.id, list(evaluation.scenarios), evaluation.episodes,
                                      evaluation.first_seed, runner, progress, self.policy_config)
        for result in results.values():
            result["mean_return"] = float(np.mean([e["episode_return"] for e in result["per_episode"]]))
        return results

    def _metadata(self, stage: str) -> dict[str, Any]:
        config = self.config
        return {"env_id": config.env.id, "scenario": config.env.scenario, "seed": config.seed,
                "run": str(self.folder), "rl": {"stage": stage, "init": config.init,
                                                "env_steps": int(self.model.num_timesteps) if self.model else 0}}

    def _say(self, message: str) -> None:
        if self.console is not None:
            self.console.print(message)


def _flight_statistics(policy: LiquidPolicy, env_spec: EnvSpec, steps: int, first_seed: int) -> dict[str, tuple[Tensor, Tensor]]:
    """Mean and standard deviation ``(size,)`` of every vector stream's messages while ``policy``
    flies (through the runtime) seeded episodes until ``steps`` control steps have passed."""
    from lnn_control.policy.runtime import PolicyRuntime
    from lnn_control.sim.rollout import run_episode

    names = [s.name for s in policy.config.streams]
    values: dict[str, list[np.ndarray]] = {name: [] for name in names}

    def on_step(env: Any, observation: Any, info: dict[str, Any]) -> None:
        for event in info["sensor_events"]:
            if event.stream in values:
                values[event.stream].append(np.asarray(event.value, dtype=np.float64))

    env = env_spec.make()
    runtime = PolicyRuntime(policy)
    taken, seed = 0, first_seed
    try:
        while taken < steps:
            result = run_episode(env, runtime, seed, False, on_step, names)
            taken, seed = taken + result.steps, seed + 1
    finally:
        env.close()
    return {name: (torch.tensor(np.mean(v, 0), dtype=torch.float32), torch.tensor(np.std(v, 0), dtype=torch.float32))
            for name, v in values.items()}


def _paired_change(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Mean of the per-seed return differences ``after - before`` (same seeds) and its normal
    95 % interval ``mean +- 1.96 sd / sqrt(n)`` (``[mean, mean]`` for one episode)."""
    first = {e["seed"]: e["episode_return"] for e in before["per_episode"]}
    diff = np.array([e["episode_return"] - first[e["seed"]] for e in after["per_episode"]])
    half = 1.959963984540054 * diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else 0.0
    return {"mean": float(diff.mean()), "ci95": [float(diff.mean() - half), float(diff.mean() + half)],
            "episodes": int(len(diff))}


def _line(results: dict[str, dict[str, Any]]) -> str:
    return "; ".join(f"{name} success {r['success_rate']:.1%} (95% CI {r['ci95'][0]:.1%}-{r['ci95'][1]:.1%}), "
                     f"mean return {r['mean_return']:.1f}" for name, r in results.items()) or "not evaluated"


# -- report ---------------------------------------------------------------------------------------
def _write_report(folder: Path, config: RLConfig, source: Optional[Path], document: dict[str, Any],
                  curve: list[dict[str, Any]]) -> Path:
    """``learning_curve.png`` and ``report.md`` in ``folder``; returns the Markdown file."""
    _plot_curve(curve, document, folder / "learning_curve.png")
    lines = [
        f"# RL ({'fine-tuning' if config.init else 'from scratch'}): {config.env.id}",
        "",
        f"Config: `{source or folder / 'run.yaml'}`; "
        + (f"started from `{config.init}`." if config.init else "a freshly initialised policy (seed "
           f"{config.seed}), inputs standardised on {config.statistics_steps} control steps of its own flights."),
        f"PPO (sb3-contrib RecurrentPPO, liquid core as the recurrent module): {document['env_steps']} control "
        f"steps in {config.envs} envs, {document['training_time_s'] / 60:.1f} min of training; actor step size "
        f"{config.ppo.learning_rate:g}, critic {config.ppo.critic_learning_rate:g}, initial log std "
        f"{config.ppo.log_std_init:g}, {config.ppo.critic_warmup_iterations} critic warm-up iterations.",
        "",
        f"## Evaluation (deterministic policy through the runtime, seeds {config.evaluation.first_seed}.."
        f"{config.evaluation.first_seed + config.evaluation.episodes - 1})",
        "",
        "| scenario | policy | success | 95% CI | mean return | tracking error m | final distance m | failures |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for stage in ("before", "after"):
        for name, r in document[stage].items():
            causes = ", ".join(f"{k} {v}" for k, v in r["failures"].items() if v) or "-"
            lines.append(f"| {name} | {stage} | {r['success_rate']:.1%} | {r['ci95'][0]:.1%}-{r['ci95'][1]:.1%} | "
                         f"{r['mean_return']:.1f} | {r['tracking_error_m']:.4f} | {r['final_distance_m']:.4f} | {causes} |")
    for name, change in document["return_change"].items():
        lines.append(f"\n{name}: mean return change after - before, paired over the seeds: {change['mean']:+.2f} "
                     f"(95% CI {change['ci95'][0]:+.2f} to {change['ci95'][1]:+.2f}).")
    lines += ["", "## Learning curve (stochastic training episodes)", "", "![learning curve](learning_curve.png)", ""]
    if curve:
        window = min(20, len(curve))
        first, last = curve[:window], curve[-window:]
        lines.append(f"{len(curve)} training episodes. First {window}: mean return "
                     f"{np.mean([r['return'] for r in first]):.1f}, success {np.mean([r['success'] for r in first]):.0%}; "
                     f"last {window}: mean return {np.mean([r['return'] for r in last]):.1f}, success "
                     f"{np.mean([r['success'] for r in last]):.0%}.")
    else:
        lines.append("No training episode finished.")
    path = folder / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _plot_curve(curve: list[dict[str, Any]], document: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (reward_ax, success_ax) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    if curve:
        steps = np.array([r["env_steps"] for r in curve])
        returns = np.array([r["return"] for r in curve])
        success = np.array([r["success"] for r in curve], dtype=float)
        window = max(1, min(20, len(curve)))
        kernel = np.ones(window) / window
        reward_ax.plot(steps, returns, ".", color="0.6", ms=3, label="training episode")
        reward_ax.plot(steps[window - 1 :], np.convolve(returns, kernel, "valid"), color="C0",
                       label=f"running mean ({window})")
        success_ax.plot(steps[window - 1 :], np.convolve(success, kernel, "valid"), color="C2",
                        label=f"training success, running mean ({window})")
    end = max(document["env_steps"], 1)
    for stage, x, marker in (("before", 0, "s"), ("after", end, "D")):
        for name, r in document[stage].items():
            reward_ax.plot([x], [r["mean_return"]], marker, color="C3", label=f"evaluation {stage} ({name})")
            success_ax.plot([x], [r["success_rate"]], marker, color="C3", label=f"evaluation {stage} ({name})")
    reward_ax.set_ylabel("episode return")
    success_ax.set_ylabel("success rate")
    success_ax.set_ylim(-0.02, 1.05)
    success_ax.set_xlabel("control steps (env steps, all envs)")
    for ax in (reward_ax, success_ax):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
