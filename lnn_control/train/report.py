"""The run's report: ``report/report.md`` with three PNGs.

- ``learning_curves.png``: the training loss of every update (and its running mean), the
  validation loss after every epoch, the phase boundaries, and each DAgger round's rollout success;
- ``evaluation.png``: success per scenario with its Wilson 95 % interval;
- ``command_neurons.png``: one nominal episode flown by the policy through the runtime: the
  distance to the goal, the NCP's command neurons' states (the layer the NCP papers read for
  interpretability; other cores: the first hidden units) and the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import numpy as np

from lnn_control.policy.model import LiquidPolicy
from lnn_control.train.config import TrainConfig
from lnn_control.train.evaluation import adaptation_line
from lnn_control.train.rollouts import EnvSpec
from lnn_control.train.state import TrainingState

__all__ = ["neuron_trace", "write_report"]

STAGES = ("demonstrations", "bc", "rollouts", "dagger", "evaluation")


def write_report(folder: Any, config: TrainConfig, policy: LiquidPolicy, state: TrainingState,
                 evaluation: dict[str, Any], env: EnvSpec, source: Optional[Path] = None) -> Path:
    """Write ``report.md`` and its PNGs into ``folder.report``; returns the Markdown file.

    :param source: the config file the run was started from (default: the run's ``run.yaml``).
    """
    import matplotlib

    matplotlib.use("Agg")
    out = Path(folder.report)
    out.mkdir(parents=True, exist_ok=True)
    _learning_curves(state, out / "learning_curves.png")
    scenarios = evaluation.get("scenarios", {})
    if scenarios:
        _evaluation_plot(scenarios, out / "evaluation.png")
    seed = config.evaluation.first_seed
    trace = neuron_trace(policy, EnvSpec(env.env_id, "nominal", tuple(s.name for s in policy.config.streams),
                                         env.image_size), seed)
    _neuron_plot(trace, policy, out / "command_neurons.png", f"{env.env_id} nominal, seed {seed}")
    path = out / "report.md"
    path.write_text(_markdown(folder, config, policy, state, evaluation, trace, source or folder.config))
    return path


def neuron_trace(policy: LiquidPolicy, env_spec: EnvSpec, seed: int) -> dict[str, Any]:
    """Fly one episode with ``policy`` through the runtime; per control step the time (s), the
    distance to the goal (m), the core state and the command."""
    from lnn_control.policy.runtime import PolicyRuntime
    from lnn_control.sim.rollout import run_episode

    env = env_spec.make()
    runtime = PolicyRuntime(policy)
    rows: dict[str, list[Any]] = {"time": [], "distance": [], "state": [], "command": []}

    def on_step(env: Any, observation: Any, info: dict[str, Any]) -> None:
        if "distance" in info:
            rows["time"].append(env.unwrapped.now_ns * 1e-9)
            rows["distance"].append(info["distance"])
            rows["state"].append(runtime.state)
            rows["command"].append(runtime.command(env.unwrapped.now_ns))

    try:
        result = run_episode(env, runtime, seed, privileged=False, on_step=on_step, streams=list(runtime.specs))
    finally:
        env.close()
    trace = {key: np.asarray(value) for key, value in rows.items()}
    trace["success"] = result.success
    return trace


def _learning_curves(state: TrainingState, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, (loss_ax, round_ax) = plt.subplots(1, 2, figsize=(12, 4), gridspec_kw={"width_ratios": [2.2, 1]})
    if state.train_curve:
        updates, losses = np.asarray(state.train_curve).T
        loss_ax.plot(updates, losses, color="0.75", lw=0.6, label="training loss (each update)")
        window = max(1, len(losses) // 50)
        smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
        loss_ax.plot(updates[window - 1 :], smooth, color="C0", lw=1.5, label=f"running mean ({window})")
    if state.val_curve:
        val = np.asarray(state.val_curve)
        loss_ax.plot(val[:, 0], val[:, 3], "o-", color="C3", ms=3, lw=1, label="validation loss (each epoch)")
        for phase in np.unique(val[:, 1])[1:]:
            first = val[val[:, 1] == phase][0, 0]
            loss_ax.axvline(first, color="k", lw=0.5, ls=":")
    loss_ax.set_yscale("log")
    loss_ax.set_xlabel("update")
    loss_ax.set_ylabel("squared command error (half-ranges)")
    loss_ax.set_title("behaviour cloning, then DAgger rounds (dotted)")
    loss_ax.legend(fontsize=8)
    loss_ax.grid(alpha=0.3)
    if state.rounds:
        rounds = [r["round"] for r in state.rounds]
        rate = np.array([r["success_rate"] for r in state.rounds])
        ci = np.array([r["ci95"] for r in state.rounds])
        yerr = np.clip([rate - ci[:, 0], ci[:, 1] - rate], 0.0, None)
        round_ax.errorbar(rounds, rate, yerr=yerr, fmt="o-", capsize=3)
        for r in state.rounds:
            round_ax.annotate(f"beta {r['beta']:g}", (r["round"], r["success_rate"]), fontsize=7,
                              textcoords="offset points", xytext=(4, -10))
        round_ax.set_xticks(rounds)
    round_ax.set_ylim(-0.02, 1.05)
    round_ax.set_xlabel("DAgger round")
    round_ax.set_ylabel("rollout success")
    round_ax.set_title("rollouts of the previous round's policy")
    round_ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _evaluation_plot(scenarios: dict[str, Any], path: Path) -> None:
    import matplotlib.pyplot as plt

    names = list(scenarios)
    rate = np.array([scenarios[n]["success_rate"] for n in names])
    ci = np.array([scenarios[n]["ci95"] for n in names])
    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(names), 3.4))
    ax.bar(names, rate * 100, color="C0", alpha=0.8)
    yerr = np.clip([(rate - ci[:, 0]) * 100, (ci[:, 1] - rate) * 100], 0.0, None)
    ax.errorbar(names, rate * 100, yerr=yerr, fmt="none",
                ecolor="k", capsize=4)
    for i, n in enumerate(names):
        ax.text(i, 2, f"{rate[i]:.0%}\n{scenarios[n]['episodes']} ep.", ha="center", va="bottom", fontsize=8,
                color="white")
    ax.set_ylim(0, 105)
    ax.set_ylabel("success, % (95% Wilson CI)")
    ax.set_title("evaluation")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _neuron_plot(trace: dict[str, Any], policy: LiquidPolicy, path: Path, title: str) -> None:
    import matplotlib.pyplot as plt

    types = policy.neuron_types()
    chosen = [i for i, t in enumerate(types) if t == "command"]
    label = "command neurons"
    if not chosen:
        chosen, label = list(range(min(8, len(types)))), f"first {min(8, len(types))} state entries"
    fig, axes = plt.subplots(3, 1, figsize=(10, 7.5), sharex=True, gridspec_kw={"height_ratios": [1, 2.2, 1.4]})
    t = trace["time"]
    axes[0].plot(t, trace["distance"], color="k")
    axes[0].set_ylabel("distance to\ngoal, m")
    axes[0].set_title(f"{title}: {'success' if trace['success'] else 'failure'}")
    if len(t):
        states = trace["state"][:, chosen]
        image = axes[1].imshow(states.T, aspect="auto", cmap="coolwarm", interpolation="nearest",
                               extent=(t[0], t[-1], len(chosen) - 0.5, -0.5),
                               vmin=-np.abs(states).max(), vmax=np.abs(states).max())
        fig.colorbar(image, ax=axes[1], pad=0.01, fraction=0.03, label="state")
    axes[1].set_ylabel(f"{label}\n(state index)")
    axes[1].set_yticks(range(len(chosen)))
    axes[1].set_yticklabels([str(i) for i in chosen], fontsize=7)
    actions = policy.config.actions
    mid = (np.array(actions.low) + np.array(actions.high)) / 2
    half = (np.array(actions.high) - np.array(actions.low)) / 2
    if len(t):
        for i, name in enumerate(actions.names):
            axes[2].plot(t, (trace["command"][:, i] - mid[i]) / half[i], lw=1, label=f"{name} ({actions.units[i]})")
    axes[2].set_ylabel("command\n(-1 low, +1 high)")
    axes[2].set_xlabel("time, s")
    axes[2].legend(fontsize=7, ncol=3, loc="upper right")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _markdown(folder: Any, config: TrainConfig, policy: LiquidPolicy, state: TrainingState,
              evaluation: dict[str, Any], trace: dict[str, Any], source: Path) -> str:
    core = policy.config.core
    wiring = f", wiring {core.wiring}" if core.wiring else ""
    params = sum(p.numel() for p in policy.parameters())
    elapsed = state.elapsed_s
    training = sum(elapsed.get(k, 0.0) for k in STAGES[:4])
    demo = config.demonstrations
    lines = [
        f"# Training report: {config.env.id}",
        "",
        f"Policy: {core.type} core{wiring}; streams "
        f"{', '.join(f'{s.name} ({s.kind})' for s in policy.config.streams)}; "
        f"{params} parameters. Run folder `{folder.root}` (config: `{folder.config}`).",
        "",
        f"Reproduce: `lnn-control train --config {source} --out {folder.root}` (threads and workers "
        f"{config.threads} and {config.workers}); evaluate: "
        f"`lnn-control evaluate --model {folder.policy} --scenario all --episodes "
        f"{config.evaluation.episodes} --json out.json`.",
        "",
        "Computed with " + "; resumed with ".join(
            f"torch {p['torch']}, {p['cpu_kernels']} kernels on {p['cpu']}" for p in state.platforms)
        + " (a rerun repeats it bitwise with the same; see docs/training.md#reproducibility).",
        "",
        "## Wall time",
        "",
        "| stage | s |",
        "|---|---:|",
        *[f"| {stage} | {elapsed.get(stage, 0.0):.1f} |" for stage in STAGES],
        f"| **training** (demonstrations + bc + rollouts + dagger) | **{training:.1f}** ({training / 60:.1f} min) |",
        "",
        "## Data and updates",
        "",
        f"- expert demonstrations: {demo.episodes} episodes, seeds {demo.first_seed}..{demo.first_seed + demo.episodes - 1}",
        f"- updates: {state.update}; network initialised with seed {config.seed}",
    ]
    if state.rounds:
        lines += ["", "| DAgger round | beta | rollouts | rollout success | 95% CI | at update |",
                  "|---:|---:|---:|---:|---|---:|"]
        for r in state.rounds:
            lines.append(f"| {r['round']} | {r['beta']:g} | {r['episodes']} | {r['success_rate']:.1%} | "
                         f"{r['ci95'][0]:.1%}-{r['ci95'][1]:.1%} | {r['update']} |")
    lines += ["", "![learning curves](learning_curves.png)", "", "## Evaluation", ""]
    scenarios = evaluation.get("scenarios", {})
    if scenarios:
        lines += [
            f"Seeds {config.evaluation.first_seed}..{config.evaluation.first_seed + config.evaluation.episodes - 1}"
            " per scenario; the policy runs through `PolicyRuntime` on the env's sensor events.",
            "",
            "| scenario | success | 95% CI (Wilson) | tracking error, m | final distance, m | failures |",
            "|---|---:|---|---:|---:|---|",
        ]
        for name, s in scenarios.items():
            causes = ", ".join(f"{k} {v}" for k, v in s["failures"].items() if v) or "-"
            lines.append(f"| {name} | {s['successes']}/{s['episodes']} ({s['success_rate']:.1%}) | "
                         f"{s['ci95'][0]:.1%}-{s['ci95'][1]:.1%} | {s['tracking_error_m']:.4f} | "
                         f"{s['final_distance_m']:.4f} | {causes} |")
        lines += [f"\n{name}: {adaptation_line(s)}" for name, s in scenarios.items() if "adaptation" in s]
        lines += ["", "![evaluation](evaluation.png)"]
    else:
        lines.append("No evaluation was configured (`evaluation.episodes: 0`).")
    lines += [
        "",
        "## Command neurons",
        "",
        f"One nominal episode (seed {config.evaluation.first_seed}, "
        f"{'success' if trace['success'] else 'failure'}) flown by the policy through the runtime.",
        "",
        "![command neurons](command_neurons.png)",
        "",
    ]
    return "\n".join(lines)
