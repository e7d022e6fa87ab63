"""A training run, from nothing to a report: the stages, the run folder, resuming.

Stages, in order (each DAgger round r uses the policy that ended round r - 1):

1. ``demonstrations``: the expert flies ``demonstrations.episodes`` seeded episodes, recorded;
2. ``bc``: behaviour cloning on them (phase 0), input statistics taken from them;
3. per DAgger round r = 1..R (:mod:`lnn_control.train.dagger`): ``rollouts`` of the policy of
   checkpoint ``round_{r-1}`` (beta mixing), every visited step labelled by the expert; then
   ``dagger``: retraining on all episodes so far (phase r);
4. ``evaluation`` of the final policy over the configured scenarios; 5. the report.

The run folder (``--out``)::

    run.yaml                  the resolved config (model inline): what --resume continues
    data/expert/seed_S.npz    demonstrations (format: lnn_control.train.demonstrations)
    data/dagger_RR/seed_S.npz DAgger round RR's rollouts
    checkpoints/update_N/     every checkpoint.every_updates updates (resumable, evaluable)
    checkpoints/round_RR/     the end of each phase (its best weights)
    tensorboard/              losses, validation, rollout success, evaluation
    policy/                   the final policy (a plain policy checkpoint)
    evaluation.json           the final evaluation, per scenario
    report/report.md + PNGs   learning curves, evaluation table, command neurons' activity

Resuming (``--resume``) restarts from the newest checkpoint: episodes already on disk are kept
(each is written atomically, and a rerun of its seed would write the same), a training phase
continues at the chunk after the checkpoint with the optimizer, carried state and early-stopping
counters it had, and everything after is recomputed exactly, so the resumed run ends with the
same updates and the same checkpoints as an uninterrupted one.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Optional

import torch
import yaml

from lnn_control.config import config_from_dict
from lnn_control.errors import ConfigError
from lnn_control.policy.checkpoint import save_checkpoint
from lnn_control.policy.config import PolicyConfig
from lnn_control.policy.model import LiquidPolicy
from lnn_control.train.bc import fit, set_input_statistics
from lnn_control.sim.experts import make_expert
from lnn_control.train.config import TrainConfig
from lnn_control.train.dagger import round_beta, round_summary, round_tasks
from lnn_control.train.dataset import StepDataset
from lnn_control.train.demonstrations import load_episode, write_schema
from lnn_control.train.evaluation import EpisodeOutcome, ScenarioResult, adaptation_line
from lnn_control.train.featurize import featurize_episode
from lnn_control.train.rollouts import EnvSpec, EpisodeRunner, EvaluateTask, check_actions, env_spec_for
from lnn_control.train.state import (
    ResumeError,
    TrainingState,
    latest_checkpoint,
    load_training_checkpoint,
    remove_stale,
    save_training_checkpoint,
)

__all__ = ["RunFolder", "TrainingRun", "evaluate_policy", "progress_display", "run_platform", "run_tasks"]

RUN_FILE = "run.yaml"


class RunFolder:
    """The paths of a run folder (see the module docstring).

    :param root: the run folder.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.config = root / RUN_FILE  #: the run's config
        self.checkpoints = root / "checkpoints"  #: resumable checkpoints, one folder per round
        self.policy = root / "policy"  #: the final policy checkpoint
        self.evaluation = root / "evaluation.json"
        self.report = root / "report"  #: the Markdown report and its plots
        self.tensorboard = root / "tensorboard"

    def data(self, phase: int) -> Path:
        return self.root / "data" / ("expert" if phase == 0 else f"dagger_{phase:02d}")

    def round_checkpoint(self, phase: int) -> Path:
        return self.checkpoints / f"round_{phase:02d}"


