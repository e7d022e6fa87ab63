"""``lnn-control bench rl``: RL collection and update throughput beside the raw vector env.

For each scenario and batch size ``N`` (random actions in ``[-1, 1]``, so episodes crash, time out
and autoreset):

- reference: the raw :class:`~lnn_control.sim.envs.quad_hover_vector.QuadHoverVectorEnv` (its
  ``step`` alone);
- batched blocks: the same env with ``messages=True`` and
  :class:`~lnn_control.train.rl.batched_steps.BatchedStepBlocks` turning every period's messages into
  the ``(N, max_substeps, width)`` blocks RL trains on;
- collection: what ``lnn-control rl`` with ``batched: true`` does between updates, sb3's
  ``collect_rollouts`` over :class:`~lnn_control.train.rl.collection.BatchedStepsVecEnv` with the
  policy (default: the CfC/NCP of ``config/models/quad_hover_cfc.yaml``) stepped for all envs in
  one call: the target, >= 20,000 control steps/s;
- update: PPO's update of that rollout (transitions per second over all epochs);
- for scale, the per-env path RL used before: one ``QuadHover-v0`` wrapped in
  :class:`~lnn_control.train.rl.observation.NetworkStepsEnv` (its Python aligner), no policy.

Ratios are over the raw vector env of the same size in the same run.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

__all__ = ["add_arguments", "run"]

TARGET_STEPS_PER_S = 20_000.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the RL collection benchmark."""
    parser.add_argument("--json", help="write the results to this JSON file")
    parser.add_argument("--num-envs", type=int, nargs="+", default=[256, 1024], help="batch sizes")
    parser.add_argument("--scenarios", nargs="+", default=["nominal"], help="sim scenarios")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (and mujoco.batch threads)")
    parser.add_argument("--model", default=None,
                        help="policy config YAML (default: the installed config/models/quad_hover_cfc.yaml)")
    parser.add_argument("--max-substeps", type=int, default=16,
                        help="rows of a block (timing_ood's IMU at up to 400 Hz steps up to ~10 times a period)")
    parser.add_argument("--seconds", type=float, default=3.0, help="timed seconds per measurement")
    parser.set_defaults(handler=run)


def _rate(step: Callable[[], object], seconds: float, batch: int) -> float:
    """Control steps per second of ``step`` (``batch`` per call) over about ``seconds`` after a
    few untimed calls."""
    for _ in range(5):
        step()
    calls, start = 0, time.perf_counter()
    while True:
        for _ in range(8):
            step()
        calls += 8
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return calls * batch / elapsed


