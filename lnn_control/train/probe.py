"""What a policy's core state knows of the hidden physics: linear probes (issue 21, item 3).

A student taught by a privileged teacher (:mod:`lnn_control.sim.experts.teachers`) never sees the
episode's mass or wind; to command as the teacher does, its recurrent state has to carry an
estimate of them. :func:`probe_policy` measures that: it flies the policy through the runtime over
seeded episodes of a scenario that randomises the physics, records at every control step the core
state and the privileged ``physics`` value, fits a ridge regression from the state to each hidden
parameter of :data:`PROBED` on the first half of the episodes and reports its R^2 on the other half,
over the whole episode and per second since the reset (the estimate should improve as the episode
goes on). :func:`adaptation_traces` flies ``adaptation_ood`` episodes, one per change, and keeps
each probe's estimate beside the truth, for the plot of the estimate tracking a payload or a wind
step.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from lnn_control.policy.model import LiquidPolicy
from lnn_control.train.rollouts import env_spec_for

__all__ = ["PROBED", "Probe", "adaptation_traces", "fit_probe", "probe_policy", "record_episode"]

#: env id -> hidden parameter name -> its index in the env's ``physics`` value
PROBED: dict[str, dict[str, int]] = {
    "lnn_control/QuadHover-v0": {"mass_kg": 0, "wind_force_x_N": 12, "wind_force_y_N": 13},
    "lnn_control/QuadTarget-v0": {"mass_kg": 0, "wind_force_x_N": 12, "wind_force_y_N": 13},
    "lnn_control/ArmReach-v0": {"payload_kg": 12},
}


@dataclass(frozen=True)
class Probe:
    """A ridge regression from the core state ``(S,)`` to one hidden parameter.

    :param mean: ``(S,)`` state mean. :param scale: ``(S,)`` state standard deviation.
    :param weights: ``(S,)``. :param bias: the parameter's mean (its units).
    """

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float

    def __call__(self, states: np.ndarray) -> np.ndarray:
        """The estimates ``(N,)`` for core states ``(N, S)``."""
        return ((states - self.mean) / self.scale) @ self.weights + self.bias


def fit_probe(states: np.ndarray, values: np.ndarray, ridge: float = 1e-3) -> Probe:
    """Ridge regression of ``values`` ``(N,)`` on standardised ``states`` ``(N, S)``; ``ridge`` is
    the penalty per sample."""
    mean, scale = states.mean(axis=0), states.std(axis=0) + 1e-9
    x = (states - mean) / scale
    bias = float(values.mean())
    gram = x.T @ x + ridge * len(x) * np.eye(x.shape[1])
    return Probe(mean, scale, np.linalg.solve(gram, x.T @ (values - bias)), bias)


def _r2(truth: np.ndarray, estimate: np.ndarray) -> float:
    total = float(np.sum((truth - truth.mean()) ** 2))
    return 1.0 - float(np.sum((truth - estimate) ** 2)) / total if total > 0 else float("nan")


def record_episode(policy: LiquidPolicy, env: Any, seed: int) -> dict[str, np.ndarray]:
    """Fly one episode of ``policy`` through the runtime; per control step the time since the
    reset ``(K,)`` s, the core state ``(K, S)`` and the ``physics`` value ``(K, P)``."""
    from lnn_control.policy.runtime import PolicyRuntime
    from lnn_control.sim.rollout import run_episode

    runtime = PolicyRuntime(policy)
    rows: dict[str, list[Any]] = {"time": [], "state": [], "physics": []}

    def on_step(env: Any, observation: Any, info: dict[str, Any]) -> None:
        physics = next(e.value for e in info["privileged_events"] if e.stream == "physics")
        rows["time"].append(env.unwrapped.now_ns * 1e-9)
        rows["state"].append(runtime.state)
        rows["physics"].append(physics)

    run_episode(env, runtime, seed, privileged=False, on_step=on_step, streams=list(runtime.specs))
    return {key: np.asarray(value) for key, value in rows.items()}


def _episodes(policy: LiquidPolicy, env_id: str, scenario: str, seeds: range) -> Iterator[dict[str, np.ndarray]]:
    env = env_spec_for(env_id, scenario, policy.config).make()
    try:
        for seed in seeds:
            yield record_episode(policy, env, seed)
    finally:
        env.close()


def probe_policy(policy: LiquidPolicy, env_id: str, scenario: str, episodes: int, first_seed: int,
                 ) -> tuple[dict[str, Probe], dict[str, Any]]:
    """Fit a probe per hidden parameter of ``env_id`` (:data:`PROBED`) on the first half of
    ``episodes`` episodes of ``scenario`` (seeds ``first_seed, ...``) and test it on the rest.

    :return: the probes, and the figures: per parameter the held-out R^2 over all steps and per
        whole second since the reset (``by_second``: one entry per second of the episode).
    """
    recorded = list(_episodes(policy, env_id, scenario, range(first_seed, first_seed + episodes)))
    half = max(1, len(recorded) // 2)
    train, test = recorded[:half], recorded[half:] or recorded[:half]
    stack = {split: {key: np.concatenate([e[key] for e in part]) for key in ("time", "state", "physics")}
             for split, part in (("train", train), ("test", test))}
    probes, figures = {}, {}
    seconds = np.floor(stack["test"]["time"]).astype(int)
    for name, index in PROBED[env_id].items():
        probe = probes[name] = fit_probe(stack["train"]["state"], stack["train"]["physics"][:, index])
        truth, estimate = stack["test"]["physics"][:, index], probe(stack["test"]["state"])
        figures[name] = {
            "r2": _r2(truth, estimate),
            "by_second": [_r2(truth[seconds == s], estimate[seconds == s]) for s in range(seconds.max() + 1)],
        }
    return probes, {"scenario": scenario, "episodes": episodes, "first_seed": first_seed, "probes": figures}


def adaptation_traces(policy: LiquidPolicy, env_id: str, probes: dict[str, Probe], first_seed: int,
                      ) -> dict[str, dict[str, Any]]:
    """For each change of ``adaptation_ood`` the env makes, its first episode from ``first_seed``
    on: the time ``(K,)`` s, the change's instant s, and per probe the truth and the estimate."""
    env = env_spec_for(env_id, "adaptation_ood", policy.config).make()
    traces: dict[str, dict[str, Any]] = {}
    try:
        changes = set(env.unwrapped.CHANGES) & set(env.unwrapped.scenario.adaptation.changes)
        seed = first_seed
        while len(traces) < len(changes) and seed < first_seed + 100:
            episode = record_episode(policy, env, seed)
            change = env.unwrapped.change
            if change not in traces:
                traces[change] = {
                    "seed": seed, "time": episode["time"], "change_s": env.unwrapped.change_ns * 1e-9,
                    **{name: {"truth": episode["physics"][:, index], "estimate": probes[name](episode["state"])}
                       for name, index in PROBED[env_id].items()},
                }
            seed += 1
    finally:
        env.close()
    return traces
