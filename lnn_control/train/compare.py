"""``lnn-control compare --config PATH --out DIR``: several cores trained the same way, several
network seeds each, one table.

A comparison config (``config/compare/*.yaml``) names one training config, the network seeds and,
per entry, the ``model_overrides`` that swap the policy's core (CfC/NCP, LTC/NCP, LSTM, GRU,
frame-stacked MLP at matched parameter counts)::

    train: ../train/quad_hover.yaml   # relative to this file
    seeds: [0, 1, 2]                  # network seeds (default: the training config's seed)
    cores:
      cfc_ncp: {}
      lstm: {core: {type: lstm, wiring: null, units: 20}}

Every (entry, seed) is a whole :class:`~lnn_control.train.pipeline.TrainingRun` (same
demonstrations, DAgger seeds, budgets and evaluation seeds; only the network's initial weights
differ between seeds) in ``DIR/<entry>/seed<S>``, and a Ray Tune trial
(:mod:`lnn_control.train.trials`): Ray starts here on this machine's cores, or ``--address`` sends
the trials to a running cluster. An interrupted comparison continues where it stopped when the
command is run again; finished runs are only re-read. Then ``DIR/comparison.md``,
``comparison.json`` and ``comparison.png`` give, per core and scenario, the mean success over the
seeds with its 95% interval (Student's t over the seeds' rates; with one seed, Wilson's interval
of its episodes; never narrower than Wilson's over all the seeds' episodes pooled), each seed's
rate, the parameter counts and the training time; where two or more
entries share a core type (several sizes of it), ``comparison_size.png`` plots the success in each
scenario against the parameter count.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import yaml

from lnn_control.config import read_yaml
from lnn_control.errors import ConfigError
from lnn_control.train.trials import add_ray_arguments

__all__ = ["CompareConfig", "add_arguments", "load_compare_config", "run_comparison", "seed_interval"]

#: Student's t, two-sided 95 %, by degrees of freedom (beyond the table: the value at 30, which
#: errs wide)
T_975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
         2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
         2.052, 2.048, 2.045, 2.042]


@dataclass
class CompareConfig:
    """A comparison: the training config file, the network seeds, and each entry's model
    overrides."""

    train: Path
    cores: dict[str, dict[str, Any]]
    #: network seeds (None: the training config's own seed)
    seeds: Optional[list[int]] = None


def load_compare_config(path: str | Path) -> CompareConfig:
    """Read and check a comparison config; errors name the file, the key and the fix."""
    file = Path(path)
    data = read_yaml(file)
    if not isinstance(data, dict) or not {"train", "cores"} <= set(data) <= {"train", "cores", "seeds"}:
        raise ConfigError(f"{file}: a comparison config has the keys `train` (a training config path), "
                          f"`cores` (name: model overrides) and optionally `seeds` (network seeds)")
    cores = data["cores"]
    if not isinstance(cores, dict) or not cores or not all(
            isinstance(name, str) and isinstance(o, dict) for name, o in cores.items()):
        raise ConfigError(f"{file}: `cores` must map each entry's name to its model overrides "
                          f"(a mapping, {{}} for the training config's own model)")
    bad = [name for name in cores if not name.replace("_", "").isalnum()]
    if bad:
        raise ConfigError(f"{file}: entry names {bad} must be letters, digits and _ (they name folders)")
    seeds = data.get("seeds")
    if seeds is not None and (not isinstance(seeds, list) or not seeds or len(set(seeds)) != len(seeds)
                              or not all(isinstance(s, int) and s >= 0 for s in seeds)):
        raise ConfigError(f"{file}: `seeds` must be a list of distinct integers >= 0, e.g. [0, 1, 2]")
    return CompareConfig(Path(os.path.normpath(file.parent / str(data["train"]))), cores, seeds)


def _plans(config: CompareConfig, out: Path) -> dict[str, dict[str, Any]]:
    """Each trial's plan (resolved training config and run folder), by ``<entry>/seed<S>``;
    refuses a folder that holds a run of another config."""
    from lnn_control.config import merge
    from lnn_control.train.config import load_train_config
    from lnn_control.train.pipeline import RunFolder

    plans = {}
    for name, overrides in config.cores.items():
        train, base = load_train_config(config.train)
        train.model_overrides = merge(train.model_overrides, overrides)
        for seed in config.seeds or [train.seed]:
            train.seed = seed
            folder = out / name / f"seed{seed}"
            resolved = train.resolved(base)
            saved = RunFolder(folder).config
            if saved.is_file() and yaml.safe_load(saved.read_text()) != resolved:
                raise ConfigError(f"{folder} holds a run of another config than entry {name!r}, seed {seed} "
                                  f"now gives; remove that folder or choose another --out")
            plans[f"{name}/seed{seed}"] = {"config": resolved, "folder": str(folder.resolve())}
    return plans


def _trainable(trial: dict[str, Any], plans: dict[str, dict[str, Any]]) -> None:
    """Ray Tune's function: the training run of plan ``trial["trial"]``."""
    from ray import tune

    from lnn_control.train.trials import run_trial

    tune.report(run_trial(plans[trial["trial"]]))


