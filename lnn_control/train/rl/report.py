"""An RL run's report: the before/after evaluation, the learning curve (PNG) and ``report.md``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import numpy as np

from lnn_control.train.rl.config import RLConfig

__all__ = ["paired_change", "plot_curve", "summary_line", "write_report"]


def paired_change(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Mean of the per-seed return differences ``after - before`` (same seeds) and its normal
    95 % interval ``mean +- 1.96 sd / sqrt(n)`` (``[mean, mean]`` for one episode)."""
    first = {e["seed"]: e["episode_return"] for e in before["per_episode"]}
    diff = np.array([e["episode_return"] - first[e["seed"]] for e in after["per_episode"]])
    half = 1.959963984540054 * diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else 0.0
    return {"mean": float(diff.mean()), "ci95": [float(diff.mean() - half), float(diff.mean() + half)],
            "episodes": int(len(diff))}


def summary_line(results: dict[str, dict[str, Any]]) -> str:
    return "; ".join(f"{name} success {r['success_rate']:.1%} (95% CI {r['ci95'][0]:.1%}-{r['ci95'][1]:.1%}), "
                     f"mean return {r['mean_return']:.1f}" for name, r in results.items()) or "not evaluated"


def write_report(folder: Path, config: RLConfig, source: Optional[Path], document: dict[str, Any],
                  curve: list[dict[str, Any]]) -> Path:
    """``learning_curve.png`` and ``report.md`` in ``folder``; returns the Markdown file."""
    plot_curve(curve, document, folder / "learning_curve.png")
    lines = [
        f"# RL ({'fine-tuning' if config.init else 'from scratch'}): {config.env.id}",
        "",
        f"Config: `{source or folder / 'run.yaml'}`; "
        + (f"started from `{config.init}`." if config.init else "a freshly initialised policy (seed "
           f"{config.seed}), inputs standardised on {config.statistics_steps} control steps of its own flights."),
        f"PPO (sb3-contrib RecurrentPPO, liquid core as the recurrent module): {document['env_steps']} control "
        f"steps in {config.envs} envs, {document['training_time_s'] / 60:.1f} min of training; actor step size "
        f"{config.ppo.learning_rate:g}, critic {config.ppo.critic_learning_rate:g}, initial log std "
        f"{config.ppo.log_std_init:g}, {config.ppo.critic_warmup_iterations} critic warm-up iterations."
        + "".join(f" Resumed from the resume point at {steps} control steps (its envs started new episodes there)."
                  for steps in document.get("resumed_at_env_steps", [])),
        "",
        f"## Evaluation (deterministic policy through the runtime, seeds {config.evaluation.first_seed}.."
        f"{config.evaluation.first_seed + config.evaluation.episodes - 1})",
        "",
        "| scenario | policy | success | 95% CI | mean return | tracking error m | final distance m | failures |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for stage in ("before", "after"):
        for name, r in document[stage].items():
            causes = ", ".join(f"{k} {v}" for k, v in r["failures"].items() if v) or "-"
            lines.append(f"| {name} | {stage} | {r['success_rate']:.1%} | {r['ci95'][0]:.1%}-{r['ci95'][1]:.1%} | "
                         f"{r['mean_return']:.1f} | {r['tracking_error_m']:.4f} | {r['final_distance_m']:.4f} | {causes} |")
    for name, change in document["return_change"].items():
        lines.append(f"\n{name}: mean return change after - before, paired over the seeds: {change['mean']:+.2f} "
                     f"(95% CI {change['ci95'][0]:+.2f} to {change['ci95'][1]:+.2f}).")
    lines += ["", "## Learning curve (stochastic training episodes)", "",
              "Against control steps and minutes of training; the same curves, the losses and the step sizes "
              f"are in TensorBoard (`tensorboard --logdir {folder / 'tensorboard'}`).", "",
              "![learning curve](learning_curve.png)", ""]
    if curve:
        window = _running_window(curve)
        first, last = curve[:window], curve[-window:]
        lines.append(f"{len(curve)} training episodes. First {window}: mean return "
                     f"{np.mean([r['return'] for r in first]):.1f}, success {np.mean([r['success'] for r in first]):.0%}; "
                     f"last {window}: mean return {np.mean([r['return'] for r in last]):.1f}, success "
                     f"{np.mean([r['success'] for r in last]):.0%}."
                     + "".join(f" Training success first reached {level:.0%} (running mean of {window}) after "
                               f"{row['env_steps']} control steps, {row['wall_s'] / 60:.1f} min."
                               for level, row in _first_reached(curve, window)))
    else:
        lines.append("No training episode finished.")
    path = folder / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _running_window(curve: list[dict[str, Any]]) -> int:
    """Training episodes averaged in a running mean: 20, or 1% of them when there are more than
    2000 (hundreds of envs end episodes by the hundred)."""
    return max(1, min(len(curve), max(20, len(curve) // 100)))


def _first_reached(curve: list[dict[str, Any]], window: int,
                   levels: tuple[float, ...] = (0.5, 0.9)) -> list[tuple[float, dict[str, Any]]]:
    """For each success level, the first episode at which the running mean of ``window`` training
    episodes reached it (levels never reached are left out)."""
    success = np.convolve([float(r["success"]) for r in curve], np.ones(window) / window, "valid")
    reached = []
    for level in levels:
        at = np.flatnonzero(success >= level - 1e-12)
        if at.size:
            reached.append((level, curve[int(at[0]) + window - 1]))
    return reached


def plot_curve(curve: list[dict[str, Any]], document: dict[str, Any], path: Path) -> None:
    """Return and success of the training episodes (running means, :func:`_running_window`) and the evaluations
    before and after, against control steps (left) and minutes of training (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 6), sharex="col", sharey="row")
    axis_ends = {"env_steps": max(document["env_steps"], 1), "wall_min": document["training_time_s"] / 60}
    for column, (key, label) in enumerate((("env_steps", "control steps (env steps, all envs)"),
                                           ("wall_min", "minutes of training"))):
        reward_ax, success_ax = axes[0, column], axes[1, column]
        if curve:
            x = np.array([r["env_steps"] if key == "env_steps" else r["wall_s"] / 60 for r in curve])
            returns = np.array([r["return"] for r in curve])
            success = np.array([r["success"] for r in curve], dtype=float)
            window = _running_window(curve)
            kernel = np.ones(window) / window
            reward_ax.plot(x, returns, ".", color="0.6", ms=3, label="training episode")
            reward_ax.plot(x[window - 1 :], np.convolve(returns, kernel, "valid"), color="C0",
                           label=f"running mean ({window})")
            success_ax.plot(x[window - 1 :], np.convolve(success, kernel, "valid"), color="C2",
                            label=f"training success, running mean ({window})")
        for stage, end, marker in (("before", 0, "s"), ("after", axis_ends[key], "D")):
            for name, r in document[stage].items():
                reward_ax.plot([end], [r["mean_return"]], marker, color="C3", label=f"evaluation {stage} ({name})")
                success_ax.plot([end], [r["success_rate"]], marker, color="C3", label=f"evaluation {stage} ({name})")
        success_ax.set_xlabel(label)
        for ax in (reward_ax, success_ax):
            ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("episode return")
    axes[1, 0].set_ylabel("success rate")
    axes[1, 0].set_ylim(-0.02, 1.05)
    if curve or any(document[stage] for stage in ("before", "after")):
        for ax in axes[:, 0]:
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
