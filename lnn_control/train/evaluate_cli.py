"""``lnn-control evaluate``: fly a policy checkpoint (or the expert) over seeded episodes per
scenario and report success with its 95 % interval, tracking error and failures by cause (see
:mod:`lnn_control.train.evaluation`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lnn_control.errors import ConfigError

__all__ = ["add_arguments"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``lnn-control evaluate``."""
    parser.description = (
        "Evaluate a policy checkpoint through the policy runtime on the env's sensor events "
        "(or the privileged expert with --expert, or the teacher told the episode's hidden physics "
        "with --teacher): success rate with a Wilson 95% confidence "
        "interval, tracking error and failures by cause, per scenario."
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="policy checkpoint folder (e.g. RUN/policy or RUN/checkpoints/round_02)")
    source.add_argument("--expert", action="store_true", help="evaluate the env's privileged expert instead")
    source.add_argument("--teacher", action="store_true",
                        help="evaluate the env's privileged teacher (the expert told the hidden physics) instead")
    parser.add_argument("--env", help="env id or short name (default: the env the checkpoint was trained in)")
    parser.add_argument("--scenario", default="nominal",
                        help="scenario name or YAML path, or 'all' (nominal, timing_ood, physics_ood, visual_ood, adaptation_ood)")
    parser.add_argument("--episodes", type=int, default=100, help="episodes per scenario (default 100)")
    parser.add_argument("--first-seed", type=int, default=0, help="episodes use seeds first-seed, +1, ... (default 0)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2; 0: in-process)")
    parser.add_argument("--json", help="also write the results (summary and every episode) to this JSON file")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=_evaluate)


def _evaluate(args: argparse.Namespace) -> int:
    from lnn_control.config import config_from_dict
    from lnn_control.policy.checkpoint import read_checkpoint_config
    from lnn_control.policy.config import PolicyConfig
    from lnn_control.sim.ids import env_id
    from lnn_control.train.config import SCENARIOS
    from lnn_control.train.evaluation import adaptation_line
    from rich.console import Console

    from lnn_control.train.pipeline import evaluate_policy, progress_display
    from lnn_control.train.rollouts import EpisodeRunner

    if args.episodes < 1:
        raise ConfigError(f"--episodes must be at least 1, got {args.episodes}")
    config = None
    name = args.env
    if args.model:
        document, _ = read_checkpoint_config(args.model)
        config = config_from_dict(PolicyConfig, document["config"], "config")
        name = name or document.get("metadata", {}).get("env_id")
    if not name:
        raise ConfigError("--env is required: the checkpoint does not say which env it was trained in")
    full = env_id(name)
    scenarios = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    console = None if args.quiet else Console(stderr=True, soft_wrap=True)
    with EpisodeRunner(args.workers) as runner, progress_display(console) as progress:
        results = evaluate_policy(Path(args.model) if args.model else None, full, scenarios, args.episodes,
                                  args.first_seed, runner, progress, config, args.teacher)
    who = "teacher" if args.teacher else "expert" if args.expert else args.model
    print(f"{full}, {who}, seeds {args.first_seed}..{args.first_seed + args.episodes - 1}")
    print(f"{'scenario':<12} {'success':>8} {'95% CI':>15} {'tracking m':>11} {'final m':>9}  failures")
    for scenario, s in results.items():
        low, high = s["ci95"]
        causes = ", ".join(f"{k} {v}" for k, v in s["failures"].items() if v) or "-"
        print(f"{scenario:<12} {s['success_rate']:>8.1%} {low:>7.1%}-{high:<7.1%} "
              f"{s['tracking_error_m']:>11.4f} {s['final_distance_m']:>9.4f}  {causes}")
    for scenario, s in results.items():
        if "adaptation" in s:
            print(f"{scenario}: {adaptation_line(s)}")
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        document = {"env": full, "model": args.model, "expert": bool(args.expert), "teacher": bool(args.teacher),
                    "first_seed": args.first_seed, "scenarios": results}
        path.write_text(json.dumps(document, indent=1) + "\n")
        print(f"wrote {path}")
    return 0
