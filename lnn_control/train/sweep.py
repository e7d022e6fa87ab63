"""``lnn-control sweep --config PATH --out DIR``: a hyperparameter search over a training config.

A sweep config (``config/sweep/*.yaml``) names a training config, fixed overrides for every
trial, the search space over any of its keys (dotted paths; ``model_overrides.core.units``
reaches into the model), the scenario whose success rate is maximised, and the number of
trials::

    train: ../train/quad_hover.yaml          # relative to this file
    overrides: {model_overrides: {core: {type: ltc}}}
    space:
      optim.learning_rate: {loguniform: [0.0003, 0.01]}
      model_overrides.core.ode_unfolds: {choice: [2, 4, 6]}
      dagger.rounds: {int: [4, 12]}
      optim.grad_clip: {uniform: [0.5, 2.0]}
    metric: nominal                          # maximise this scenario's success rate
    trials: 12
    concurrent: 1                            # trials at once (each asks for its config's workers)
    seed: 0                                  # the sampler's

Optuna's TPE sampler proposes each trial's values (Ray Tune's ``OptunaSearch``); every trial is
a whole :class:`~lnn_control.train.pipeline.TrainingRun` in ``DIR/trials/<trial id>``, run as a
Ray Tune trial (:mod:`lnn_control.train.trials`: a local Ray, or ``--address``). Running the
command again continues an interrupted sweep (Tune restores its search; unfinished trials resume
from their checkpoints). Ties on the metric go to the lower final validation loss. Written:
``DIR/sweep.md`` (the trials, best first), ``sweep.json``, and ``best.yaml``: the best trial's
whole training config, ready for ``lnn-control train --config``.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lnn_control.config import merge, read_yaml
from lnn_control.errors import ConfigError
from lnn_control.train.trials import add_ray_arguments

__all__ = ["SweepConfig", "add_arguments", "load_sweep_config", "run_sweep", "trial_config"]

#: the distributions a search-space entry may name, and what each takes
DISTRIBUTIONS = {"loguniform": "[low, high]", "uniform": "[low, high]", "int": "[low, high]",
                 "choice": "[value, ...]"}


@dataclass
class SweepConfig:
    """A sweep: the base training config (plain data, model path absolute), the search space and
    what is maximised."""

    train: Path
    base: dict[str, Any]
    space: dict[str, dict[str, list[Any]]]
    metric: str
    trials: int
    concurrent: int
    seed: int


def load_sweep_config(path: str | Path) -> SweepConfig:
    """Read and check a sweep config, and one trial's training config built from it; errors name
    the file, the key and the fix."""
    file = Path(path)
    data = read_yaml(file)
    keys = {"train", "overrides", "space", "metric", "trials", "concurrent", "seed"}
    if not isinstance(data, dict) or not {"train", "space", "metric", "trials"} <= set(data) <= keys:
        raise ConfigError(f"{file}: a sweep config has the keys `train`, `space`, `metric`, `trials` and "
                          f"optionally `overrides`, `concurrent`, `seed` (see lnn_control/train/sweep.py)")
    space = data["space"]
    if not isinstance(space, dict) or not space:
        raise ConfigError(f"{file}: `space` must map dotted training-config keys to a distribution")
    for key, distribution in space.items():
        if (not isinstance(distribution, dict) or len(distribution) != 1
                or next(iter(distribution)) not in DISTRIBUTIONS
                or not isinstance(next(iter(distribution.values())), list)):
            raise ConfigError(f"{file}: space.{key} must be one of "
                              + ", ".join(f"{{{k}: {v}}}" for k, v in DISTRIBUTIONS.items()))
        kind, values = next(iter(distribution.items()))
        if kind != "choice" and (len(values) != 2 or not values[0] < values[1]):
            raise ConfigError(f"{file}: space.{key}: {kind} takes [low, high] with low < high, got {values}")
    for key in ("trials", "concurrent", "seed"):
        value = data.get(key, 0 if key == "seed" else 1)
        if not isinstance(value, int) or value < (0 if key == "seed" else 1):
            raise ConfigError(f"{file}: `{key}` must be an integer >= {0 if key == 'seed' else 1}, got {value!r}")
    overrides = data.get("overrides", {})
    if not isinstance(overrides, dict):
        raise ConfigError(f"{file}: `overrides` must be a mapping merged into the training config")
    train = Path(os.path.normpath(file.parent / str(data["train"])))
    base = merge(read_yaml(train), overrides)
    if isinstance(base.get("model"), str):
        base["model"] = str((train.parent / base["model"]).resolve())
    config = SweepConfig(train, base, space, str(data["metric"]), data["trials"], data.get("concurrent", 1),
                         data.get("seed", 0))
    scenarios = trial_config(config, {key: _example(d) for key, d in space.items()}).evaluation.scenarios
    if config.metric not in scenarios:
        raise ConfigError(f"{file}: metric {config.metric!r} is not among the evaluation's scenarios {scenarios}")
    return config


def _example(distribution: dict[str, list[Any]]) -> Any:
    """A value ``distribution`` can take (to check the config before any trial runs)."""
    return next(iter(distribution.values()))[0]


def trial_config(config: SweepConfig, values: dict[str, Any]) -> Any:
    """The :class:`~lnn_control.train.config.TrainConfig` of a trial: the base with each dotted
    key of ``values`` set; a key the training config lacks fails, naming it."""
    from lnn_control.config import config_from_dict
    from lnn_control.train.config import TrainConfig

    data = copy.deepcopy(config.base)
    for dotted, value in values.items():
        *path, last = dotted.split(".")
        node = data
        for key in path:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ConfigError(f"space.{dotted}: {key} is not a mapping in the training config")
        node[last] = value
    try:
        train = config_from_dict(TrainConfig, data)
        train.policy_config()
    except ConfigError as error:
        raise ConfigError(f"a trial's training config ({config.train} with {values}): {error}") from None
    return train


def _search_space(config: SweepConfig) -> dict[str, Any]:
    """Tune's search space: one distribution per dotted key."""
    from ray import tune

    make = {"loguniform": lambda v: tune.loguniform(*v), "uniform": lambda v: tune.uniform(*v),
            "int": lambda v: tune.randint(v[0], v[1] + 1), "choice": tune.choice}
    return {key: make[kind](values)
            for key, d in config.space.items() for kind, values in d.items()}


