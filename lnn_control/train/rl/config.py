"""An RL run's configuration (``config/rl/*.yaml``): the run and PPO's settings, checked on load."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from lnn_control.config import config_from_dict, config_to_dict, read_yaml
from lnn_control.errors import ConfigError, LnnControlError
from lnn_control.policy.checkpoint import read_checkpoint_config
from lnn_control.policy.config import PolicyConfig, model_data
from lnn_control.train.config import EnvConfig, EvaluationConfig, _at_least

__all__ = ["BATCHED_ENV", "PPOConfig", "RLConfig", "load_rl_config"]

#: the env whose episodes ``batched: true`` steps together
BATCHED_ENV = "lnn_control/QuadHover-v0"


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
    #: both step sizes fall linearly to zero over the run (CleanRL's anneal_lr)
    anneal: bool = False
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
    #: the critic also reads the env's privileged state (ground truth, goal, hidden physics;
    #: QuadHoverVectorEnv.privileged_state): an asymmetric actor-critic (needs batched: true)
    privileged_critic: bool = False

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
    #: from scratch: merged into the model config, mapping by mapping (a value replaces, a mapping
    #: merges): a baseline core trained the same way, e.g. ``{core: {type: lstm, wiring: null, units: 20}}``
    model_overrides: dict[str, Any] = field(default_factory=dict)
    #: initialises the network (scratch) and PPO's sampling
    seed: int = 0
    first_env_seed: int = 300_000
    #: envs stepped in lockstep in this process (sb3's DummyVecEnv: an env step costs far less
    #: than the policy's, so worker processes would only add overhead)
    envs: int = 2
    #: QuadHover only: all envs in one QuadHoverVectorEnv (physics in one mujoco.batch call, the
    #: aligner's rules in numpy: lnn_control.train.rl.collection), so hundreds of envs cost little
    #: more than one; the observations are exactly the single envs' (false: one env object each)
    batched: bool = False
    #: batched only: a start curriculum, the scenario's start offset, tilt, speed and heading
    #: ranges scaled by curriculum_start at first and growing linearly to their full size over
    #: this many control steps (0: none)
    curriculum_steps: int = 0
    curriculum_start: float = 0.2
    #: whether the curriculum grows the heading range too (false: any heading from the start)
    curriculum_heading: bool = True
    #: processes running the evaluation episodes (0 or 1: this process)
    workers: int = 2
    #: torch threads of the training process
    threads: int = 1
    #: control steps to train for, over all envs
    total_steps: int = 100_000
    #: network steps one observation holds (a control period that takes more is an error)
    max_substeps: int = 4
    #: PPO updates between resume points (``RUN/checkpoint``, what ``--resume`` continues from); 0: none
    checkpoint_every: int = 20
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
        if self.model_overrides and self.init is not None:
            raise ConfigError("model_overrides: fine-tuning keeps the init checkpoint's model; "
                              "overrides apply to a model trained from scratch")
        if self.batched and self.env.id != BATCHED_ENV:
            raise ConfigError(f"batched: only {BATCHED_ENV} has a batched env; set batched: false for {self.env.id}")
        if self.ppo.privileged_critic and not self.batched:
            raise ConfigError("ppo.privileged_critic: the privileged state comes from the batched env; set batched: true")
        if self.curriculum_steps and not self.batched:
            raise ConfigError("curriculum_steps: the start curriculum needs batched: true")
        if not 0.0 < self.curriculum_start <= 1.0:
            raise ConfigError(f"curriculum_start must be in (0, 1], got {self.curriculum_start}")
        for key, minimum in (("envs", 1), ("workers", 0), ("threads", 1), ("total_steps", 1), ("curriculum_steps", 0),
                             ("max_substeps", 1), ("statistics_steps", 1), ("checkpoint_every", 0), ("seed", 0), ("first_env_seed", 0)):
            _at_least(self, key, minimum)

    def policy_config(self, base: Optional[Path] = None) -> PolicyConfig:
        """The policy's config: the ``init`` checkpoint's, or ``model`` (read relative to ``base``)."""
        if self.init is not None:
            document, _ = read_checkpoint_config(self.init)
            return config_from_dict(PolicyConfig, document["config"], "config")
        try:
            return config_from_dict(PolicyConfig, model_data(self.model, self.model_overrides, base))
        except ConfigError as error:
            raise ConfigError(f"model: {error}") from None

    def resolved(self, base: Optional[Path] = None) -> dict[str, Any]:
        """Plain data of this config, a scratch model inlined (what a run folder stores)."""
        data = config_to_dict(self)
        if self.model is not None:
            data["model"] = config_to_dict(self.policy_config(base))
            data["model_overrides"] = {}
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
