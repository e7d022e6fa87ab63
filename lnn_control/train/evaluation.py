"""The evaluation harness: a controller flies seeded episodes; success with a 95 % interval,
tracking error and failures by cause, per scenario.

A learned policy is evaluated as it is deployed: a :class:`~lnn_control.policy.PolicyRuntime`
receives the env's ``info["sensor_events"]`` (only the streams it declares, never a privileged
one) and the env applies ``to_action(runtime.command(now))`` at every control step, through the
simulation suite's own loop (:func:`lnn_control.sim.rollout.run_episode`). An expert, which
commands in the same physical units, is run the same way with the privileged events added; it
must score ~100 %.

Per episode: success (the env's ``is_success`` at the end), the tracking error (RMS distance to
the goal over the success window, the last ``HOLD_TIME`` s: 1 s for the quadrotors, 0.5 s for the
arm), the final distance and the failure's cause, the first that applies of:

=================  ==================================================================
``crash``          the episode ended early (the quadrotor hit the floor, left the arena,
                   flipped)
``non_finite``     the network produced a non-finite output (the runtime sent the safe
                   command)
``never_reached``  the distance never fell below the success radius (0.1 m; arm 0.02 m)
``not_held``       it came within the radius but was not inside it for the whole final
                   window (overshoot, drift, arriving too late)
=================  ==================================================================

In a scenario that changes the robot mid-episode (``adaptation``, e.g. ``adaptation_ood``), each
episode also reports the change, the largest distance to the goal from the change on
(``deviation_m``) and the recovery time (``recovery_s``): from the change until the distance is
within the success radius for the rest of the episode (0 if it never leaves; ``None`` if it ends
outside or crashed). The summary counts the episodes that recovered within
:data:`RECOVERY_LIMIT_S`.

The success rate's 95 % confidence interval is Wilson's score interval, which stays inside
[0, 1] and is not degenerate at 0 % or 100 %.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

import numpy as np

from lnn_control.policy.events import Controller
from lnn_control.units import NS_PER_S

__all__ = [
    "EpisodeOutcome",
    "RECOVERY_LIMIT_S",
    "ScenarioResult",
    "adaptation_line",
    "evaluate_episode",
    "success_window",
    "wilson_interval",
]

#: failure causes, in the order they are tested
CAUSES = ("crash", "non_finite", "never_reached", "not_held")
#: an adaptation episode counts as recovered when back within the radius for good this soon, s
RECOVERY_LIMIT_S = 2.0


def wilson_interval(successes: int, trials: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson's score interval of a binomial proportion (95 % for the default ``z``).

    :return: ``(low, high)`` in [0, 1]; ``(0, 1)`` when there are no trials.
    """
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    denominator = 1.0 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def success_window(env: Any) -> tuple[float, float]:
    """The env's success radius (m) and hold time (s): success is being within the radius for
    the last hold time of the episode."""
    unwrapped = env.unwrapped
    if hasattr(unwrapped, "HOLD_RADIUS"):
        return float(unwrapped.HOLD_RADIUS), float(unwrapped.HOLD_TIME)
    from lnn_control.sim.envs.quadrotor_env import HOLD_RADIUS, HOLD_TIME

    return HOLD_RADIUS, HOLD_TIME


@dataclass(frozen=True)
class EpisodeOutcome:
    """How one evaluation episode went.

    :param seed: the reset seed.
    :param success: the env's ``is_success`` at the end.
    :param steps: control steps taken.
    :param terminated: ended early (a crash).
    :param final_distance_m: distance to the goal at the end, m.
    :param tracking_error_m: RMS distance to the goal over the success window, m.
    :param min_distance_m: the closest the episode came to the goal, m.
    :param cause: why it failed (see the module docstring); ``None`` on success.
    :param episode_return: sum of rewards.
    :param change: the mid-episode change (scenario ``adaptation``), or None.
    :param deviation_m: the largest distance to the goal from the change on, m (None: no change).
    :param recovery_s: from the change until within the radius for good, s (None: no change, or
        never recovered).
    """

    seed: int
    success: bool
    steps: int
    terminated: bool
    final_distance_m: float
    tracking_error_m: float
    min_distance_m: float
    cause: Optional[str]
    episode_return: float
    change: Optional[str] = None
    deviation_m: Optional[float] = None
    recovery_s: Optional[float] = None


