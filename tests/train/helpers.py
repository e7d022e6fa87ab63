"""Shared pieces of the training tests: short recorded episodes, policies from config/models,
training configs of config/train shrunk to a tiny budget, and killing a training command mid-run."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Optional

import gymnasium as gym
import numpy as np
import torch
import yaml

import lnn_control.sim.envs  # noqa: F401  (registers the envs)
from lnn_control.config import load_config
from lnn_control.policy import LiquidPolicy, PolicyConfig
from lnn_control.policy.runtime import PolicyRuntime
from lnn_control.sim.experts import make_expert
from lnn_control.train.dagger import Mixture, collect_episode
from lnn_control.train.demonstrations import Episode

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "config" / "models"
TRAIN_CONFIGS = ROOT / "config" / "train"
HOVER = "lnn_control/QuadHover-v0"
TARGET = "lnn_control/QuadTarget-v0"


def policy_config(name: str, **control: Any) -> PolicyConfig:
    """``config/models/<name>.yaml``, with ``control`` fields replaced."""
    loaded = load_config(PolicyConfig, MODELS / f"{name}.yaml")
    if control:
        loaded = dataclasses.replace(loaded, control=dataclasses.replace(loaded.control, **control))
    return loaded


def make_policy(config: PolicyConfig, seed: int = 0) -> LiquidPolicy:
    torch.manual_seed(seed)
    return LiquidPolicy(config).eval()


def short_env(env_id: str, steps: int, scenario: str = "nominal", streams: Optional[tuple[str, ...]] = None) -> gym.Env:
    """An env whose episodes end after ``steps`` control steps."""
    kwargs: dict[str, Any] = {"scenario": scenario, "max_episode_steps": steps}
    if streams is not None:
        kwargs["streams"] = streams
    return gym.make(env_id, **kwargs)


def record(
    env: gym.Env, seed: int, learner: Optional[PolicyRuntime] = None, beta: float = 1.0
) -> Episode:
    """One episode of ``env`` driven by its expert (or the DAgger mixture with ``learner``)."""
    streams = frozenset(learner.specs) if learner is not None else frozenset()
    mixture = Mixture(make_expert(env.spec.id), learner, streams, beta, np.random.default_rng(seed))
    return collect_episode(env, mixture, seed)


def tiny_config(name: str, folder: Path, **sections: dict[str, Any]) -> Path:
    """``config/train/<name>.yaml`` with a tiny budget (sections merged over it), written to
    ``folder``; the model path is made absolute."""
    data = yaml.safe_load((TRAIN_CONFIGS / f"{name}.yaml").read_text())
    data["model"] = str((TRAIN_CONFIGS / data["model"]).resolve())
    tiny = {
        "workers": 0,
        "demonstrations": {"episodes": 2},
        "optim": {"lanes": 2, "chunk_steps": 50},
        "bc": {"max_epochs": 1, "max_updates": 2, "patience": 1},
        "dagger": {"rounds": 1, "episodes": 1, "beta": [0.0], "budget": {"max_epochs": 1, "max_updates": 2}},
        "checkpoint": {"every_updates": 1},
        "evaluation": {"episodes": 1, "scenarios": ["nominal"]},
    }
    for key, value in {**tiny, **sections}.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    path = folder / f"{name}_tiny.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def kill_when(command: list[str], marker: Path) -> None:
    """Run ``command`` (a CLI process in the repository) and SIGKILL it as soon as ``marker``
    exists; fails the test if it ended before that."""
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300  # a guard against a hung child, not a speed requirement
    while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, process.stderr.read().decode() if process.stderr else ""
