"""``lnn-control compare --config PATH --out DIR``: several cores trained the same way, one table.

A comparison config (``config/compare/*.yaml``) names one training config and, per entry,
the ``model_overrides`` that swap the policy's core (CfC/NCP, LTC/NCP, LSTM, GRU, frame-stacked
MLP at matched parameter counts)::

    train: ../train/quad_hover.yaml   # relative to this file
    cores:
      cfc_ncp: {}
      lstm: {core: {type: lstm, wiring: null, units: 20}}

Every entry is a whole :class:`~lnn_control.train.pipeline.TrainingRun` (same demonstrations,
DAgger seeds, budgets and evaluation seeds) in ``DIR/<name>``; an entry whose folder already
holds a run is resumed (a finished one is only re-read), so an interrupted comparison continues
where it stopped. Then ``DIR/comparison.md``, ``comparison.json`` and ``comparison.png`` give,
per core and scenario, the success rate with its 95% Wilson interval, the parameter counts, the
training time, and the seeds.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lnn_control.config import read_yaml
from lnn_control.errors import ConfigError

__all__ = ["CompareConfig", "add_arguments", "load_compare_config", "run_comparison"]


@dataclass
class CompareConfig:
    """A comparison: the training config file and the model overrides of each entry."""

    train: Path
    cores: dict[str, dict[str, Any]]


def load_compare_config(path: str | Path) -> CompareConfig:
    """Read and check a comparison config; errors name the file, the key and the fix."""
    file = Path(path)
    data = read_yaml(file)
    if not isinstance(data, dict) or set(data) != {"train", "cores"}:
        raise ConfigError(f"{file}: a comparison config has exactly the keys `train` (a training "
                          f"config path) and `cores` (name: model overrides)")
    cores = data["cores"]
    if not isinstance(cores, dict) or not cores or not all(
            isinstance(name, str) and isinstance(o, dict) for name, o in cores.items()):
        raise ConfigError(f"{file}: `cores` must map each entry's name to its model overrides "
                          f"(a mapping, {{}} for the training config's own model)")
    bad = [name for name in cores if not name.replace("_", "").isalnum()]
    if bad:
        raise ConfigError(f"{file}: entry names {bad} must be letters, digits and _ (they name folders)")
    return CompareConfig(Path(os.path.normpath(file.parent / str(data["train"]))), cores)


def run_comparison(config: CompareConfig, out: Path, console: Any = None) -> dict[str, Any]:
    """Train (or resume) every entry into ``out/<name>``, then write the comparison; returns it."""
    from lnn_control.config import merge
    from lnn_control.train.config import load_train_config
    from lnn_control.train.pipeline import RunFolder, TrainingRun

    rows: dict[str, Any] = {}
    for name, overrides in config.cores.items():
        train, base = load_train_config(config.train)
        train.model_overrides = merge(train.model_overrides, overrides)
        folder = out / name
        saved = RunFolder(folder).config
        resume = saved.is_file()
        if resume and yaml.safe_load(saved.read_text()) != train.resolved(base):
            raise ConfigError(f"{folder} holds a run of another config than entry {name!r} now gives; "
                              f"remove that folder or choose another --out")
        if console is not None:
            console.rule(f"[bold]{name}[/]: {overrides or 'the training config model'}"
                         f"{' (resumed)' if resume else ''}")
        run = TrainingRun(train, folder, base, resume, None, console, config.train)
        result = run.run()
        core = run.policy.core
        rows[name] = {
            "overrides": overrides,
            "core": run.policy_config.core.type,
            "parameters": sum(p.numel() for p in run.policy.parameters()),
            "core_parameters": sum(p.numel() for p in core.parameters()),
            "training_time_s": run.training_time_s,
            "updates": run.state.update,
            "policy": str(run.folder.policy),
            "scenarios": {k: {key: v[key] for key in ("success_rate", "ci95", "episodes", "successes",
                                                      "tracking_error_m", "failures")}
                          for k, v in result["scenarios"].items()},
        }
    train, _ = load_train_config(config.train)
    document = {
        "train_config": str(config.train),
        "env": train.env.id,
        "seeds": {"network": train.seed,
                  "demonstrations": [train.demonstrations.first_seed,
                                     train.demonstrations.first_seed + train.demonstrations.episodes - 1],
                  "dagger": f"{train.dagger.first_seed} + 1000 r + i",
                  "evaluation": [train.evaluation.first_seed,
                                 train.evaluation.first_seed + train.evaluation.episodes - 1]},
        "cores": rows,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "comparison.json").write_text(json.dumps(document, indent=1) + "\n")
    _plot(document, out / "comparison.png")
    (out / "comparison.md").write_text(_markdown(document))
    return document


def _scenarios(document: dict[str, Any]) -> list[str]:
    """Every scenario any entry was evaluated on, in first-seen order."""
    names: list[str] = []
    for row in document["cores"].values():
        names += [s for s in row["scenarios"] if s not in names]
    return names


def _markdown(document: dict[str, Any]) -> str:
    scenarios = _scenarios(document)
    seeds = document["seeds"]
    lines = [
        f"# Core comparison: {document['env']}",
        "",
        f"Every core trained the same way (`{document['train_config']}`: demonstrations, behaviour "
        f"cloning, DAgger) with its own model overrides; network seed {seeds['network']}, "
        f"demonstration seeds {seeds['demonstrations'][0]}..{seeds['demonstrations'][1]}, DAgger "
        f"seeds {seeds['dagger']}, evaluation seeds {seeds['evaluation'][0]}..{seeds['evaluation'][1]} "
        f"in every scenario. Success rate with its 95% Wilson interval.",
        "",
        "| core | parameters (core) | training | " + " | ".join(scenarios) + " |",
        "|---|---|---|" + "---|" * len(scenarios),
    ]
    for name, row in document["cores"].items():
        cells = []
        for scenario in scenarios:
            result = row["scenarios"].get(scenario)
            if result is None:
                cells.append("-")
                continue
            low, high = result["ci95"]
            cells.append(f"{result['success_rate']:.0%} ({low:.0%}-{high:.0%})")
        lines.append(f"| {name} | {row['parameters']} ({row['core_parameters']}) | "
                     f"{row['training_time_s'] / 60:.1f} min | " + " | ".join(cells) + " |")
    nominal = {n: r["scenarios"].get("nominal") for n, r in document["cores"].items()}
    timing = {n: r["scenarios"].get("timing_ood") for n, r in document["cores"].items()}
    kept = [f"{n} {timing[n]['success_rate'] / nominal[n]['success_rate']:.0%}"
            for n in document["cores"] if nominal[n] and timing[n] and nominal[n]["success_rate"] > 0]
    if kept:
        lines += ["", "Share of nominal success kept under `timing_ood`: " + ", ".join(kept) + "."]
    lines += ["", "![success per scenario](comparison.png)", ""]
    return "\n".join(lines)


def _plot(document: dict[str, Any], path: Path) -> None:
    """Grouped bars: success per scenario (groups) and core (bars), 95% intervals as error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    scenarios = _scenarios(document)
    cores = list(document["cores"])
    width = 0.8 / len(cores)
    fig, ax = plt.subplots(figsize=(1.6 + 1.8 * len(scenarios), 3.6))
    for i, name in enumerate(cores):
        results = [document["cores"][name]["scenarios"].get(s) for s in scenarios]
        rate = np.array([r["success_rate"] if r else np.nan for r in results]) * 100
        low = np.array([r["ci95"][0] if r else np.nan for r in results]) * 100
        high = np.array([r["ci95"][1] if r else np.nan for r in results]) * 100
        x = np.arange(len(scenarios)) + (i - (len(cores) - 1) / 2) * width
        error = np.maximum([rate - low, high - rate], 0)  # the Wilson bound at 0% rounds to 3e-18
        ax.bar(x, rate, width, yerr=error, capsize=2,
               label=f"{name} ({document['cores'][name]['parameters']} params)")
    ax.set_xticks(np.arange(len(scenarios)), scenarios)
    ax.set_ylabel("success, % (95% CI)")
    ax.set_ylim(0, 105)
    ax.set_title(f"{document['env']}: cores trained the same way")
    ax.legend(fontsize=7, loc="center right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``lnn-control compare``."""
    parser.description = (
        "Train several policy cores the same way (one training config, per-core model overrides), "
        "evaluate each on the training config's scenarios, and write comparison.md/.json/.png. "
        "Entries already trained in --out are resumed or re-read."
    )
    parser.add_argument("--config", required=True, help="comparison config YAML (config/compare/*.yaml)")
    parser.add_argument("--out", required=True, help="folder: one run folder per core, and the comparison")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or messages")
    parser.set_defaults(handler=_compare)


def _compare(args: argparse.Namespace) -> int:
    from rich.console import Console

    console = None if args.quiet else Console(stderr=True, soft_wrap=True)
    document = run_comparison(load_compare_config(args.config), Path(args.out), console)
    print(_markdown(document))
    return 0