def _run_trials(plans: dict[str, dict[str, Any]], out: Path, address: Optional[str], quiet: bool,
                cpus_per_trial: Optional[int]) -> None:
    """Run the unfinished ``plans`` as Ray Tune trials (none: Ray is not started)."""
    from lnn_control.train.pipeline import RunFolder
    from lnn_control.train.trials import RETRIES, check_results, ray_session, trial_resources

    todo = {key: plan for key, plan in plans.items() if not RunFolder(Path(plan["folder"])).evaluation.is_file()}
    if not todo:
        return
    resources = {key: trial_resources(plan["config"], cpus_per_trial, address) for key, plan in todo.items()}
    with ray_session(address):
        from ray import tune

        trainable = tune.with_resources(tune.with_parameters(_trainable, plans=todo),
                                        lambda trial: resources[trial["trial"]])
        tuner = tune.Tuner(trainable, param_space={"trial": tune.grid_search(list(todo))},
                           run_config=tune.RunConfig(
                               storage_path=str(out.resolve() / "ray"), name="compare", verbose=0 if quiet else 1,
                               failure_config=tune.FailureConfig(max_failures=RETRIES)))
        check_results(tuner.fit(), "comparison trials")


def run_comparison(config: CompareConfig, out: Path, address: Optional[str] = None,
                   quiet: bool = False, cpus_per_trial: Optional[int] = None) -> dict[str, Any]:
    """Train (or resume, or re-read) every (entry, seed) into ``out/<entry>/seed<S>`` as Ray Tune
    trials, then write the comparison; returns it.

    :param address: a running Ray cluster's head (``HOST:PORT``); None: Ray starts here.
    :param quiet: no progress from Tune.
    :param cpus_per_trial: CPUs Ray reserves for each trial (None: its config's workers).
    """
    from lnn_control.policy import load_checkpoint
    from lnn_control.train.config import load_train_config
    from lnn_control.train.trials import attempts

    plans = _plans(config, out)
    _run_trials(plans, out, address, quiet, cpus_per_trial)
    rows: dict[str, Any] = {}
    for name, overrides in config.cores.items():
        runs = {}
        for key in (k for k in plans if k.split("/")[0] == name):
            folder = Path(plans[key]["folder"])
            evaluation = json.loads((folder / "evaluation.json").read_text())
            runs[key.split("/seed")[1]] = {
                "training_time_s": evaluation["training_time_s"],
                "updates": evaluation["update"],
                "attempts": attempts(folder),
                "policy": str(folder / "policy"),  # where it is now, if the folder moved
                "scenarios": {s: {k: v[k] for k in ("success_rate", "ci95", "episodes", "successes",
                                                    "tracking_error_m", "failures")}
                              for s, v in evaluation["scenarios"].items()},
            }
        policy = load_checkpoint(Path(next(iter(runs.values()))["policy"]))
        rows[name] = {
            "overrides": overrides,
            "core": policy.config.core.type,
            "parameters": sum(p.numel() for p in policy.parameters()),
            "core_parameters": sum(p.numel() for p in policy.core.parameters()),
            "training_time_s": sum(r["training_time_s"] for r in runs.values()) / len(runs),
            "scenarios": _over_seeds(runs),
            "seeds": runs,
        }
    train, _ = load_train_config(config.train)
    document = {
        "train_config": str(config.train),
        "env": train.env.id,
        "seeds": {"network": config.seeds or [train.seed],
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
    _plot_size(document, out / "comparison_size.png")
    (out / "comparison.md").write_text(_markdown(document))
    return document


def seed_interval(rates: list[float], successes: int, episodes: int) -> tuple[float, float]:
    """The 95 % interval of a mean success rate over seeds: the wider of Student's t over the
    seeds' ``rates`` (two or more; the spread between networks) and Wilson's interval of all
    their episodes pooled, ``successes`` in ``episodes`` (the spread between episodes, which
    seeds that agree do not show); in [0, 1]."""
    from lnn_control.train.evaluation import wilson_interval

    low, high = wilson_interval(successes, episodes)
    if len(rates) < 2:
        return low, high
    mean = sum(rates) / len(rates)
    sd = math.sqrt(sum((r - mean) ** 2 for r in rates) / (len(rates) - 1))
    half = T_975[min(len(rates) - 2, len(T_975) - 1)] * sd / math.sqrt(len(rates))
    return max(0.0, min(low, mean - half)), min(1.0, max(high, mean + half))


def _over_seeds(runs: dict[str, Any]) -> dict[str, Any]:
    """Per scenario: the mean success over the seeds, its interval, and each seed's rate."""
    scenarios = {}
    for scenario in next(iter(runs.values()))["scenarios"]:
        results = [run["scenarios"][scenario] for run in runs.values()]
        rates = [r["success_rate"] for r in results]
        scenarios[scenario] = {
            "success_rate": sum(rates) / len(rates),
            "ci95": seed_interval(rates, sum(r["successes"] for r in results), sum(r["episodes"] for r in results)),
            "per_seed": rates,
            "episodes": results[0]["episodes"],
        }
    return scenarios


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
        f"cloning, DAgger) with its own model overrides; network seeds {seeds['network']}, "
        f"demonstration seeds {seeds['demonstrations'][0]}..{seeds['demonstrations'][1]}, DAgger "
        f"seeds {seeds['dagger']}, evaluation seeds {seeds['evaluation'][0]}..{seeds['evaluation'][1]} "
        f"in every scenario. Mean success over the network seeds with its 95% interval "
        f"({'the wider of Student t over the seeds and Wilson over their pooled episodes' if len(seeds['network']) > 1 else 'Wilson'})"
        f"{', then each seed' if len(seeds['network']) > 1 else ''}; training time per seed.",
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
            each = f" [{', '.join(f'{r:.0%}' for r in result['per_seed'])}]" if len(result["per_seed"]) > 1 else ""
            cells.append(f"{result['success_rate']:.0%} ({low:.0%}-{high:.0%}){each}")
        lines.append(f"| {name} | {row['parameters']} ({row['core_parameters']}) | "
                     f"{row['training_time_s'] / 60:.1f} min | " + " | ".join(cells) + " |")
    nominal = {n: r["scenarios"].get("nominal") for n, r in document["cores"].items()}
    timing = {n: r["scenarios"].get("timing_ood") for n, r in document["cores"].items()}
    kept = [f"{n} {timing[n]['success_rate'] / nominal[n]['success_rate']:.0%}"
            for n in document["cores"] if nominal[n] and timing[n] and nominal[n]["success_rate"] > 0]
    if kept:
        lines += ["", "Share of nominal success kept under `timing_ood`: " + ", ".join(kept) + "."]
    lines += ["", "![success per scenario](comparison.png)", ""]
    if _size_panels(document):
        lines += ["![success against parameter count](comparison_size.png)", ""]
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
        error = np.maximum([rate - low, high - rate], 0)  # a bound at 0% can round to 3e-18
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


def _size_series(document: dict[str, Any], scenario: str) -> dict[str, list[tuple[int, Any]]]:
    """Entries by core type, for each type with two or more (sizes): ``(parameters, result in
    scenario)``, fewest parameters first."""
    series: dict[str, list[tuple[int, Any]]] = {}
    for row in document["cores"].values():
        if scenario in row["scenarios"]:
            series.setdefault(row["core"], []).append((row["parameters"], row["scenarios"][scenario]))
    return {core: sorted(points, key=lambda p: p[0]) for core, points in series.items() if len(points) > 1}


def _size_panels(document: dict[str, Any]) -> list[tuple[str, dict[str, list[tuple[int, Any]]]]]:
    """``(scenario, its size series)`` for every scenario where some core type has several sizes."""
    panels = [(scenario, _size_series(document, scenario)) for scenario in _scenarios(document)]
    return [(scenario, series) for scenario, series in panels if series]


def _plot_size(document: dict[str, Any], path: Path) -> None:
    """Success against parameter count, a panel per scenario and a line per core type with several
    sizes (none: no plot)."""
    panels = _size_panels(document)
    if not panels:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, len(panels), figsize=(0.6 + 3.4 * len(panels), 3.6), squeeze=False)
    for ax, (scenario, series) in zip(axes[0], panels):
        for core, points in series.items():
            counts = np.array([p for p, _ in points])
            rate = np.array([r["success_rate"] for _, r in points]) * 100
            bounds = np.array([r["ci95"] for _, r in points]).T * 100
            ax.errorbar(counts, rate, yerr=np.maximum([rate - bounds[0], bounds[1] - rate], 0), marker="o",
                        capsize=3, label=core)
        ax.set_xscale("log")
        ax.set_xlabel("parameters")
        ax.set_ylim(0, 105)
        ax.set_title(scenario, fontsize=9)
    axes[0][0].set_ylabel("success, % (95% CI)")
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"{document['env']}: success against size", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``lnn-control compare``."""
    parser.description = (
        "Train several policy cores the same way (one training config, per-core model overrides, "
        "several network seeds) as Ray Tune trials, evaluate each on the training config's scenarios, "
        "and write comparison.md/.json/.png. Runs already in --out are resumed or re-read."
    )
    parser.add_argument("--config", required=True, help="comparison config YAML (config/compare/*.yaml)")
    parser.add_argument("--out", required=True,
                        help="folder: a run folder per core and seed, Ray's records (ray/), the comparison")
    add_ray_arguments(parser)
    parser.set_defaults(handler=_compare)


def _compare(args: argparse.Namespace) -> int:
    document = run_comparison(load_compare_config(args.config), Path(args.out), args.address, args.quiet,
                              args.cpus_per_trial)
    print(_markdown(document))
    return 0
