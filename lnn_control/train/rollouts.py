"""Seeded episodes run in worker processes: demonstrations, DAgger rollouts and evaluation.

An episode is a task (:class:`CollectTask` records one to an NPZ file, :class:`EvaluateTask`
judges one); each task is self-contained (env, seed, the policy checkpoint folder), so the
result does not depend on which worker runs it or in which order. Workers keep their env,
expert and loaded policies between tasks. With ``workers <= 1`` tasks run in this process.

Workers are spawned (not forked: the parent may hold an OpenGL context or torch threads) and run
torch on one thread each; the parent trains while none run.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Optional, Union

import numpy as np

from lnn_control.errors import ConfigError
from lnn_control.policy.config import ActionSpec, PolicyConfig

__all__ = [
    "CollectTask",
    "EnvSpec",
    "EpisodeRunner",
    "EvaluateTask",
    "env_spec_for",
    "make_labelling_expert",
    "run_task",
]


@dataclass(frozen=True)
class EnvSpec:
    """How to make the env an episode runs in.

    :param env_id: registered id.
    :param scenario: scenario name or YAML path.
    :param streams: the observed streams.
    :param image_size: camera side, pixels (``None``: the env's default).
    """

    env_id: str
    scenario: str
    streams: tuple[str, ...]
    image_size: Optional[int] = None

    def make(self) -> Any:
        import gymnasium as gym

        import lnn_control.sim.envs  # noqa: F401  (registers the envs)

        kwargs: dict[str, Any] = {"scenario": self.scenario, "streams": self.streams}
        if self.image_size is not None:
            kwargs["image_size"] = self.image_size
        return gym.make(self.env_id, **kwargs)


def env_spec_for(env_id: str, scenario: str, config: PolicyConfig) -> EnvSpec:
    """The env a policy of ``config`` flies in: its streams plus the env's default non-image
    streams (an expert may read one the policy does not, e.g. QuadHover's goal; events of
    streams a policy does not declare never reach it), cameras at the policy's image size."""
    import gymnasium as gym

    import lnn_control.sim.envs  # noqa: F401

    entry = gym.spec(env_id).entry_point
    module, name = str(entry).split(":")
    import importlib

    env_class = getattr(importlib.import_module(module), name)
    streams = [spec.name for spec in config.streams]
    for extra in env_class.DEFAULT_STREAMS:
        if extra not in streams and env_class.STREAMS[extra].kind != "image":
            streams.append(extra)
    sizes = {(s.height, s.width) for s in config.streams if s.kind == "image"}
    if len(sizes) > 1 or any(h != w for h, w in sizes):
        raise ConfigError(f"the env renders square images of one size; the policy's image streams are {sorted(sizes)}")
    image_size = next(iter(sizes))[0] if sizes else None
    return EnvSpec(env_id, scenario, tuple(streams), image_size)


def check_actions(env: EnvSpec, actions: ActionSpec) -> None:
    """The policy must command in ``env``'s physical units and limits (its ``action_spec()``);
    raises :class:`ConfigError` naming the entry that differs."""
    made = env.make()
    try:
        spec = made.unwrapped.action_spec()
    finally:
        made.close()
    if list(actions.names) != list(spec.names):
        raise ConfigError(f"model actions.names {actions.names} differ from the env's {spec.names}")
    for key in ("low", "high"):
        theirs, mine = list(getattr(spec, key)), list(getattr(actions, key))
        if any(abs(a - b) > 1e-6 * max(1.0, abs(b)) for a, b in zip(mine, theirs)):
            raise ConfigError(
                f"model actions.{key} {mine} differ from {env.env_id}'s action_spec() "
                f"{theirs}: the policy must command in the env's physical limits"
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
    """

    env: EnvSpec
    seed: int
    path: str
    policy_dir: Optional[str] = None
    beta: float = 1.0
    metadata: dict[str, Any] = field(default_factory=dict)
    expert_options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EvaluateTask:
    """Judge one episode of a policy checkpoint (``policy_dir``) or, if None, of the expert."""

    env: EnvSpec
    seed: int
    policy_dir: Optional[str] = None


Task = Union[CollectTask, EvaluateTask]

# -- per-process caches (a worker runs many tasks) ------------------------------------------------
_ENVS: dict[EnvSpec, Any] = {}
_POLICIES: dict[str, Any] = {}


def _env(spec: EnvSpec) -> Any:
    if spec not in _ENVS:
        _ENVS[spec] = spec.make()
    return _ENVS[spec]


def _runtime(policy_dir: str) -> Any:
    """A fresh runtime on a cached policy (the runtime holds the episode state)."""
    from lnn_control.policy import PolicyRuntime, load_checkpoint

    if policy_dir not in _POLICIES:
        _POLICIES[policy_dir] = load_checkpoint(policy_dir)
    return PolicyRuntime(_POLICIES[policy_dir])


def make_labelling_expert(env_id: str, options: Optional[dict[str, Any]] = None) -> Any:
    """The expert of ``env_id`` (:data:`lnn_control.sim.experts.EXPERTS`) built with ``options``
    as keyword arguments (its gains); a :class:`ConfigError` naming a bad option."""
    import importlib

    from lnn_control.sim.experts import EXPERTS, make_expert

    if not options:
        return make_expert(env_id)
    import inspect

    module, name = EXPERTS[env_id].split(":")
    cls = getattr(importlib.import_module(module), name)
    known = [p for p in inspect.signature(cls).parameters if p != "params"]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ConfigError(f"expert: {name} has no option {unknown[0]!r}; its options are {known}")
    return cls(**options)


def _expert(env: Any, options: Optional[dict[str, Any]] = None) -> Any:
    from lnn_control.sim.experts.as_policy import PhysicalCommands

    return PhysicalCommands(make_labelling_expert(env.spec.id, options), env.unwrapped.action_spec())


def run_task(task: Task) -> dict[str, Any]:
    """Run one task; returns the episode's metadata (collect) or outcome (evaluate) as a dict."""
    from dataclasses import asdict

    from lnn_control.train.demonstrations import Demonstrator, collect_episode, load_episode, save_episode
    from lnn_control.train.evaluation import EnvCommands, evaluate_episode

    if isinstance(task, CollectTask) and os.path.exists(task.path):
        return load_episode(task.path).metadata
    env = _env(task.env)
    unwrapped = env.unwrapped
    if isinstance(task, EvaluateTask):
        if task.policy_dir is None:
            controller = EnvCommands(_expert(env), unwrapped.to_action)
            return asdict(evaluate_episode(env, controller, task.seed, privileged=True))
        runtime = _runtime(task.policy_dir)
        controller = EnvCommands(runtime, unwrapped.to_action, list(runtime.specs))
        return asdict(evaluate_episode(env, controller, task.seed, privileged=False))
    learner = None if task.policy_dir is None else _runtime(task.policy_dir)
    demonstrator = Demonstrator(
        _expert(env, task.expert_options),
        unwrapped.to_action,
        learner,
        frozenset(learner.specs) if learner is not None else frozenset(),
        task.beta if learner is not None else 1.0,
        np.random.default_rng([task.seed, 7]),
    )
    metadata = {**task.metadata, "policy": task.policy_dir}
    episode = collect_episode(env, demonstrator, task.seed, metadata)
    save_episode(episode, task.path)
    return episode.metadata


def _start_worker() -> None:
    import torch

    torch.set_num_threads(1)
    os.environ.setdefault("MUJOCO_GL", "egl")


class EpisodeRunner:
    """Runs tasks in ``workers`` processes (``<= 1``: in this process); a context manager.

    :param workers: number of worker processes.
    """

    def __init__(self, workers: int) -> None:
        self.workers = int(workers)
        self._pool: Optional[ProcessPoolExecutor] = None

    def __enter__(self) -> EpisodeRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def map(self, tasks: Sequence[Task], done: Optional[Callable[[int], None]] = None) -> list[dict[str, Any]]:
        """Run ``tasks``; results in task order. ``done(count)`` is called as they finish."""
        results: list[dict[str, Any]] = []
        for result in self._run(tasks):
            results.append(result)
            if done is not None:
                done(len(results))
        return results

    def _run(self, tasks: Sequence[Task]) -> Iterator[dict[str, Any]]:
        if self.workers <= 1 or len(tasks) <= 1:
            return (run_task(task) for task in tasks)
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker
            )
        return self._pool.map(run_task, tasks, chunksize=1)