def _trainable(values: dict[str, Any], config: SweepConfig, out: Path) -> None:
    """Ray Tune's function: one trial's training run, in ``out/trials/<trial id>``."""
    from ray import tune

    from lnn_control.train.trials import run_trial

    train = trial_config(config, values)
    folder = out / "trials" / tune.get_context().get_trial_id()
    tune.report(run_trial({"config": train.resolved(), "folder": str(folder)}))


def run_sweep(config: SweepConfig, out: Path, address: str | None = None, quiet: bool = False,
              cpus_per_trial: int | None = None) -> dict[str, Any]:
    """Run (or continue) the sweep into ``out``; writes and returns its trials, best first.
    ``cpus_per_trial``: CPUs Ray reserves for each trial (None: the training config's workers)."""
    from lnn_control.train.trials import RETRIES, check_results, ray_session, trial_resources

    out = out.resolve()
    storage, name = out / "ray", "sweep"
    resources = trial_resources(trial_config(config, {k: _example(d) for k, d in config.space.items()}).resolved(),
                                cpus_per_trial, address)
    with ray_session(address):
        from ray import tune
        from ray.tune.search import ConcurrencyLimiter
        from ray.tune.search.optuna import OptunaSearch

        trainable = tune.with_resources(tune.with_parameters(_trainable, config=config, out=out), resources)
        if tune.Tuner.can_restore(storage / name):
            tuner = tune.Tuner.restore(str(storage / name), trainable, resume_errored=True)
        else:
            search = ConcurrencyLimiter(OptunaSearch(metric=f"{config.metric}/success_rate", mode="max",
                                                     seed=config.seed), max_concurrent=config.concurrent)
            tuner = tune.Tuner(trainable, param_space=_search_space(config),
                               tune_config=tune.TuneConfig(search_alg=search, num_samples=config.trials),
                               run_config=tune.RunConfig(storage_path=str(storage), name=name,
                                                         verbose=0 if quiet else 1,
                                                         failure_config=tune.FailureConfig(max_failures=RETRIES)))
        results = tuner.fit()
        check_results(results, "sweep trials")
    trials = []
    for result in results:
        trials.append({"trial": result.metrics["trial_id"], "values": dict(result.config),
                       "success_rate": result.metrics[f"{config.metric}/success_rate"],
                       "validation_loss": result.metrics["validation_loss"],
                       "updates": result.metrics["update"],
                       "training_time_s": result.metrics["training_time_s"]})
    trials.sort(key=lambda t: (-t["success_rate"], t["validation_loss"]))
    document = {"train_config": str(config.train), "metric": config.metric, "space": config.space,
                "seed": config.seed, "trials": trials}
    out.mkdir(parents=True, exist_ok=True)
    (out / "sweep.json").write_text(json.dumps(document, indent=1) + "\n")
    best = trial_config(config, trials[0]["values"])
    (out / "best.yaml").write_text(
        f"# the best of {len(trials)} trials of the sweep of {config.train} ({out / 'sweep.md'})\n"
        + yaml.safe_dump(best.resolved(), sort_keys=False))
    (out / "sweep.md").write_text(_markdown(document))
    return document


def _markdown(document: dict[str, Any]) -> str:
    keys = list(document["space"])
    lines = [f"# Sweep of `{document['train_config']}`", "",
             f"{len(document['trials'])} trials (Optuna TPE, seed {document['seed']}), best first: "
             f"`{document['metric']}` success, then the final validation loss. The best trial's whole "
             f"training config is `best.yaml`.", "",
             "| trial | " + " | ".join(f"`{k}`" for k in keys) + f" | {document['metric']} | validation loss "
             "| updates | training |",
             "|---|" + "---|" * (len(keys) + 4)]
    for t in document["trials"]:
        cells = [f"{t['values'][k]:.4g}" if isinstance(t["values"][k], float) else str(t["values"][k]) for k in keys]
        lines.append(f"| {t['trial']} | " + " | ".join(cells) + f" | {t['success_rate']:.0%} | "
                     f"{t['validation_loss']:.4f} | {t['updates']} | {t['training_time_s'] / 60:.1f} min |")
    return "\n".join(lines) + "\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``lnn-control sweep``."""
    parser.description = (
        "Search a training config's hyperparameters (Optuna's sampler on Ray Tune): each trial a "
        "whole training run; writes sweep.md/.json and best.yaml. Running it again continues it."
    )
    parser.add_argument("--config", required=True, help="sweep config YAML (config/sweep/*.yaml)")
    parser.add_argument("--out", required=True, help="folder: the trials' run folders, Ray's records, the results")
    add_ray_arguments(parser)
    parser.set_defaults(handler=_sweep)


def _sweep(args: argparse.Namespace) -> int:
    document = run_sweep(load_sweep_config(args.config), Path(args.out), args.address, args.quiet,
                         args.cpus_per_trial)
    print(_markdown(document))
    return 0