def _collection(config: Any, max_substeps: int, num_envs: int, scenario: str, threads: int,
                rollouts: int = 4) -> tuple[float, float]:
    """Control steps/s of sb3's ``collect_rollouts`` with ``config``'s policy over ``num_envs``
    batched envs, and PPO update transitions/s over all epochs, each the median over ``rollouts``
    rollouts after an untimed first one. PPO is ``config/rl/quad_hover_scratch.yaml``'s (privileged
    critic included), with minibatches of a quarter of the rollout, as there, and every epoch run
    (no early stop on the KL), so that each update does the same work."""
    import dataclasses

    import numpy as np
    import torch

    from lnn_control.bench.common import config_path
    from lnn_control.train.rl.algorithm import make_ppo
    from lnn_control.train.rl.collection import BatchedStepsVecEnv
    from lnn_control.train.rl.config import load_rl_config

    recipe, _ = load_rl_config(config_path("rl/quad_hover_scratch.yaml"))
    ppo = dataclasses.replace(recipe.ppo, batch_size=recipe.ppo.n_steps * num_envs // 4, target_kl=None)
    torch.set_num_threads(threads)
    venv = BatchedStepsVecEnv(config, max_substeps, num_envs, scenario, nthread=threads,
                              privileged=ppo.privileged_critic)
    model = make_ppo(ppo, venv, config, seed=0)
    venv.seed(0)
    callback = model.collect_outside_learn()
    collect, update = [], []
    for _ in range(rollouts + 1):
        start = time.perf_counter()
        model.collect_rollouts(model.env, callback, model.rollout_buffer, n_rollout_steps=ppo.n_steps)
        collect.append(ppo.n_steps * num_envs / (time.perf_counter() - start))
        start = time.perf_counter()
        model.train()
        update.append(ppo.n_epochs * ppo.n_steps * num_envs / (time.perf_counter() - start))
    venv.close()
    return float(np.median(collect[1:])), float(np.median(update[1:]))


def run(args: argparse.Namespace) -> int:
    import gymnasium as gym
    import numpy as np

    import lnn_control.sim.envs  # noqa: F401  (registers the envs)
    from lnn_control.bench.common import config_path, machine_info, print_table, write_json
    from lnn_control.config import load_config
    from lnn_control.policy.config import PolicyConfig
    from lnn_control.sim.envs.quad_hover_vector import QuadHoverVectorEnv
    from lnn_control.train.rl.batched_steps import BatchedStepBlocks
    from lnn_control.train.rl.observation import NetworkStepsEnv

    model = args.model or config_path("models/quad_hover_cfc.yaml")
    config = load_config(PolicyConfig, model)
    streams = tuple(spec.name for spec in config.streams)
    rng = np.random.default_rng(0)
    results: dict[str, Any] = {"model": str(model), "max_substeps": args.max_substeps, "rows": []}
    rows: list[list[object]] = []
    for scenario in args.scenarios:
        single = NetworkStepsEnv(gym.make("lnn_control/QuadHover-v0", scenario=scenario, streams=streams),
                                 config, args.max_substeps)
        single.reset(seed=0)
        single_actions = rng.uniform(-1.0, 1.0, (64, 4)).astype(np.float32)
        taken = 0

        def single_step(env: NetworkStepsEnv = single, actions: np.ndarray = single_actions) -> None:
            nonlocal taken
            _, _, terminated, truncated, _ = env.step(actions[taken % len(actions)])
            taken += 1
            if terminated or truncated:
                env.reset()

        per_env = _rate(single_step, args.seconds, 1)
        single.close()
        rows.append([f"{scenario}: per-env path, no policy (QuadHover-v0 + NetworkStepsEnv)", 1, per_env, None, None])
        results["rows"].append({"scenario": scenario, "path": "per_env", "num_envs": 1, "steps_per_s": per_env})
        for num_envs in args.num_envs:
            actions = rng.uniform(-1.0, 1.0, (16, num_envs, 4))
            measured = {}
            for messages in (False, True):
                env = QuadHoverVectorEnv(num_envs, scenario, streams, nthread=args.threads, messages=messages)
                _, infos = env.reset(seed=0)
                blocks = BatchedStepBlocks(config, args.max_substeps, num_envs) if messages else None
                if blocks is not None:
                    blocks.reset(infos)
                count = 0

                def step(env: QuadHoverVectorEnv = env, blocks: Any = blocks, actions: np.ndarray = actions) -> None:
                    nonlocal count
                    _, _, _, _, infos = env.step(actions[count % len(actions)])
                    count += 1
                    if blocks is not None:
                        blocks.step(infos)

                measured[messages] = _rate(step, args.seconds, num_envs)
                env.close()
            raw, batched = measured[False], measured[True]
            collected, updated = _collection(config, args.max_substeps, num_envs, scenario, args.threads)
            rows.append([f"{scenario}: raw vector env (reference)", num_envs, raw, None, 1.0])
            rows.append([f"{scenario}: + messages + BatchedStepBlocks", num_envs, batched, None, batched / raw])
            rows.append([f"{scenario}: collection with the policy (sb3 collect_rollouts)", num_envs, collected,
                         TARGET_STEPS_PER_S, collected / raw])
            rows.append([f"{scenario}: PPO update, transitions/s over its epochs", num_envs, updated, None, None])
            results["rows"] += [
                {"scenario": scenario, "path": "raw_vector", "num_envs": num_envs, "steps_per_s": raw},
                {"scenario": scenario, "path": "batched_blocks", "num_envs": num_envs, "steps_per_s": batched,
                 "ratio_to_raw": batched / raw, "speedup_over_per_env": batched / per_env},
                {"scenario": scenario, "path": "collection", "num_envs": num_envs, "steps_per_s": collected,
                 "ratio_to_raw": collected / raw},
                {"scenario": scenario, "path": "update", "num_envs": num_envs, "transitions_per_s": updated},
            ]
    best = max(row["steps_per_s"] for row in results["rows"] if row["path"] == "collection")
    results["target_steps_per_s"] = TARGET_STEPS_PER_S
    results["met"] = best >= TARGET_STEPS_PER_S
    results["machine"] = machine_info()
    results["seconds"] = args.seconds
    print_table("RL collection: control steps/s (ratio: over the raw vector env of the same size, same run)",
                ["measurement", "envs", "steps/s", "target", "ratio"], rows)
    print(f"target {TARGET_STEPS_PER_S:,.0f} control steps/s of collection with the policy: {'met' if results['met'] else 'MISSED'} "
          f"(best {best:,.0f})")
    if args.json:
        print(f"wrote {write_json(args.json, results)}")
    return 0

