"""DAgger: the learner flies, the expert labels what it sees, and the policy is retrained on it all.

After Ross, Gordon and Bagnell, "A Reduction of Imitation Learning and Structured Prediction to
No-Regret Online Learning" (AISTATS 2011). A training run (:mod:`lnn_control.train.pipeline`)
trains in phases; phase ``r`` is DAgger's round ``r``:

* round 0 is behaviour cloning's data: the expert alone flies ``demonstrations.episodes``
  episodes (beta 1, no learner), seeded ``demonstrations.first_seed + i``;
* round ``r = 1 .. dagger.rounds``: the learner is the policy that ended round ``r - 1`` (its
  checkpoint ``round_{r-1}``). It flies ``dagger.episodes`` episodes, seeded
  ``dagger.first_seed + 1000 r + i``, mixed with the expert: at every control instant the
  expert's command is applied with probability ``beta_r`` (:func:`round_beta`), else the
  learner's (:class:`Mixture`). The expert labels every visited instant;
* after each round its episodes join those of every earlier round (aggregation) and the policy
  is trained on all of them, from where it stood (the pipeline's ``fit``).

Everything commands in physical units (the env's ``action_spec()``): the expert, the learner
(a :class:`~lnn_control.policy.PolicyRuntime`), the labels and the applied commands recorded;
the env's ``to_action`` turns the applied command into its action
(:func:`lnn_control.sim.rollout.run_episode`). Each episode is a :class:`CollectTask`, run in a
worker process (:class:`~lnn_control.train.rollouts.EpisodeRunner`) and written to an NPZ file
(:mod:`lnn_control.train.demonstrations`); :func:`round_summary` is what the run logs of a round.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

from lnn_control.policy.events import Controller, SensorEvent
from lnn_control.train.config import TrainConfig
from lnn_control.train.demonstrations import Episode, EventLog, load_episode, save_episode
from lnn_control.train.evaluation import wilson_interval
from lnn_control.train.rollouts import EnvSpec, worker_env, worker_runtime

__all__ = [
    "CollectTask",
    "Mixture",
    "collect_episode",
    "round_beta",
    "round_seeds",
    "round_summary",
    "round_tasks",
]


# -- the schedule ---------------------------------------------------------------------------------
def round_beta(config: TrainConfig, round_index: int) -> float:
    """Probability of applying the expert's command in round ``round_index``: 1 in round 0 (the
    expert alone), then ``dagger.beta[r - 1]``, the list's last value repeated past its end."""
    if round_index == 0:
        return 1.0
    schedule = config.dagger.beta
    return schedule[min(round_index, len(schedule)) - 1]


def round_seeds(config: TrainConfig, round_index: int) -> list[int]:
    """The reset seeds of round ``round_index``'s episodes (see the module docstring)."""
    if round_index == 0:
        first = config.demonstrations.first_seed
        return [first + i for i in range(config.demonstrations.episodes)]
    first = config.dagger.first_seed + 1000 * round_index
    return [first + i for i in range(config.dagger.episodes)]


# -- one control instant: the expert labels, the mixture applies ----------------------------------
@dataclass
class Mixture:
    """DAgger's mixed policy ``beta pi* + (1 - beta) pi_learner``, labelled by the expert.

    At every control instant the expert's command is recorded as the label and applied with
    probability ``beta``, else the learner's is. Both command in physical units, and so does the
    mixture: the env's ``to_action`` makes the applied command its action. The learner receives
    only the streams it declares (never a privileged one), the expert every event. The learner
    is asked for its command at every instant, applied or not, so it keeps its hidden state and
    a timer-mode policy steps at every control instant whoever flies.

    :param expert: a privileged expert (:func:`lnn_control.sim.experts.make_expert`).
    :param learner: a physical-unit controller (a :class:`~lnn_control.policy.PolicyRuntime`);
        ``None``: the expert alone.
    :param learner_streams: the streams the learner reads.
    :param beta: probability of applying the expert's command at a control instant.
    :param rng: draws the mixture; seeded per episode for reproducible rollouts.
    """

    expert: Controller
    learner: Optional[Controller] = None
    learner_streams: frozenset[str] = frozenset()
    beta: float = 1.0
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.expert.reset()
        if self.learner is not None:
            self.learner.reset()
        #: per control instant: its stamp (ns), the expert's label ``(A,)`` float32, the applied
        #: command ``(A,)`` float32 and whether it was the expert's
        self.stamps: list[int] = []
        self.labels: list[np.ndarray] = []
        self.applied: list[np.ndarray] = []
        self.expert_applied: list[bool] = []

    def on_event(self, stream: str, stamp_ns: int, value: np.ndarray) -> None:
        self.expert.on_event(stream, stamp_ns, value)
        if self.learner is not None and stream in self.learner_streams:
            self.learner.on_event(stream, stamp_ns, value)

    def label(self, stamp_ns: int) -> np.ndarray:
        """Record and return the expert's command ``(A,)`` float32 at ``stamp_ns`` (a control instant)."""
        command = np.asarray(self.expert.command(stamp_ns), dtype=np.float32)
        self.stamps.append(int(stamp_ns))
        self.labels.append(command)
        return command

    def command(self, stamp_ns: int) -> np.ndarray:
        """The applied command ``(A,)`` float32 at ``stamp_ns``: the expert's or the learner's."""
        expert = self.label(stamp_ns)
        learner = None if self.learner is None else self.learner.command(stamp_ns)
        use_expert = learner is None or bool(self.rng.random() < self.beta)
        applied = expert if use_expert else np.asarray(learner, dtype=np.float32)
        self.applied.append(applied)
        self.expert_applied.append(use_expert)
        return applied


