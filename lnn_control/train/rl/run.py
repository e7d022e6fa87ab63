"""One RL run, from scratch or as fine-tuning, into a run folder.

**From scratch** (``model``) the encoders are standardised on the initial policy's own flights
(``statistics_steps``); **fine-tuning** (``init``) starts from a checkpoint
(:mod:`lnn_control.train.rl.algorithm`), and is the only way for a camera policy: its image
encoders are taken as trained and frozen (:mod:`lnn_control.train.rl.observation`).

The run folder (``--out``)::

    run.yaml                 the resolved config: what --resume continues
    initial_policy/          the actor before RL (a policy checkpoint)
    evaluation_before.json   its evaluation (a resumed run reads it instead of evaluating again)
    checkpoint/              the resume point, every checkpoint_every PPO updates
                             (:mod:`lnn_control.train.rl.checkpoint`)
    policy/                  the actor after RL (a plain policy checkpoint: evaluate, ROS, replay)
    tensorboard/             sb3's logs (episode reward, success, losses, std)
    learning_curve.json      every training episode: env steps, wall time, return, length, success
    evaluation.json          before and after, through the evaluation harness (same seeds)
    learning_curve.png, report.md

**Resuming** (``resume``) a killed run: the initial policy and its evaluation are read back, PPO
restarts from ``checkpoint/`` (weights, optimizer, reward normaliser, control steps, the curve so
far) and trains the rest of ``total_steps``; its envs start new episodes there.
"""

from __future__ import annotations

import copy
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
from lnn_control.train.rl.algorithm import LiquidPPO, make_ppo
from lnn_control.train.rl.checkpoint import CHECKPOINT, load_rl_checkpoint, save_rl_checkpoint
from lnn_control.train.rl.collection import BatchedStepsVecEnv
from lnn_control.train.rl.config import RLConfig
from lnn_control.train.rl.observation import StepLayout, make_training_env
from lnn_control.train.rl.report import paired_change, summary_line, write_report
from lnn_control.train.rollouts import EnvSpec, check_actions, env_spec_for
from lnn_control.train.state import ResumeError

__all__ = ["RUN_FILE", "RLRun"]

#: the resolved config in a run folder
RUN_FILE = "run.yaml"


class _Curve(BaseCallback):
    """Records every finished training episode (env steps and wall time of training when it
    ended) and drives the progress bar."""

    def __init__(self, progress: Any, total: int, curriculum: Optional[Callable[[int], None]] = None,
                 rows: Optional[list[dict[str, Any]]] = None, spent_s: float = 0.0,
                 checkpoint: Optional[Callable[[], None]] = None, checkpoint_every: int = 0,
                 started: Optional[float] = None) -> None:
        super().__init__()
        #: called with the env steps so far before every rollout
        self.curriculum = curriculum
        #: the episodes so far (a resumed run's start with the checkpoint's)
        self.rows: list[dict[str, Any]] = list(rows or [])
        #: training time spent before this process (a resumed run), s
        self.spent_s = spent_s
        self.checkpoint, self.checkpoint_every = checkpoint, checkpoint_every
        self.progress = progress
        self.task = progress.add_task("rl", total=total) if progress is not None else None
        #: time.perf_counter() when this process began training (envs and model built)
        self._start = time.perf_counter() if started is None else started
        self._saved_at = 0

    def training_time_s(self) -> float:
        """Training wall time so far, over this process and the runs it resumed, s."""
        return self.spent_s + time.perf_counter() - self._start

    def _on_training_start(self) -> None:
        self._saved_at = self.model.iterations  # a resumed run starts from this resume point

    def _on_rollout_start(self) -> None:
        # after an update (or at the start): the resume point, then the curriculum's next step
        iterations = self.model.iterations
        if (self.checkpoint is not None and iterations != self._saved_at
                and iterations % self.checkpoint_every == 0):
            self.checkpoint()
            self._saved_at = iterations
        if self.curriculum is not None:
            self.curriculum(self.num_timesteps)

    def _on_step(self) -> bool:
        wall_s = self.training_time_s()
        for info, done in zip(self.locals["infos"], self.locals["dones"]):
            if done and "episode" in info:
                self.rows.append({"env_steps": int(self.num_timesteps), "wall_s": round(wall_s, 3),
                                  "return": float(info["episode"]["r"]), "length": int(info["episode"]["l"]),
                                  "success": bool(info.get("is_success", False))})
        if self.task is not None:
            recent = self.rows[-20:]
            text = (f"rl: return {np.mean([r['return'] for r in recent]):.1f}, success "
                    f"{np.mean([r['success'] for r in recent]):.0%} (last {len(recent)} episodes)") if recent else "rl"
            self.progress.update(self.task, completed=self.num_timesteps, description=text)
        return True