@dataclass
class ScenarioResult:
    """The episodes of one controller in one env and scenario."""

    env_id: str
    scenario: str
    episodes: list[EpisodeOutcome] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """JSON-ready figures: success rate, its Wilson 95 % interval, mean tracking error and
        final distance, failures by cause and the failed seeds."""
        count = len(self.episodes)
        successes = sum(e.success for e in self.episodes)
        low, high = wilson_interval(successes, count)
        failures = {cause: sum(e.cause == cause for e in self.episodes) for cause in CAUSES}

        def mean(key: str) -> float:
            return float(np.mean([getattr(e, key) for e in self.episodes])) if count else float("nan")

        adaptation = {"adaptation": self.adaptation()} if any(e.change for e in self.episodes) else {}
        return {
            "env": self.env_id,
            "scenario": self.scenario,
            "episodes": count,
            "successes": successes,
            "success_rate": successes / count if count else 0.0,
            "ci95": [low, high],
            "tracking_error_m": mean("tracking_error_m"),
            "final_distance_m": mean("final_distance_m"),
            "failures": failures,
            "failed_seeds": [e.seed for e in self.episodes if not e.success],
            **adaptation,
        }

    def adaptation(self) -> dict[str, Any]:
        """How the episodes with a mid-episode change took it: per change and over all, the
        episodes, those recovered within :data:`RECOVERY_LIMIT_S` (rate and Wilson 95 % interval),
        the mean and largest deviation (m) and the median recovery time (s, of those recovered)."""
        changed = [e for e in self.episodes if e.change]
        groups = {"all": changed, **{c: [e for e in changed if e.change == c] for c in sorted({e.change for e in changed})}}
        figures = {}
        for name, episodes in groups.items():
            recovered = [e.recovery_s for e in episodes if e.recovery_s is not None and e.recovery_s <= RECOVERY_LIMIT_S]
            deviations = [e.deviation_m for e in episodes]
            times = [e.recovery_s for e in episodes if e.recovery_s is not None]
            figures[name] = {
                "episodes": len(episodes),
                "recovered": len(recovered),
                "recovered_rate": len(recovered) / len(episodes),
                "ci95": list(wilson_interval(len(recovered), len(episodes))),
                "deviation_m_mean": float(np.mean(deviations)),
                "deviation_m_max": float(np.max(deviations)),
                "recovery_s_median": float(np.median(times)) if times else None,
            }
        return figures

    def to_dict(self) -> dict[str, Any]:
        """The summary plus every episode."""
        return {**self.summary(), "per_episode": [asdict(e) for e in self.episodes]}


def adaptation_line(summary: dict[str, Any]) -> str:
    """One line on how a scenario's mid-episode changes were taken (its summary's
    ``adaptation``), e.g. ``recovered within 2 s: 97/100 (91.5%-99.0%); payload 49/50, ...``."""
    figures = summary["adaptation"]
    overall = figures["all"]
    parts = [f"{name} {f['recovered']}/{f['episodes']}, deviation mean {f['deviation_m_mean']:.3f} m "
             f"max {f['deviation_m_max']:.3f} m" for name, f in figures.items() if name != "all"]
    median = overall["recovery_s_median"]
    return (f"recovered within {RECOVERY_LIMIT_S:g} s: {overall['recovered']}/{overall['episodes']} "
            f"({overall['ci95'][0]:.1%}-{overall['ci95'][1]:.1%}), median recovery "
            f"{'-' if median is None else f'{median:.2f} s'}; " + "; ".join(parts))


def evaluate_episode(
    env: Any, controller: Controller, seed: int, privileged: bool, streams: Optional[Collection[str]] = None
) -> EpisodeOutcome:
    """Run one episode of ``controller`` (commanding in the env's physical units) in ``env`` and
    judge it (see the module docstring).

    :param privileged: give the controller the privileged events too (experts only).
    :param streams: the streams it reads (a policy's declared streams); ``None``: every event.
    """
    from lnn_control.sim.rollout import run_episode

    distances: list[float] = []
    stamps: list[int] = []

    def on_step(env: Any, observation: Any, info: dict[str, Any]) -> None:
        if "distance" in info:
            distances.append(float(info["distance"]))
            stamps.append(env.unwrapped.now_ns)

    result = run_episode(env, controller, seed, privileged=privileged, on_step=on_step, streams=streams)
    radius, hold = success_window(env)
    window = max(1, round(hold / env.unwrapped.control_dt))
    tail = np.asarray(distances[-window:]) if distances else np.asarray([np.inf])
    stats = getattr(controller, "stats", None)
    non_finite = int(getattr(stats, "non_finite", 0))
    closest = float(min(distances)) if distances else float("inf")
    cause = None
    if not result.success:
        if result.terminated:
            cause = "crash"
        elif non_finite:
            cause = "non_finite"
        elif closest >= radius:
            cause = "never_reached"
        else:
            cause = "not_held"
    return EpisodeOutcome(
        **_adaptation(env.unwrapped, stamps, distances, radius, result.terminated),
        seed=int(seed),
        success=bool(result.success),
        steps=int(result.steps),
        terminated=bool(result.terminated),
        final_distance_m=float(result.final_distance),
        tracking_error_m=float(np.sqrt(np.mean(np.square(tail)))),
        min_distance_m=closest,
        cause=cause,
        episode_return=float(result.episode_return),
    )


def _adaptation(env: Any, stamps: list[int], distances: list[float], radius: float, crashed: bool) -> dict[str, Any]:
    """The change, deviation (m) and recovery time (s) of an episode whose env changed mid-episode
    (``env.change_ns``); distances ``(K,)`` m at the control instants ``stamps`` ``(K,)`` ns."""
    change_ns = env.change_ns
    if change_ns is None:
        return {}
    after = [(stamp, distance) for stamp, distance in zip(stamps, distances) if stamp > change_ns]
    outside = [index for index, (_, distance) in enumerate(after) if distance >= radius]
    if crashed or (outside and outside[-1] == len(after) - 1):
        recovery = None
    else:  # inside from the instant after the last one outside
        recovery = (after[outside[-1] + 1][0] - change_ns) / NS_PER_S if outside else 0.0
    return {"change": env.change, "deviation_m": max(d for _, d in after), "recovery_s": recovery}
