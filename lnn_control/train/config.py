"""A training run's configuration (``config/train/*.yaml``), validated on load; errors name the key.

A run trains the policy described by ``model`` (a model YAML such as ``config/models/*.yaml``, or
the same mapping inline, with optional ``model_overrides`` merged into it: that is how a baseline
core trains the same way, e.g. ``model_overrides: {core: {type: lstm, wiring: null, units: 24}}``)
in ``env`` by behaviour cloning on expert demonstrations, then ``dagger.rounds`` rounds of DAgger,
then evaluates it. Every key has a default except ``env.id`` and ``model``.

Seeds: the network is initialised from ``seed``; demonstration episode ``i`` is reset with
``demonstrations.first_seed + i``; DAgger round ``r`` (from 1) episode ``i`` with
``dagger.first_seed + 1000 r + i``; evaluation uses ``evaluation.first_seed + i``; the image
augmentation (off without an ``augmentation`` section) draws from ``(seed, phase, epoch, chunk)``.
The defaults keep training seeds (>= 100000) apart from the evaluation seeds (0 to 99).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from lnn_control.config import config_from_dict, config_to_dict, read_yaml
from lnn_control.errors import ConfigError
from lnn_control.policy.config import PolicyConfig, model_data

__all__ = [
    "AugmentationConfig",
    "BudgetConfig",
    "CheckpointConfig",
    "DaggerConfig",
    "DemonstrationConfig",
    "EnvConfig",
    "EvaluationConfig",
    "OptimConfig",
    "SCENARIOS",
    "TrainConfig",
    "load_train_config",
]

#: the scenarios ``--scenario all`` runs, in report order
SCENARIOS = ("nominal", "timing_ood", "physics_ood", "visual_ood", "adaptation_ood")


@dataclass
class EnvConfig:
    """The simulated env the policy trains in."""

    #: registered id (``lnn_control/QuadHover-v0``) or short name (``QuadHover-v0``)
    id: str
    #: the scenario demonstrations and DAgger rollouts run in (name or YAML path): ``nominal``, or a
    #: training scenario ``train_*`` (``config/sim``) that randomises physics and appearance; never
    #: an evaluation-only ``*_ood`` one
    scenario: str = "nominal"

    def __post_init__(self) -> None:
        from lnn_control.sim.ids import env_id
        from lnn_control.sim.scenarios import evaluation_only

        self.id = env_id(self.id)
        if evaluation_only(self.scenario):
            raise ConfigError(
                f"scenario {self.scenario!r} is for evaluation only (every *_ood scenario is): train "
                "in nominal or a training scenario (train_physics, train_visual, train_randomised) "
                "and list it in evaluation.scenarios"
            )


@dataclass
class DemonstrationConfig:
    """Expert demonstrations recorded before behaviour cloning."""

    #: number of expert episodes
    episodes: int = 100
    #: episode i is reset with seed first_seed + i
    first_seed: int = 100_000

    def __post_init__(self) -> None:
        _at_least(self, "episodes", 1)
        _at_least(self, "first_seed", 0)


@dataclass
class OptimConfig:
    """How every training phase updates the network (Adam, TBPTT over chunks)."""

    #: Adam's step size
    learning_rate: float = 3e-3
    #: Adam's L2 weight decay
    weight_decay: float = 0.0
    #: gradients are clipped to this global norm
    grad_clip: float = 1.0
    #: network steps per TBPTT chunk (the state is carried, detached, between chunks)
    chunk_steps: int = 100
    #: sequences per batch: episodes are laid end to end into this many lanes
    lanes: int = 32
    #: fraction of each phase's new episodes held out for validation (at least one episode)
    val_fraction: float = 0.1
    #: weight of each action in the loss (squared error in half-ranges); default all 1
    action_weights: Optional[list[float]] = None
    #: standard deviations of the input statistics are floored at this (standardised units)
    min_std: float = 1e-3
    #: within a phase the step size follows a cosine from its value down to this fraction of it
    #: at the phase's max_epochs (1: constant)
    final_lr_fraction: float = 0.1
    #: weight of the auxiliary loss (a policy with an auxiliary head; see lnn_control.train.bc)
    auxiliary_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.auxiliary_weight < 0:
            raise ConfigError(f"auxiliary_weight must be >= 0, got {self.auxiliary_weight}")
        for key in ("learning_rate", "grad_clip", "min_std", "final_lr_fraction"):
            if not getattr(self, key) > 0:
                raise ConfigError(f"{key} must be > 0, got {getattr(self, key)}")
        if self.final_lr_fraction > 1:
            raise ConfigError(f"final_lr_fraction must be <= 1, got {self.final_lr_fraction}")
        if self.weight_decay < 0:
            raise ConfigError(f"weight_decay must be >= 0, got {self.weight_decay}")
        _at_least(self, "chunk_steps", 2)
        _at_least(self, "lanes", 1)
        if not 0.0 <= self.val_fraction < 1.0:
            raise ConfigError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.action_weights is not None and any(w < 0 for w in self.action_weights):
            raise ConfigError(f"action_weights must be >= 0, got {self.action_weights}")


@dataclass
class AugmentationConfig:
    """Image augmentation of the camera frames of every training batch, behaviour cloning and
    DAgger's retraining alike (:mod:`lnn_control.train.augment` says what each key does). Off by
    default: the batches are then used exactly as recorded. Validation, evaluation and the
    runtime never augment (no ``augmentation`` section, or ``augmentation: null``, is off; a
    section, even ``augmentation: {}``, is on). The draws are seeded by ``(seed, phase, epoch,
    chunk)``.

    :param shift: largest shift of a frame, whole pixels per axis (edges repeat).
    :param brightness: every channel of a frame times a factor in [1 - brightness, 1 + brightness].
    :param colour: each channel of a frame times its own factor in [1 - colour, 1 + colour].
    :param contrast: contrast about a frame's mean grey level times a factor in
        [1 - contrast, 1 + contrast].
    :param noise_std: standard deviation of the Gaussian pixel noise, grey levels of 255.
    """

    shift: int = 4
    brightness: float = 0.2
    colour: float = 0.1
    contrast: float = 0.2
    noise_std: float = 4.0

    #: the keys that scale a frame by a factor within them of 1
    FACTORS = ("brightness", "colour", "contrast")

    def __post_init__(self) -> None:
        _at_least(self, "shift", 0)
        for key in self.FACTORS:
            if not 0.0 <= getattr(self, key) < 1.0:
                raise ConfigError(f"{key} must be in [0, 1), got {getattr(self, key)}")
        if not 0.0 <= self.noise_std <= 255.0:
            raise ConfigError(f"noise_std must be in [0, 255] grey levels, got {self.noise_std}")


@dataclass
class BudgetConfig:
    """How long one training phase runs: epochs over its data, with early stopping."""

    #: at most this many passes over the training lanes
    max_epochs: int = 30
    #: and at most this many updates (0: no limit)
    max_updates: int = 0
    #: stop after this many epochs without a better validation loss (0: never stop early)
    patience: int = 5

    def __post_init__(self) -> None:
        _at_least(self, "max_epochs", 1)
        _at_least(self, "max_updates", 0)
        _at_least(self, "patience", 0)


@dataclass
class DaggerConfig:
    """DAgger (Ross, Gordon and Bagnell, AISTATS 2011) after behaviour cloning.

    Each round rolls out the current policy (its hidden state carried through the episode by the
    runtime), applying the expert's command instead at each control step with probability
    ``beta``, labels every visited step with the expert, adds the episodes to the data set and
    retrains on all of it.
    """

    #: number of rounds (0: behaviour cloning only)
    rounds: int = 4
    #: rollout episodes per round
    episodes: int = 40
    #: round r (from 1), episode i is reset with seed first_seed + 1000 r + i
    first_seed: int = 200_000
    #: beta of each round; a shorter list repeats its last value
    beta: list[float] = field(default_factory=lambda: [0.5, 0.25, 0.0])
    #: the retraining budget of each round
    budget: BudgetConfig = field(default_factory=lambda: BudgetConfig(max_epochs=10, patience=3))
    #: Adam's step size in the DAgger rounds (default: optim.learning_rate)
    learning_rate: Optional[float] = None

    def __post_init__(self) -> None:
        _at_least(self, "rounds", 0)
        _at_least(self, "episodes", 1)
        if self.episodes > 1000:
            raise ConfigError("episodes must be at most 1000 (seeds of a round lie 1000 apart)")
        if self.learning_rate is not None and not self.learning_rate > 0:
            raise ConfigError(f"learning_rate must be > 0, got {self.learning_rate}")
        if not self.beta or any(not 0.0 <= b <= 1.0 for b in self.beta):
            raise ConfigError(f"beta must be a non-empty list of values in [0, 1], got {self.beta}")


@dataclass
class CheckpointConfig:
    """Resumable checkpoints (``DIR/checkpoints/update_NNNNNNN``)."""

    #: write one every this many updates (and one at the end of every phase)
    every_updates: int = 200

    def __post_init__(self) -> None:
        _at_least(self, "every_updates", 1)


@dataclass
class EvaluationConfig:
    """The final evaluation (``lnn-control evaluate`` runs the same harness)."""

    #: episodes per scenario, reset with seeds first_seed, first_seed + 1, ...
    episodes: int = 100
    first_seed: int = 0
    #: scenarios to evaluate (names or YAML paths); the report's table has one row per scenario
    scenarios: list[str] = field(default_factory=lambda: ["nominal"])

    def __post_init__(self) -> None:
        _at_least(self, "episodes", 0)
        _at_least(self, "first_seed", 0)


@dataclass
class TrainConfig:
    """A whole training run; see the module docstring."""

    env: EnvConfig
    #: the policy: a model YAML path (relative to this file) or its contents inline
    model: Any
    #: keyword arguments of the env's expert (lnn_control.sim.experts.EXPERTS), e.g. gains; the
    #: expert labels every step, so a label should depend on the state only (see config/train)
    expert: dict[str, Any] = field(default_factory=dict)
    #: label with the env's privileged teacher (lnn_control.sim.experts.TEACHERS: the expert told
    #: the episode's hidden physics) instead of its expert; ``expert`` then holds its options
    teacher: bool = False
    #: merged into the model config, mapping by mapping (a value replaces, a mapping merges)
    model_overrides: dict[str, Any] = field(default_factory=dict)
    #: initialises the network; all other randomness derives from the episode seeds
    seed: int = 0
    #: processes that run episodes (demonstrations, rollouts, evaluation); 0 or 1: in-process
    workers: int = 2
    #: torch threads of the training process (small recurrent nets are fastest with 1)
    threads: int = 1
    demonstrations: DemonstrationConfig = field(default_factory=DemonstrationConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    augmentation: Optional[AugmentationConfig] = None
    bc: BudgetConfig = field(default_factory=BudgetConfig)
    dagger: DaggerConfig = field(default_factory=DaggerConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)

    def __post_init__(self) -> None:
        _at_least(self, "workers", 0)
        _at_least(self, "threads", 1)
        if not isinstance(self.model, (str, dict)):
            raise ConfigError("model must be a model YAML path or a mapping (a model config inline)")

    def policy_config(self, base: Optional[Path] = None) -> PolicyConfig:
        """The policy's config: ``model`` (read relative to ``base``) with the overrides merged."""
        data = self.model_data(base)
        try:
            policy = config_from_dict(PolicyConfig, data)
        except ConfigError as error:
            raise ConfigError(f"model: {error}") from None
        if self.optim.action_weights is not None and len(self.optim.action_weights) != len(policy.actions.names):
            raise ConfigError(
                f"optim.action_weights has {len(self.optim.action_weights)} entries but the policy "
                f"has {len(policy.actions.names)} actions {policy.actions.names}"
            )
        return policy

    def model_data(self, base: Optional[Path] = None) -> dict[str, Any]:
        """The model config as plain data, overrides merged (:func:`~lnn_control.policy.config.model_data`)."""
        return model_data(self.model, self.model_overrides, base)

    def resolved(self, base: Optional[Path] = None) -> dict[str, Any]:
        """Plain data of this config with the model inlined (what a run folder stores)."""
        data = config_to_dict(self)
        data["model"] = config_to_dict(self.policy_config(base))
        data["model_overrides"] = {}
        return data


def load_train_config(path: str | os.PathLike[str]) -> tuple[TrainConfig, Path]:
    """The config at ``path`` and the folder its relative model path is read from."""
    file = Path(path)
    try:
        config = config_from_dict(TrainConfig, read_yaml(file))
        config.policy_config(file.parent)  # fail now, naming the key, not in the middle of a run
    except ConfigError as error:
        raise ConfigError(f"{file}: {error}") from None
    return config, file.parent


def _at_least(config: object, key: str, minimum: int) -> None:
    """``key`` of ``config`` must be at least ``minimum`` (the loader prefixes the section)."""
    value = getattr(config, key)
    if value < minimum:
        raise ConfigError(f"{key} must be >= {minimum}, got {value}")
