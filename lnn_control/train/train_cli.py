"""``lnn-control train --config PATH --out DIR [--resume]``: a whole training run (see
:mod:`lnn_control.train.pipeline`). Heavy imports happen in the handler, so ``--help`` is fast."""

from __future__ import annotations

import argparse
from pathlib import Path

from lnn_control.errors import ConfigError

__all__ = ["add_arguments"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``lnn-control train``."""
    parser.description = (
        "Train a policy in simulation: expert demonstrations, behaviour cloning, DAgger rounds, "
        "evaluation and a report, with a progress bar, TensorBoard logs (DIR/tensorboard) and "
        "resumable checkpoints (DIR/checkpoints)."
    )
    parser.add_argument("--config", help="training config YAML (config/train/*.yaml); optional with --resume")
    parser.add_argument("--out", required=True, help="run folder (created; must not hold a run unless --resume)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out from its newest checkpoint (after a crash or kill)")
    parser.add_argument("--workers", type=int, help="episode worker processes (default: the config's `workers`)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or messages")
    parser.set_defaults(handler=_train)


def _train(args: argparse.Namespace) -> int:
    from rich.console import Console

    from lnn_control.train.config import load_train_config
    from lnn_control.train.pipeline import TrainingRun

    if args.config is None and not args.resume:
        raise ConfigError("--config PATH is required (unless --resume continues a run)")
    if args.workers is not None and args.workers < 0:
        raise ConfigError(f"--workers must be >= 0, got {args.workers}")
    config, base = load_train_config(args.config) if args.config else (None, None)
    console = None if args.quiet else Console(stderr=True, soft_wrap=True)
    source = Path(args.config) if args.config else None
    run = TrainingRun(config, Path(args.out), base, args.resume, args.workers, console, source)
    result = run.run()
    print(f"training time {run.training_time_s:.1f} s ({run.training_time_s / 60:.1f} min), "
          f"{run.state.update} updates; policy {run.folder.policy}; report {run.folder.report / 'report.md'}")
    for name, summary in result.get("scenarios", {}).items():
        low, high = summary["ci95"]
        print(f"{name}: success {summary['success_rate']:.1%} (95% CI {low:.1%}-{high:.1%}), "
              f"{summary['episodes']} episodes")
    return 0