def _split(count: int, fraction: float) -> int:
    """How many of ``count`` new episodes go to validation: the last ``ceil(fraction * count)``,
    at least one when ``fraction > 0`` and there are two or more, never all."""
    if fraction <= 0 or count < 2:
        return 0
    return min(count - 1, max(1, int(-(-fraction * count // 1))))


class TrainingRun:
    """One run of a :class:`TrainConfig` into a run folder; :meth:`run` does everything.

    :param config: the run's config.
    :param out: the run folder.
    :param base: the folder a relative ``model`` path is read from.
    :param resume: continue the run in ``out`` (its ``run.yaml`` is the config; ``config`` may be
        None, or must resolve to the same).
    :param workers: overrides ``config.workers``.
    :param console: a ``rich`` console for progress and messages (None: silent).
    :param source: the config file (named in the report; default the run's ``run.yaml``).
    """

    def __init__(
        self,
        config: Optional[TrainConfig],
        out: Path,
        base: Optional[Path] = None,
        resume: bool = False,
        workers: Optional[int] = None,
        console: Any = None,
        source: Optional[Path] = None,
    ) -> None:
        self.folder = RunFolder(Path(out))
        self.console = console
        self.source = source
        saved = self.folder.config
        if resume:
            if not saved.is_file():
                raise ResumeError(f"--resume: {out} holds no run ({RUN_FILE} not found); start it without --resume")
            data = yaml.safe_load(saved.read_text())
            if config is not None and config.resolved(base) != data:
                raise ResumeError(
                    f"--resume: the config differs from the one the run in {out} started with "
                    f"({saved}); resume without --config, or start a new run in another folder"
                )
            config = config_from_dict(TrainConfig, data)
        else:
            if config is None:
                raise ConfigError("a new run needs a config (--config PATH)")
            if saved.exists() or self.folder.checkpoints.exists():
                raise ConfigError(
                    f"{out} already holds a run; pass --resume to continue it, or choose another --out"
                )
        assert config is not None
        self.config = config
        self.resumed = resume
        self.policy_config: PolicyConfig = config.policy_config(base)
        self.workers = config.workers if workers is None else int(workers)
        self.env = env_spec_for(config.env.id, config.env.scenario, self.policy_config)
        check_actions(self.env, self.policy_config.actions)
        make_expert(self.config.env.id, config.expert, config.teacher)  # a bad option fails now
        self.auxiliary_labels = None  # the privileged labels of the policy's auxiliary head, if any
        if any(spec.auxiliary for spec in self.policy_config.streams):
            from lnn_control.sim.experts import auxiliary_labels

            self.auxiliary_labels = auxiliary_labels(config.env.id)
        if not resume:
            self.folder.root.mkdir(parents=True, exist_ok=True)
            saved.write_text(yaml.safe_dump(config.resolved(base), sort_keys=False))
        self._stage: Optional[str] = None
        self._stage_start = 0.0

    # -- the run -----------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        """Run (or continue) every stage; returns the evaluation summaries and timings."""
        config, folder = self.config, self.folder
        torch.set_num_threads(config.threads)
        remove_stale(folder.root)
        torch.manual_seed(config.seed)
        self.policy = LiquidPolicy(self.policy_config)
        self.optimizer = torch.optim.Adam(
            self.policy.parameters(), lr=config.optim.learning_rate, weight_decay=config.optim.weight_decay
        )
        latest = latest_checkpoint(folder.checkpoints)
        if latest is not None:
            self.state = load_training_checkpoint(latest, self.policy, self.optimizer)
            self._say(f"resuming from {latest.name}: update {self.state.update}, phase {self.state.phase}")
        else:
            self.state = TrainingState()
        here = run_platform()
        if self.state.platforms[-1:] != [here]:
            self.state.platforms.append(here)
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(folder.tensorboard), purge_step=self.state.update if latest else None)
        try:
            with EpisodeRunner(self.workers) as runner, self._progress() as progress:
                self.runner, self.progress = runner, progress
                self._train()
                result = self._evaluate()
        finally:
            self.writer.close()
        from lnn_control.train.report import write_report

        with self._timed("report"):
            report = write_report(folder, self.config, self.policy, self.state, result, self.env, self.source)
        self._say(f"report: {report}")
        return result

    def _train(self) -> None:
        config, state = self.config, self.state
        train = StepDataset(self.policy_config)
        val = StepDataset(self.policy_config)
        for phase in range(config.dagger.rounds + 1):
            finished = state.phase > phase or (state.phase == phase and state.phase_done)
            episodes = self._collect(phase)
            steps = [featurize_episode(self.policy_config, e, self.auxiliary_labels) for e in episodes]
            held_out = _split(len(steps), config.optim.val_fraction)
            train.extend(steps[: len(steps) - held_out])
            val.extend(steps[len(steps) - held_out :])
            if finished:
                continue
            if state.phase < phase or (phase == 0 and state.best is None and state.update == 0):
                state.start_phase(phase)
                state.data_sizes.append([phase, len(train), len(val), train.steps])
                if phase == 0:
                    set_input_statistics(self.policy, train, config.optim.min_std)
            stage = "bc" if phase == 0 else "dagger"
            budget = config.bc if phase == 0 else config.dagger.budget
            rate = config.optim.learning_rate if phase == 0 else (config.dagger.learning_rate or config.optim.learning_rate)
            self._say(f"{'behaviour cloning' if phase == 0 else f'DAgger round {phase}'}: "
                      f"{len(train)} training and {len(val)} validation episodes, {train.steps} steps")
            with self._timed(stage):
                task = self.progress.add_task(f"{stage} phase {phase}", total=None) if self.progress else None
                fit(self.policy, self.optimizer, train, val if len(val) else None, config.optim, budget,
                    state, config.seed, rate, self._on_update(task), self._on_epoch, config.augmentation)
                self._checkpoint()  # the phase's end: round_RR, its best weights

    def _collect(self, phase: int) -> list[Any]:
        """The episodes of phase ``phase`` (DAgger's round: 0, the expert's; r, round r's
        rollouts), recording those not on disk yet."""
        folder = self.folder
        beta = round_beta(self.config, phase)
        data = folder.data(phase)
        write_schema(data)
        learner = folder.round_checkpoint(phase - 1) if phase > 0 else None
        tasks = round_tasks(self.config, self.env, data, learner, phase)
        missing = sum(not Path(t.path).exists() for t in tasks)
        stage = "demonstrations" if phase == 0 else "rollouts"
        with self._timed(stage if missing else None):
            label = "expert demonstrations" if phase == 0 else f"DAgger round {phase} rollouts (beta {beta:g})"
            metadata = self._map(label, tasks)
        if phase > 0 and not any(r["round"] == phase for r in self.state.rounds):
            summary = round_summary(phase, beta, metadata, self.state.update)
            self.state.rounds.append(summary)
            self.writer.add_scalar("dagger/rollout_success", summary["success_rate"], phase)
            self.writer.add_scalar("dagger/beta", beta, phase)
            self._say(f"DAgger round {phase} rollouts: {summary['successes']}/{len(metadata)} succeeded "
                      f"(beta {beta:g})")
        return [load_episode(t.path) for t in tasks]

    # -- evaluation --------------------------------------------------------------------------------
    def _evaluate(self) -> dict[str, Any]:
        folder, config = self.folder, self.config
        save_checkpoint(self.policy, folder.policy, overwrite=True, metadata=self._metadata())
        if folder.evaluation.is_file():
            saved = json.loads(folder.evaluation.read_text())
            if saved.get("update") == self.state.update:
                self._say(f"evaluation: kept {folder.evaluation}")
                return saved
        if config.evaluation.episodes == 0:
            return {"update": self.state.update, "training_time_s": self.training_time_s, "scenarios": {}}
        with self._timed("evaluation"):
            results = evaluate_policy(
                folder.policy, config.env.id, config.evaluation.scenarios, config.evaluation.episodes,
                config.evaluation.first_seed, self.runner, self.progress, self.policy_config,
            )
        for name, result in results.items():
            self.writer.add_scalar(f"eval/{name}/success_rate", result["success_rate"], self.state.update)
            self._say(_summary_line(result))
        document = {
            "update": self.state.update,
            "policy": str(folder.policy),
            "training_time_s": self.training_time_s,
            "elapsed_s": dict(self.state.elapsed_s),
            "platforms": list(self.state.platforms),
            "scenarios": results,
        }
        folder.evaluation.write_text(json.dumps(document, indent=1) + "\n")
        return document

    @property
    def training_time_s(self) -> float:
        """Wall time of demonstrations, behaviour cloning, rollouts and DAgger training, s."""
        return sum(self.state.elapsed_s.get(k, 0.0) for k in ("demonstrations", "bc", "rollouts", "dagger"))

    # -- checkpoints, logging, progress ------------------------------------------------------------
    def _metadata(self) -> dict[str, Any]:
        return {"env_id": self.config.env.id, "scenario": self.config.env.scenario,
                "seed": self.config.seed, "run": str(self.folder.root)}

    def _checkpoint(self) -> Path:
        self._flush_time()
        return save_training_checkpoint(self.folder.checkpoints, self.policy, self.optimizer, self.state,
                                        self._metadata())

    def _on_update(self, task: Any) -> Any:
        every = self.config.checkpoint.every_updates

        def on_update(loss: float) -> None:
            state = self.state
            self.writer.add_scalar("train/loss", loss, state.update)
            if self.progress is not None and task is not None:
                self.progress.update(task, advance=1, description=(
                    f"{'bc' if state.phase == 0 else f'dagger {state.phase}'} epoch {state.epoch} "
                    f"update {state.update} loss {loss:.4f}"))
            if state.update % every == 0:
                self._checkpoint()

        return on_update

    def _on_epoch(self, loss: float, best: bool) -> None:
        state = self.state
        self.writer.add_scalar("val/loss", loss, state.update)
        self._say(f"  phase {state.phase} epoch {state.epoch - 1}: validation loss {loss:.5f}"
                  f"{' (best)' if best else ''}, update {state.update}")

    def _map(self, label: str, tasks: list[Any]) -> list[dict[str, Any]]:
        return run_tasks(self.runner, self.progress, label, tasks)

    def _say(self, message: str) -> None:
        if self.console is not None:
            self.console.print(message, highlight=False)

    def _progress(self) -> Any:
        return progress_display(self.console)

    @contextmanager
    def _timed(self, stage: Optional[str]) -> Iterator[None]:
        """Count the block's wall time to ``stage`` (saved in checkpoints; None: not counted)."""
        self._flush_time()
        self._stage, self._stage_start = stage, time.perf_counter()
        try:
            yield
        finally:
            self._flush_time()
            self._stage = None

    def _flush_time(self) -> None:
        now = time.perf_counter()
        if self._stage is not None:
            self.state.add_time(self._stage, now - self._stage_start)
        self._stage_start = now


def run_platform() -> dict[str, str]:
    """What a run's numbers depend on besides its config (``threads`` included) and seeds: torch's
    version, the vector instruction set its CPU kernels dispatch to (``AVX512``, ``AVX2``, ...)
    and the CPU. torch and oneDNN pick kernels by the CPU's instruction set, and their sums differ
    in the last bits between kernels; training compounds that, and early stopping turns it into
    other update counts. On the same platform a run repeats bitwise, under load or not, with any
    number of workers."""
    cpu = platform.processor() or platform.machine()
    try:
        names = [line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")]
        cpu = names[0].split(":", 1)[1].strip() if names else cpu
    except OSError:
        pass
    return {"torch": str(torch.__version__), "cpu_kernels": torch.backends.cpu.get_cpu_capability(), "cpu": cpu}


def progress_display(console: Any) -> Any:
    """A context manager giving a ``rich`` progress display on ``console`` (None: gives None)."""
    if console is None:
        return nullcontext(None)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=True)


def run_tasks(runner: EpisodeRunner, progress: Any, label: str, tasks: list[Any]) -> list[dict[str, Any]]:
    """Run ``tasks`` on ``runner`` with a progress bar labelled ``label``."""
    if progress is None:
        return runner.map(tasks)
    task = progress.add_task(label, total=len(tasks))
    try:
        return runner.map(tasks, lambda done: progress.update(task, completed=done))
    finally:
        progress.remove_task(task)


def evaluate_policy(
    policy_dir: Optional[Path],
    env_id: str,
    scenarios: list[str],
    episodes: int,
    first_seed: int,
    runner: EpisodeRunner,
    progress: Any = None,
    config: Optional[PolicyConfig] = None,
    teacher: bool = False,
) -> dict[str, dict[str, Any]]:
    """Evaluate a policy checkpoint (or the expert, ``policy_dir=None``; its privileged teacher if
    ``teacher``) in ``env_id`` over ``scenarios``; per scenario, :meth:`ScenarioResult.to_dict`."""
    results: dict[str, dict[str, Any]] = {}
    for scenario in scenarios:
        if config is None:
            env = _expert_env(env_id, scenario)
        else:
            spec = env_spec_for(env_id, scenario, config)
            env = EnvSpec(env_id, scenario, tuple(s.name for s in config.streams), spec.image_size)
        tasks = [EvaluateTask(env, first_seed + i, None if policy_dir is None else str(policy_dir), teacher)
                 for i in range(episodes)]
        outcomes = run_tasks(runner, progress, f"evaluation {Path(scenario).stem}", tasks)
        result = ScenarioResult(env_id, Path(scenario).stem, [EpisodeOutcome(**o) for o in outcomes])
        results[result.scenario] = result.to_dict()
    return results


def _expert_env(env_id: str, scenario: str) -> EnvSpec:
    """The expert's env: the default streams without cameras (the experts read none)."""
    import gymnasium as gym

    import lnn_control.sim.envs  # noqa: F401

    env = gym.make(env_id)
    try:
        unwrapped = env.unwrapped
        streams = tuple(s for s in unwrapped.DEFAULT_STREAMS if unwrapped.STREAMS[s].kind != "image")
    finally:
        env.close()
    return EnvSpec(env_id, scenario, streams or tuple(unwrapped.DEFAULT_STREAMS))


def _summary_line(result: dict[str, Any]) -> str:
    low, high = result["ci95"]
    causes = ", ".join(f"{k} {v}" for k, v in result["failures"].items() if v) or "none"
    return (f"{result['scenario']}: success {result['success_rate']:.1%} (95% CI {low:.1%}-{high:.1%}) "
            f"over {result['episodes']} episodes; tracking error {result['tracking_error_m']:.3f} m; "
            f"failures: {causes}" + (f"; {adaptation_line(result)}" if "adaptation" in result else ""))
