"""``lnn-control bench train``: what a behaviour-cloning update of a camera policy costs, and
how much image augmentation adds to it.

For each camera recipe (``config/train/quad_target_teacher.yaml``, ``arm_reach_teacher.yaml``, or
``--configs``), it records as many short expert episodes in the recipe's training scenario as the
recipe has lanes (so every lane of a batch is full), then times ``--updates`` updates of
:func:`lnn_control.train.bc.fit` on them (the real update: batch assembly, the policy's forward and
backward pass, clipping, Adam) at the recipe's thread count, once without augmentation and once
with the recipe's ``augmentation`` section, and the augmentation alone on the same batches.

Target, as a ratio in the same run: an augmented update takes at most
:data:`AUGMENTED_TARGET` times a plain one. Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

__all__ = ["AUGMENTED_TARGET", "add_arguments", "run"]

#: an augmented update may take at most this many times a plain one
AUGMENTED_TARGET = 1.25
#: untimed updates first (allocator and oneDNN warm-up)
WARMUP = 3
RECIPES = ("quad_target_teacher", "arm_reach_teacher")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``lnn-control bench train``."""
    parser.add_argument("--json", default="out/bench_train.json", help="where to write results")
    parser.add_argument("--configs", default=",".join(RECIPES),
                        help="comma-separated training configs of config/train with an augmentation section")
    parser.add_argument("--updates", type=int, default=20, help="timed updates per case (>= 5)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run the benchmark; returns 0 (a missed target is reported, not an error)."""
    from lnn_control.bench.common import machine_info, print_table, write_json
    from lnn_control.errors import ConfigError

    if args.updates < 5:
        raise ConfigError(f"--updates must be at least 5, got {args.updates}")
    rows = [_recipe(name, args.updates) for name in args.configs.split(",") if name]
    print_table(
        "behaviour-cloning update of a camera policy, ms (the recipe's lanes x chunk steps)",
        ["recipe", "lanes x steps", "frames per batch", "plain", "augmented", "augmentation alone",
         "augmented / plain", f"target <= {AUGMENTED_TARGET}"],
        [[r["recipe"], f"{r['lanes']} x {r['chunk_steps']}", r["frames_per_batch"], r["plain_ms"],
          r["augmented_ms"], r["augmentation_ms"], r["ratio"], "met" if r["met"] else "MISSED"] for r in rows],
    )
    path = write_json(args.json, {"benchmark": "train", "machine": machine_info(), "target": AUGMENTED_TARGET,
                                  "updates": args.updates, "recipes": rows})
    print(f"wrote {path}")
    return 0


def _recipe(name: str, updates: int) -> dict[str, Any]:
    """Time one recipe's updates (see the module docstring)."""
    import gymnasium as gym
    import numpy as np
    import torch

    from lnn_control.errors import ConfigError
    from lnn_control.policy import LiquidPolicy
    from lnn_control.resources import config_dirs
    from lnn_control.sim.experts import AUXILIARY_LABELS, auxiliary_labels, make_expert
    from lnn_control.train.augment import augment_batch
    from lnn_control.train.bc import fit
    from lnn_control.train.config import BudgetConfig, load_train_config
    from lnn_control.train.dagger import Mixture, collect_episode
    from lnn_control.train.dataset import StepDataset
    from lnn_control.train.featurize import featurize_episode
    from lnn_control.train.rollouts import env_spec_for
    from lnn_control.train.state import TrainingState

    config, base = load_train_config(config_dirs("train")[0] / f"{name}.yaml")
    if config.augmentation is None:
        raise ConfigError(f"config/train/{name}.yaml has no augmentation section: nothing to compare")
    policy_config = config.policy_config(base)
    env_id, optim = config.env.id, config.optim
    torch.set_num_threads(config.threads)
    spec = env_spec_for(env_id, config.env.scenario, policy_config)
    steps = optim.chunk_steps
    env = gym.make(env_id, scenario=spec.scenario, streams=spec.streams, image_size=spec.image_size,
                   max_episode_steps=steps)
    labels = auxiliary_labels(env_id) if env_id in AUXILIARY_LABELS else None
    episodes = []
    for seed in range(optim.lanes):
        expert = Mixture(make_expert(env_id, config.expert, config.teacher), None, frozenset(), 1.0,
                         np.random.default_rng(seed))
        episodes.append(featurize_episode(policy_config, collect_episode(env, expert, 300_000 + seed), labels))
    env.close()
    data = StepDataset(policy_config, episodes)
    batch = data.batch(data.lanes(range(len(data)), optim.lanes)[:, :steps])
    frames = sum(int(f.shape[0]) for f in batch.frames.values())

    def fitted(augmentation: Any, count: int) -> float:
        """ms per update over ``count`` updates (epochs over all of ``data`` until that many)."""
        torch.manual_seed(0)
        policy = LiquidPolicy(policy_config)
        state = TrainingState()
        start = time.perf_counter()
        fit(policy, torch.optim.Adam(policy.parameters()), data, None, optim,
            BudgetConfig(max_epochs=count, max_updates=count, patience=0), state, config.seed, optim.learning_rate,
            augmentation=augmentation)
        return (time.perf_counter() - start) / state.update * 1e3

    fitted(config.augmentation, WARMUP)
    plain, augmented = fitted(None, updates), fitted(config.augmentation, updates)

    start = time.perf_counter()
    for chunk in range(updates):
        augment_batch(batch, config.augmentation, (config.seed, 0, 0, chunk))
    alone = (time.perf_counter() - start) / updates * 1e3
    return {"recipe": name, "lanes": optim.lanes, "chunk_steps": steps, "frames_per_batch": frames,
            "threads": config.threads, "plain_ms": plain, "augmented_ms": augmented, "augmentation_ms": alone,
            "ratio": augmented / plain, "met": augmented / plain <= AUGMENTED_TARGET}
