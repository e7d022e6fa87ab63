"""``lnn-control rl --config PATH --out DIR``: PPO with the liquid core, from scratch or as
fine-tuning of a behaviour-cloned policy (see :mod:`lnn_control.train.rl`). Heavy imports happen
in the handler, so ``--help`` is fast."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any, Optional

import yaml

from lnn_control.config import merge
from lnn_control.errors import ConfigError

__all__ = ["add_arguments"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``lnn-control rl``."""
    parser.description = (
        "Reinforcement learning of a liquid policy with sb3-contrib's RecurrentPPO, the policy's own "
        "CfC/LTC core as the recurrent module, stepped with the real time between sensor messages. "
        "Fine-tunes a policy checkpoint (config key init) or trains a model from scratch (key model); "
        "evaluates before and after through the evaluation harness; writes the policy (DIR/policy), "
        "TensorBoard logs, a learning curve and a report."
    )
    parser.add_argument("--config", help="RL config YAML (config/rl/*.yaml); not with --resume")
    parser.add_argument("--out", required=True, help="run folder (created; must not hold a run unless --resume)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the killed or stopped run in --out from its last resume point, "
                             "with the config it started with (its run.yaml)")
    parser.add_argument("--workers", type=int,
                        help="evaluation worker processes (default: the config's `workers`)")
    parser.add_argument("--seed", type=int, help="network and PPO seed, instead of the config's (runs over seeds)")
    parser.add_argument("--model-overrides", metavar="YAML",
                        help="merged into the config's model_overrides, e.g. a baseline core trained the same way: "
                             "'{core: {type: lstm, wiring: null, units: 20}}'")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or messages")
    parser.set_defaults(handler=_rl)


def _rl(args: argparse.Namespace) -> int:
    from rich.console import Console

    from lnn_control.train.rl.config import load_rl_config
    from lnn_control.train.rl.run import RUN_FILE, RLRun

    if args.workers is not None and args.workers < 0:
        raise ConfigError(f"--workers must be >= 0, got {args.workers}")
    if args.resume:
        given = [option for option, value in (("--config", args.config), ("--seed", args.seed),
                                              ("--model-overrides", args.model_overrides)) if value is not None]
        if given:
            raise ConfigError(f"--resume continues the run with the config it started with ({args.out}/run.yaml); "
                              f"drop {', '.join(given)}")
        config, base = _saved_config(Path(args.out))
    elif args.config is None:
        raise ConfigError("--config PATH is required (unless --resume continues a run)")
    else:
        config, base = load_rl_config(args.config)
    if args.seed is not None:
        if args.seed < 0:
            raise ConfigError(f"--seed must be >= 0, got {args.seed}")
        config = dataclasses.replace(config, seed=args.seed)
    if args.model_overrides is not None:
        config = dataclasses.replace(config, model_overrides=merge(config.model_overrides,
                                                                   _overrides(args.model_overrides)))
        config.policy_config(base)  # a bad override fails now, before the run folder
    console = None if args.quiet else Console(stderr=True, soft_wrap=True)
    run = RLRun(config, Path(args.out), base, args.workers, console,
                Path(args.config) if args.config else Path(args.out) / RUN_FILE, args.resume)
    document = run.run()
    print(f"training time {run.training_time_s:.1f} s ({run.training_time_s / 60:.1f} min), "
          f"{document['env_steps']} control steps; policy {run.folder / 'policy'}; report {run.folder / 'report.md'}")
    for stage in ("before", "after"):
        for name, summary in document[stage].items():
            low, high = summary["ci95"]
            print(f"{stage} {name}: success {summary['success_rate']:.1%} (95% CI {low:.1%}-{high:.1%}), "
                  f"mean return {summary['mean_return']:.1f}, {summary['episodes']} episodes")
    for name, change in document["return_change"].items():
        low, high = change["ci95"]
        print(f"{name}: return change after - before (paired over seeds) {change['mean']:+.2f} "
              f"(95% CI {low:+.2f} to {high:+.2f})")
    return 0


def _saved_config(folder: Path) -> tuple[Any, Optional[Path]]:
    """The config a run in ``folder`` started with (its ``run.yaml``: the model inline)."""
    from lnn_control.train.rl.config import load_rl_config
    from lnn_control.train.rl.run import RUN_FILE
    from lnn_control.train.state import ResumeError

    if not (folder / RUN_FILE).is_file():
        raise ResumeError(f"--resume: {folder} holds no RL run ({RUN_FILE} not found); start it without --resume")
    return load_rl_config(folder / RUN_FILE)


def _overrides(text: str) -> dict[str, Any]:
    """``--model-overrides``: a YAML mapping."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"--model-overrides is not YAML ({error}); give a mapping such as "
                          "'{core: {type: lstm, wiring: null, units: 20}}'") from None
    if not isinstance(data, dict):
        raise ConfigError(f"--model-overrides must be a mapping such as '{{core: {{type: lstm, units: 20}}}}', got {text!r}")
    return data
