"""``lnn-control probe``: how well a policy's core state predicts the hidden physics (see
:mod:`lnn_control.train.probe`); writes ``probe.md``, ``probe.json`` and ``probe.png`` (the
estimate against the truth over an ``adaptation_ood`` episode per change) into ``--out``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from lnn_control.errors import ConfigError

__all__ = ["add_arguments"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``lnn-control probe``."""
    parser.description = (
        "Fit linear probes from a policy's core state to the episode's hidden physics (mass, wind) "
        "on seeded episodes of a randomised scenario, report their held-out R^2 and plot their "
        "estimates over adaptation_ood episodes."
    )
    parser.add_argument("--model", required=True, help="policy checkpoint folder (e.g. RUN/policy)")
    parser.add_argument("--out", required=True, help="folder for probe.md, probe.json and probe.png (created)")
    parser.add_argument("--scenario", default="train_physics", help="scenario to fit and test on (default train_physics)")
    parser.add_argument("--episodes", type=int, default=100, help="episodes; the first half fits, the rest tests (default 100)")
    parser.add_argument("--first-seed", type=int, default=300000, help="first episode seed (default 300000)")
    parser.set_defaults(handler=_probe)


def _probe(args: argparse.Namespace) -> int:
    from lnn_control.policy.checkpoint import load_checkpoint, read_checkpoint_config
    from lnn_control.train.probe import PROBED, adaptation_traces, probe_policy

    if args.episodes < 2:
        raise ConfigError(f"--episodes must be at least 2 (half fit, half test), got {args.episodes}")
    document, _ = read_checkpoint_config(args.model)
    env_id = document.get("metadata", {}).get("env_id")
    if env_id not in PROBED:
        raise ConfigError(f"the checkpoint's env {env_id!r} has no probed parameters (only {', '.join(PROBED)})")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    policy = load_checkpoint(args.model)
    probes, figures = probe_policy(policy, env_id, args.scenario, args.episodes, args.first_seed)
    traces = adaptation_traces(policy, env_id, probes, args.first_seed)
    _plot(traces, out / "probe.png", env_id)
    (out / "probe.json").write_text(json.dumps({"model": args.model, "env": env_id, **figures}, indent=1) + "\n")
    lines = [
        f"# What the core state knows: {env_id}",
        "",
        f"Model `{args.model}`. Ridge probes from the core state, fitted on {args.episodes // 2} "
        f"`{args.scenario}` episodes (seeds from {args.first_seed}) and tested on the other "
        f"{args.episodes - args.episodes // 2}; R^2 of the held-out estimates (1: exact, 0: no better than "
        "the mean).",
        "",
        "| parameter | R^2, whole episode | R^2 per second since the reset |",
        "|---|---:|---|",
    ]
    for name, f in figures["probes"].items():
        lines.append(f"| {name} | {f['r2']:.3f} | {', '.join(f'{r:.2f}' for r in f['by_second'])} |")
    lines += ["", "![the probes over adaptation_ood episodes](probe.png)", ""]
    (out / "probe.md").write_text("\n".join(lines))
    print("\n".join(lines[6:-3]))
    print(f"wrote {out / 'probe.md'}")
    return 0


def _plot(traces: dict[str, dict[str, Any]], path: Path, env_id: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [name for name in next(iter(traces.values())) if name not in ("seed", "time", "change_s")] if traces else []
    fig, axes = plt.subplots(len(traces), len(names), figsize=(4.2 * max(1, len(names)), 3 * max(1, len(traces))),
                             squeeze=False)
    for row, (change, trace) in enumerate(traces.items()):
        for column, name in enumerate(names):
            ax = axes[row][column]
            ax.plot(trace["time"], trace[name]["truth"], color="k", lw=1.5, label="truth")
            ax.plot(trace["time"], trace[name]["estimate"], color="C0", lw=1, label="core-state probe")
            ax.axvline(trace["change_s"], color="C3", ls=":", lw=1, label=f"{change} at {trace['change_s']:.2f} s")
            ax.set_title(f"{change} (seed {trace['seed']}): {name}", fontsize=9)
            ax.set_xlabel("time since reset, s")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
    fig.suptitle(f"{env_id}, adaptation_ood: the core state's estimate of the hidden physics", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
