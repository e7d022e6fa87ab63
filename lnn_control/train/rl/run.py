"""One RL run, from scratch or as fine-tuning, into a run folder.

**From scratch** (``model``) the encoders are standardised on the initial policy's own flights
(``statistics_steps``); **fine-tuning** (``init``) starts from a checkpoint
(:mod:`lnn_control.train.rl.algorithm`).

The run folder (``--out``)::

    run.yaml                 the resolved config
    initial_policy/          the actor before RL (a policy checkpoint)
    policy/                  the actor after RL (a plain policy checkpoint: evaluate, ROS, replay)
    tensorboard/             sb3's logs (episode reward, success, losses, std)
    learning_curve.json      every training episode: env steps, return, length, success
    evaluation.json          before and after, through the evaluation harness (same seeds)
    learning_curve.png, report.md
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
import yaml
from stable_baselines3.common.callbacks import BaseCallback
from torch import Tensor

from lnn_control.errors import ConfigError
from lnn_control.policy.checkpoint import load_checkpoint, save_checkpoint
from lnn_control.policy.model import LiquidPolicy
from lnn_control.train.rl.algorithm import LiquidPPO
from lnn_control.train.rl.collection import BatchedStepsVecEnv
from lnn_control.train.rl.config import RLConfig
from lnn_control.train.rl.observation import StepLayout, make_training_env
from lnn_control.train.rl.policy import LiquidActorCriticPolicy
from lnn_control.train.rl.report import paired_change, summary_line, write_report
from lnn_control.train.rollouts import EnvSpec, check_actions, env_spec_for

__all__ = ["RLRun"]


class _Curve(BaseCallback):
    """Records every finished training episode and drives the progress bar."""

    def __init__(self, progress: Any, total: int, curriculum: Optional[Callable[[int], None]] = None) -> None:
        super().__init__()
        #: called with the env steps so far before every rollout
        self.curriculum = curriculum
        self.rows: list[dict[str, Any]] = []
        self.progress = progress
        self.task = progress.add_task("rl", total=total) if progress is not None else None

    def _on_rollout_start(self) -> None:
        if self.curriculum is not None:
            self.curriculum(self.num_timesteps)

    def _on_step(self) -> bool:
        for info, done in zip(self.locals["infos"], self.locals["dones"]):
            if done and "episode" in info:
                self.rows.append({"env_steps": int(self.num_timesteps), "return": float(info["episode"]["r"]),
                                  "length": int(info["episode"]["l"]), "success": bool(info.get("is_success", False))})
        if self.task is not None:
            recent = self.rows[-20:]
            text = (f"rl: return {np.mean([r['return'] for r in recent]):.1f}, success "
                    f"{np.mean([r['success'] for r in recent]):.0%} (last {len(recent)} episodes)") if recent else "rl"
            self.progress.update(self.task, completed=self.num_timesteps, description=text)
        return True


class RLRun:
    """One RL run of an :class:`RLConfig` into a folder; :meth:`run` does everything.

    :param config: the run's config.
    :param out: the run folder (created; must not hold a run).
    :param base: the folder a relative ``model`` path is read from.
    :param workers: overrides ``config.workers``.
    :param console: a ``rich`` console for progress and messages (None: silent).
    :param source: the config file (named in the report).
    """

    def __init__(self, config: RLConfig, out: Path, base: Optional[Path] = None, workers: Optional[int] = None,
                 console: Any = None, source: Optional[Path] = None) -> None:
        self.folder = Path(out)
        if (self.folder / "run.yaml").exists():
            raise ConfigError(f"{out} already holds an RL run; choose another --out")
        self.config = config if workers is None else dataclasses.replace(config, workers=int(workers))
        self.base, self.console, self.source = base, console, source
        self.policy_config = config.policy_config(base)
        StepLayout(self.policy_config)  # a policy RL cannot train fails now
        self.env = env_spec_for(config.env.id, config.env.scenario, self.policy_config)
        check_actions(self.env, self.policy_config.actions)
        self.training_time_s = 0.0
        self.model: Optional[LiquidPPO] = None

    def run(self) -> dict[str, Any]:
        """Train, save the actor, evaluate before and after, write the report; returns the
        evaluation document (``evaluation.json``)."""
        from lnn_control.train.pipeline import progress_display

        config, folder = self.config, self.folder
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "run.yaml").write_text(yaml.safe_dump(config.resolved(self.base), sort_keys=False))
        torch.set_num_threads(config.threads)
        initial = self._initial_policy()
        save_checkpoint(initial, folder / "initial_policy", metadata=self._metadata("initial"), overwrite=True)
        with progress_display(self.console) as progress:
            before = self._evaluate(folder / "initial_policy", progress)
            self._say(f"before: {summary_line(before)}")
            start = time.perf_counter()
            model, curve = self._train(initial, progress)
            self.training_time_s = time.perf_counter() - start
            self.model = model
            save_checkpoint(model.policy.actor, folder / "policy", metadata=self._metadata("rl"), overwrite=True)
            after = self._evaluate(folder / "policy", progress)
            self._say(f"after: {summary_line(after)}")
        document = {"env": config.env.id, "init": config.init, "env_steps": int(model.num_timesteps),
                    "training_time_s": self.training_time_s, "before": before, "after": after,
                    "return_change": {name: paired_change(before[name], after[name]) for name in after}}
        (folder / "evaluation.json").write_text(json.dumps(document, indent=1) + "\n")
        (folder / "learning_curve.json").write_text(json.dumps(curve, indent=1) + "\n")
        write_report(folder, config, self.source, document, curve)
        return document

    def _initial_policy(self) -> LiquidPolicy:
        """The checkpoint to fine-tune, or a fresh policy standardised on its own flights."""
        config = self.config
        if config.init is not None:
            return load_checkpoint(config.init)
        torch.manual_seed(config.seed)
        policy = LiquidPolicy(self.policy_config).eval()
        self._say(f"standardising the inputs on {config.statistics_steps} control steps of the initial policy")
        for name, (mean, std) in _flight_statistics(policy, self.env, config.statistics_steps,
                                                    config.first_env_seed + 10_000).items():
            policy.encoders[name].set_statistics(mean, std.clamp(min=1e-3))
        return policy

    def _train(self, initial: LiquidPolicy, progress: Any) -> tuple[LiquidPPO, list[dict[str, Any]]]:
        from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

        config, ppo = self.config, self.config.ppo
        venv: Any
        if config.batched:
            venv = BatchedStepsVecEnv(self.policy_config, config.max_substeps, config.envs, config.env.scenario,
                                      nthread=config.threads, privileged=ppo.privileged_critic)
        else:
            factories = [partial(make_training_env, self.env, self.policy_config, config.max_substeps)] * config.envs
            venv = DummyVecEnv(factories)
        if ppo.normalize_reward:
            venv = VecNormalize(venv, norm_obs=False, norm_reward=True, gamma=ppo.gamma)
        try:
            model = LiquidPPO(
                LiquidActorCriticPolicy, venv, learning_rate=ppo.critic_learning_rate, n_steps=ppo.n_steps,
                batch_size=ppo.batch_size, n_epochs=ppo.n_epochs, gamma=ppo.gamma, gae_lambda=ppo.gae_lambda,
                clip_range=ppo.clip_range, ent_coef=ppo.ent_coef, vf_coef=ppo.vf_coef,
                max_grad_norm=ppo.max_grad_norm, target_kl=ppo.target_kl, use_sde=ppo.use_sde,
                sde_sample_freq=ppo.sde_sample_freq, seed=config.seed, device="cpu",
                tensorboard_log=str(self.folder / "tensorboard"), critic_warmup_iterations=ppo.critic_warmup_iterations,
                anneal=ppo.anneal,
                policy_kwargs={"policy_config": self.policy_config, "actor_learning_rate": ppo.learning_rate,
                               "log_std_init": ppo.log_std_init, "critic_units": tuple(ppo.critic_units),
                               "privileged": venv.unwrapped.privileged_size if config.batched else 0},
            )
            model.policy.actor.load_state_dict(initial.state_dict())
            venv.seed(config.first_env_seed)
            curve = _Curve(progress, config.total_steps, partial(_grow_starts, venv.unwrapped, config)
                           if config.curriculum_steps else None)
            self._say(f"PPO: {config.total_steps} control steps in {config.envs} envs")
            model.learn(config.total_steps, callback=curve, tb_log_name="ppo")
        finally:
            venv.close()
        model.policy.actor.eval()
        return model, curve.rows

    def _evaluate(self, policy_dir: Path, progress: Any) -> dict[str, dict[str, Any]]:
        from lnn_control.train.pipeline import evaluate_policy
        from lnn_control.train.rollouts import EpisodeRunner

        evaluation = self.config.evaluation
        if evaluation.episodes == 0:
            return {}
        with EpisodeRunner(self.config.workers) as runner:
            results = evaluate_policy(policy_dir, self.config.env.id, list(evaluation.scenarios), evaluation.episodes,
                                      evaluation.first_seed, runner, progress, self.policy_config)
        for result in results.values():
            result["mean_return"] = float(np.mean([e["episode_return"] for e in result["per_episode"]]))
        return results

    def _metadata(self, stage: str) -> dict[str, Any]:
        config = self.config
        return {"env_id": config.env.id, "scenario": config.env.scenario, "seed": config.seed,
                "run": str(self.folder), "rl": {"stage": stage, "init": config.init,
                                                "env_steps": int(self.model.num_timesteps) if self.model else 0}}

    def _say(self, message: str) -> None:
        if self.console is not None:
            self.console.print(message)


def _grow_starts(venv: BatchedStepsVecEnv, config: RLConfig, env_steps: int) -> None:
    """The start curriculum: the vector env's start ranges at ``env_steps`` (config's keys)."""
    progress = min(env_steps / config.curriculum_steps, 1.0)
    venv.env.start_scale = config.curriculum_start + (1.0 - config.curriculum_start) * progress


def _flight_statistics(policy: LiquidPolicy, env_spec: EnvSpec, steps: int, first_seed: int) -> dict[str, tuple[Tensor, Tensor]]:
    """Mean and standard deviation ``(size,)`` of every vector stream's messages while ``policy``
    flies (through the runtime) seeded episodes until ``steps`` control steps have passed."""
    from lnn_control.policy.runtime import PolicyRuntime
    from lnn_control.sim.rollout import run_episode

    names = [s.name for s in policy.config.streams]
    values: dict[str, list[np.ndarray]] = {name: [] for name in names}

    def on_step(env: Any, observation: Any, info: dict[str, Any]) -> None:
        for event in info["sensor_events"]:
            if event.stream in values:
                values[event.stream].append(np.asarray(event.value, dtype=np.float64))

    env = env_spec.make()
    runtime = PolicyRuntime(policy)
    taken, seed = 0, first_seed
    try:
        while taken < steps:
            result = run_episode(env, runtime, seed, False, on_step, names)
            taken, seed = taken + result.steps, seed + 1
    finally:
        env.close()
    return {name: (torch.tensor(np.mean(v, 0), dtype=torch.float32), torch.tensor(np.std(v, 0), dtype=torch.float32))
            for name, v in values.items()}
