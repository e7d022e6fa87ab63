"""Seeded episodes run in worker processes: demonstrations, DAgger rollouts and evaluation.

An episode is a task with a ``run()`` method (:class:`~lnn_control.train.dagger.CollectTask`
records one to an NPZ file, :class:`EvaluateTask` judges one); each task is self-contained (env,
seed, the policy checkpoint folder), so the result does not depend on which worker runs it or in
which order. Workers keep their envs and loaded policies between tasks (:func:`worker_env`,
:func:`worker_runtime`). With ``workers <= 1`` tasks run in this process.

Workers are spawned (not forked: the parent may hold an OpenGL context or torch threads) and run
torch on one thread each; the parent trains while none run.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, Optional, Protocol

from lnn_control.errors import ConfigError
from lnn_control.policy.config import ActionSpec, PolicyConfig

__all__ = [
    "EnvSpec",
    "EpisodeRunner",
    "EvaluateTask",
    "Task",
    "check_actions",
    "env_spec_for",
    "run_task",
    "worker_env",
    "worker_runtime",
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


class Task(Protocol):
    """One self-contained episode for a worker; ``run()`` returns its result as a JSON-ready dict."""

    def run(self) -> dict[str, Any]: ...


# -- per-process caches (a worker runs many tasks) ------------------------------------------------
_ENVS: dict[EnvSpec, Any] = {}
_POLICIES: dict[str, Any] = {}


def worker_env(spec: EnvSpec) -> Any:
    """This process's env for ``spec``, made at its first use and kept."""
    if spec not in _ENVS:
        _ENVS[spec] = spec.make()
    return _ENVS[spec]


def worker_runtime(policy_dir: str) -> Any:
    """A fresh :class:`~lnn_control.policy.PolicyRuntime` (it holds the episode's state) on the
    policy of checkpoint folder ``policy_dir``, loaded at its first use and kept."""
    from lnn_control.policy import PolicyRuntime, load_checkpoint

    if policy_dir not in _POLICIES:
        _POLICIES[policy_dir] = load_checkpoint(policy_dir)
    return PolicyRuntime(_POLICIES[policy_dir])


@dataclass(frozen=True)
class EvaluateTask:
    """Judge one episode of a policy checkpoint (``policy_dir``) or, if None, of the expert (its
    privileged teacher if ``teacher``)."""

    env: EnvSpec
    seed: int
    policy_dir: Optional[str] = None
    teacher: bool = False

    def run(self) -> dict[str, Any]:
        """The episode's :class:`~lnn_control.train.evaluation.EpisodeOutcome` as a dict."""
        from dataclasses import asdict

        from lnn_control.sim.experts import make_expert
        from lnn_control.train.evaluation import evaluate_episode

        env = worker_env(self.env)
        if self.policy_dir is None:
            expert = make_expert(env.spec.id, teacher=self.teacher)
            return asdict(evaluate_episode(env, expert, self.seed, privileged=True))
        runtime = worker_runtime(self.policy_dir)
        return asdict(evaluate_episode(env, runtime, self.seed, privileged=False, streams=list(runtime.specs)))


def run_task(task: Task) -> dict[str, Any]:
    """Run one task (in a worker or here): ``task.run()``."""
    return task.run()


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