class RLRun:
    """One RL run of an :class:`RLConfig` into a folder; :meth:`run` does everything.

    :param config: the run's config (with ``resume``: the one in the folder's ``run.yaml``).
    :param out: the run folder (created; must not hold a run unless ``resume``).
    :param base: the folder a relative ``model`` path is read from.
    :param workers: overrides ``config.workers``.
    :param console: a ``rich`` console for progress and messages (None: silent).
    :param source: the config file (named in the report).
    :param resume: continue the run in ``out`` from its last resume point (module docstring).
    """

    def __init__(self, config: RLConfig, out: Path, base: Optional[Path] = None, workers: Optional[int] = None,
                 console: Any = None, source: Optional[Path] = None, resume: bool = False) -> None:
        self.folder = Path(out)
        if resume and not (self.folder / RUN_FILE).is_file():
            raise ResumeError(f"--resume: {out} holds no RL run ({RUN_FILE} not found); start it without --resume")
        if resume and (self.folder / "evaluation.json").is_file():
            raise ResumeError(f"--resume: the run in {out} has finished (evaluation.json); its report is "
                              f"{self.folder / 'report.md'}")
        if not resume and (self.folder / RUN_FILE).exists():
            raise ConfigError(f"{out} already holds an RL run; pass --resume to continue it, or choose another --out")
        self.resume = resume
        self.config = config if workers is None else dataclasses.replace(config, workers=int(workers))
        self.base, self.console, self.source = base, console, source
        self.policy_config = config.policy_config(base)
        #: the image streams, whose encoders RL keeps frozen (a policy RL cannot train fails here)
        self.images = StepLayout(self.policy_config).images
        if self.images and config.init is None:
            raise ConfigError(f"RL takes the image encoders of {self.images} as trained and frozen: set init to a "
                              f"behaviour-cloned policy's checkpoint folder (lnn-control train) instead of "
                              f"training from scratch")
        self.env = env_spec_for(config.env.id, config.env.scenario, self.policy_config)
        check_actions(self.env, self.policy_config.actions)
        self.training_time_s = 0.0
        #: control steps at which this run was resumed (empty: it ran in one go)
        self.resumed_at: list[int] = []
        self.model: Optional[LiquidPPO] = None

    def run(self) -> dict[str, Any]:
        """Train, save the actor, evaluate before and after, write the report; returns the
        evaluation document (``evaluation.json``)."""
        from lnn_control.train.pipeline import progress_display

        config, folder = self.config, self.folder
        folder.mkdir(parents=True, exist_ok=True)
        torch.set_num_threads(config.threads)
        if self.resume and (folder / "initial_policy").is_dir():
            initial = load_checkpoint(folder / "initial_policy")
        else:
            initial = self._initial_policy()
            save_checkpoint(initial, folder / "initial_policy", metadata=self._metadata("initial"), overwrite=True)
        (folder / RUN_FILE).write_text(yaml.safe_dump(config.resolved(self.base), sort_keys=False))
        with progress_display(self.console) as progress:
            before_file = folder / "evaluation_before.json"
            if self.resume and before_file.is_file():
                before = json.loads(before_file.read_text())
            else:
                before = self._evaluate(folder / "initial_policy", progress)
                before_file.write_text(json.dumps(before, indent=1) + "\n")
            self._say(f"before: {summary_line(before)}")
            model, curve = self._train(initial, progress)
            self.model = model
            save_checkpoint(model.policy.actor, folder / "policy", metadata=self._metadata("rl"), overwrite=True)
            after = self._evaluate(folder / "policy", progress)
            self._say(f"after: {summary_line(after)}")
        document = {"env": config.env.id, "init": config.init, "env_steps": int(model.num_timesteps),
                    "training_time_s": self.training_time_s, "resumed_at_env_steps": self.resumed_at,
                    "before": before, "after": after,
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
        held = _flight_values(policy, self.env, config.statistics_steps, config.first_env_seed + 10_000)
        for name in held:
            policy.encoders[name].fit_statistics(policy.encoder_input(name, held), 1e-3)
        return policy

    def _train(self, initial: LiquidPolicy, progress: Any) -> tuple[LiquidPPO, list[dict[str, Any]]]:
        from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

        config, ppo = self.config, self.config.ppo
        started = time.perf_counter()
        venv: Any
        if config.batched:
            venv = BatchedStepsVecEnv(self.policy_config, config.max_substeps, config.envs, config.env.scenario,
                                      nthread=config.threads, privileged=ppo.privileged_critic)
        else:
            frozen = {name: copy.deepcopy(initial.encoders[name]).eval() for name in self.images}
            factories = [partial(make_training_env, self.env, self.policy_config, config.max_substeps, frozen)] * config.envs
            venv = DummyVecEnv(factories)
        if ppo.normalize_reward:
            venv = VecNormalize(venv, norm_obs=False, norm_reward=True, gamma=ppo.gamma)
        try:
            model = make_ppo(ppo, venv, self.policy_config, config.seed, str(self.folder / "tensorboard"))
            model.policy.actor.load_state_dict(initial.state_dict())
            saved = self._resume_point(model)
            venv.seed(config.first_env_seed + model.num_timesteps)  # a resumed run's envs start afresh
            checkpoint = partial(self._save_resume_point, model)
            curve = _Curve(progress, config.total_steps, partial(_grow_starts, venv.unwrapped, config)
                           if config.curriculum_steps else None, saved.get("curve"), saved.get("training_time_s", 0.0),
                           checkpoint if config.checkpoint_every else None, config.checkpoint_every, started)
            self._curve = curve
            remaining = config.total_steps - model.num_timesteps
            self._say(f"PPO: {remaining} control steps in {config.envs} envs"
                      + (f" (resumed at {model.num_timesteps})" if saved else ""))
            model.learn(remaining, callback=curve, tb_log_name="ppo", reset_num_timesteps=not saved)
            self.training_time_s = curve.training_time_s()
        finally:
            venv.close()
        model.policy.actor.eval()
        return model, curve.rows

    def _resume_point(self, model: LiquidPPO) -> dict[str, Any]:
        """With ``resume`` and a resume point: restore ``model`` from it; its document (else {})."""
        folder = self.folder / CHECKPOINT
        if not (self.resume and (folder / "rl.json").is_file()):
            return {}
        saved = load_rl_checkpoint(folder, model)
        self.resumed_at = [*saved["resumed_at"], int(model.num_timesteps)]
        return saved

    def _save_resume_point(self, model: LiquidPPO) -> None:
        save_rl_checkpoint(self.folder / CHECKPOINT, model, self._curve.rows, self._curve.training_time_s(),
                           self.resumed_at)

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
    if config.curriculum_heading:
        venv.env.heading_scale = venv.env.start_scale


def _flight_values(policy: LiquidPolicy, env_spec: EnvSpec, steps: int, first_seed: int) -> dict[str, Tensor]:
    """Every vector stream's held value ``(N, size)`` after each of ``N >= steps`` control steps
    while ``policy`` flies (through the runtime) seeded episodes (zeros before its first message,
    as the network reads it)."""
    from lnn_control.policy.runtime import PolicyRuntime
    from lnn_control.sim.rollout import run_episode

    sizes = {s.name: s.value_shape[0] for s in policy.config.streams if s.kind != "image"}
    values: dict[str, list[np.ndarray]] = {name: [] for name in sizes}
    env = env_spec.make()
    runtime = PolicyRuntime(policy)

    def on_step(env: Any, observation: Any, info: dict[str, Any]) -> None:
        for name, size in sizes.items():
            values[name].append(np.asarray(runtime.aligner.held.get(name, np.zeros(size)), dtype=np.float64))

    taken, seed = 0, first_seed
    try:
        while taken < steps:
            result = run_episode(env, runtime, seed, False, on_step, [s.name for s in policy.config.streams])
            taken, seed = taken + result.steps, seed + 1
    finally:
        env.close()
    return {name: torch.tensor(np.array(v)) for name, v in values.items()}
