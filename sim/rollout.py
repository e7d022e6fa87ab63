"""Run a controller in an env: one episode, or an evaluation over seeded episodes.

Drives any :class:`~lnn_control.policy.events.Controller` with the env's sensor events (and, for
experts, the privileged ones) exactly as a robot would: events of a step first, then ``command``
at the step's time. Controllers command in physical units (the env's ``action_spec()``); the
env's ``to_action`` turns each command into its normalised action here, and only here.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from lnn_control.policy.events import Controller
from lnn_control.sim.events import feed
from lnn_control.sim.scenarios import Scenario, resolve_scenario

__all__ = ["EpisodeResult", "Evaluation", "evaluate", "run_episode"]

#: called after every step with (env, observation, info)
StepHook = Callable[[gym.Env, dict[str, np.ndarray], dict[str, Any]], None]


@dataclass(frozen=True)
class EpisodeResult:
    """How one episode went.

    :param seed: the reset seed.
    :param success: ``info["is_success"]`` at the last step.
    :param steps: control steps taken.
    :param episode_return: sum of rewards.
    :param final_distance: distance to the goal at the end, m.
    :param terminated: True if it ended early (a crash).
    """

    seed: int
    success: bool
    steps: int
    episode_return: float
    final_distance: float
    terminated: bool


@dataclass(frozen=True)
class Evaluation:
    """Episodes of one controller in one env and scenario."""

    env_id: str
    scenario: str
    episodes: list[EpisodeResult] = field(default_factory=list)

    @property
    def success_rate(self) -> float:
        """Fraction of successful episodes."""
        return float(np.mean([e.success for e in self.episodes])) if self.episodes else 0.0

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "env": self.env_id,
            "scenario": self.scenario,
            "episodes": len(self.episodes),
            "success_rate": self.success_rate,
            "failed_seeds": [e.seed for e in self.episodes if not e.success],
            "mean_final_distance_m": float(np.mean([e.final_distance for e in self.episodes])),
            "crashes": sum(e.terminated for e in self.episodes),
        }


def run_episode(
    env: gym.Env,
    controller: Controller,
    seed: int,
    privileged: bool = True,
    on_step: StepHook | None = None,
    streams: Collection[str] | None = None,
) -> EpisodeResult:
    """Run one episode of ``controller`` in ``env`` (reset with ``seed``) until it ends; the env
    applies ``to_action(controller.command(now))`` at every control step.

    :param privileged: also give the controller the privileged events (True for experts).
    :param on_step: called after the reset and after every step with ``(env, observation, info)``.
    :param streams: the streams the controller reads (a policy's declared streams); ``None``:
        every event it is given.
    """
    observation, info = env.reset(seed=seed)
    controller.reset()
    unwrapped: Any = env.unwrapped
    wanted = None if streams is None else frozenset(streams)
    total, steps = 0.0, 0
    terminated = truncated = False
    while True:
        events = (info["sensor_events"], info["privileged_events"] if privileged else ())
        if wanted is not None:
            events = tuple([e for e in batch if e.stream in wanted] for batch in events)
        feed(controller, *events)
        if on_step is not None:
            on_step(env, observation, info)
        if terminated or truncated:
            break
        action = unwrapped.to_action(controller.command(unwrapped.now_ns))
        observation, reward, terminated, truncated, info = env.step(action)
        total += float(reward)
        steps += 1
    return EpisodeResult(
        seed=seed,
        success=bool(info.get("is_success", False)),
        steps=steps,
        episode_return=total,
        final_distance=float(info.get("distance", float("nan"))),
        terminated=bool(terminated),
    )


def evaluate(
    env_id: str,
    controller: Controller,
    episodes: int,
    scenario: str | Scenario = "nominal",
    first_seed: int = 0,
    privileged: bool = True,
    progress: bool = False,
    **env_kwargs: Any,
) -> Evaluation:
    """Run ``episodes`` episodes seeded ``first_seed, first_seed + 1, ...``.

    :param progress: show a progress bar (rich) on the terminal.
    """
    import lnn_control.sim.envs  # noqa: F401  (registers the envs)

    resolved = resolve_scenario(scenario)
    env = gym.make(env_id, scenario=resolved, **env_kwargs)
    result = Evaluation(env_id, resolved.name)
    seeds = range(first_seed, first_seed + episodes)
    try:
        if progress:
            from rich.progress import track

            seeds = track(seeds, description=f"{env_id} [{resolved.name}]")  # type: ignore[assignment]
        for seed in seeds:
            result.episodes.append(run_episode(env, controller, seed, privileged))
    finally:
        env.close()
    return result