# -- one episode ----------------------------------------------------------------------------------
def collect_episode(
    env: Any, mixture: Mixture, seed: int, metadata: Optional[dict[str, Any]] = None
) -> Episode:
    """Run one episode of ``mixture`` in ``env`` (reset with ``seed``) and record it.

    The loop is :func:`lnn_control.sim.rollout.run_episode`'s (events of a step first, then the
    command at the step's time), with the privileged events going to the expert.

    :param metadata: extra entries for the episode's metadata (source, round, beta, policy).
    """
    from lnn_control.sim.rollout import run_episode

    sensor: list[Sequence[SensorEvent]] = []
    privileged: list[Sequence[SensorEvent]] = []
    distance: list[float] = []

    def on_step(env: Any, observation: Any, info: dict[str, Any]) -> None:
        sensor.append(info["sensor_events"])
        privileged.append(info["privileged_events"])
        if "distance" in info:
            distance.append(float(info["distance"]))

    result = run_episode(env, mixture, seed, privileged=True, on_step=on_step)
    unwrapped = env.unwrapped
    mixture.label(unwrapped.now_ns)  # the last instant's label (no command follows it)
    spec = unwrapped.action_spec()
    actions = len(spec.names)
    meta = {
        "env_id": env.spec.id if env.spec is not None else type(unwrapped).__name__,
        "scenario": unwrapped.scenario.name,
        "seed": int(seed),
        "source": "expert",
        "round": 0,
        "beta": float(mixture.beta),
        "policy": None,
        "success": bool(result.success),
        "steps": int(result.steps),
        "episode_return": float(result.episode_return),
        "final_distance_m": float(result.final_distance),
        "terminated": bool(result.terminated),
        "action_names": list(spec.names),
        "action_units": list(spec.units),
        "stream_rates_hz": {name: float(t.rate_hz) for name, t in unwrapped.stream_timing.items()},
        **(metadata or {}),
    }
    return Episode(
        meta,
        np.asarray(mixture.stamps, dtype=np.int64),
        np.asarray(mixture.labels, dtype=np.float32).reshape(-1, actions),
        np.asarray(mixture.applied, dtype=np.float32).reshape(-1, actions),
        np.asarray(mixture.expert_applied, dtype=bool),
        np.asarray(distance, dtype=np.float32),
        EventLog.from_batches(sensor),
        EventLog.from_batches(privileged),
    )


@dataclass(frozen=True)
class CollectTask:
    """Record one episode driven by the expert (``policy_dir`` None) or a DAgger mixture.

    :param env: the env.
    :param seed: reset seed (also seeds the beta draws).
    :param path: the NPZ file to write; an existing one is kept (it holds this same episode).
    :param policy_dir: the learner's checkpoint folder.
    :param beta: probability of applying the expert's command at each control step.
    :param metadata: extra metadata entries (source, round).
    :param expert_options: keyword arguments of the expert's class.
    :param teacher: label with the env's privileged teacher instead of its expert.
    """

    env: EnvSpec
    seed: int
    path: str
    policy_dir: Optional[str] = None
    beta: float = 1.0
    metadata: dict[str, Any] = field(default_factory=dict)
    expert_options: dict[str, Any] = field(default_factory=dict)
    teacher: bool = False

    def run(self) -> dict[str, Any]:
        """Record the episode (unless its file exists); returns its metadata."""
        from lnn_control.sim.experts import make_expert

        if Path(self.path).exists():
            return load_episode(self.path).metadata
        env = worker_env(self.env)
        learner = None if self.policy_dir is None else worker_runtime(self.policy_dir)
        mixture = Mixture(
            make_expert(env.spec.id, self.expert_options, self.teacher),
            learner,
            frozenset(learner.specs) if learner is not None else frozenset(),
            self.beta if learner is not None else 1.0,
            np.random.default_rng([self.seed, 7]),
        )
        episode = collect_episode(env, mixture, self.seed, {**self.metadata, "policy": self.policy_dir})
        save_episode(episode, self.path)
        return episode.metadata


# -- one round ------------------------------------------------------------------------------------
def round_tasks(
    config: TrainConfig, env: EnvSpec, data: Path, learner: Optional[Path], round_index: int
) -> list[CollectTask]:
    """The episodes of round ``round_index``, one task each, written to ``data/seed_S.npz``.

    :param learner: the checkpoint folder of the policy that ended the previous round (None in
        round 0).
    """
    source = "expert" if round_index == 0 else "dagger"
    policy = None if learner is None else str(learner)
    return [
        CollectTask(env, seed, str(data / f"seed_{seed}.npz"), policy, round_beta(config, round_index),
                    {"source": source, "round": round_index}, config.expert, config.teacher)
        for seed in round_seeds(config, round_index)
    ]


def round_summary(round_index: int, beta: float, metadata: list[dict[str, Any]], update: int) -> dict[str, Any]:
    """How round ``round_index``'s rollouts went (from their episodes' ``metadata``): episodes,
    successes, the success rate and its Wilson 95 % interval, at training update ``update``."""
    successes = sum(m["success"] for m in metadata)
    low, high = wilson_interval(successes, len(metadata))
    return {"round": round_index, "beta": beta, "episodes": len(metadata), "successes": successes,
            "success_rate": successes / len(metadata), "ci95": [low, high], "update": update}
