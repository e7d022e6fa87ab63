"""``lnn-control demo`` (``make demo``): the whole stack end to end, in a few minutes on a laptop.

1. **train** a small CfC/NCP policy for QuadHover in simulation (expert demonstrations,
   behaviour cloning, DAgger): ``config/train/quad_hover.yaml``, the recipe of the results in
   ``docs/results.md``, evaluated on 20 nominal episodes instead of its three scenarios of 100;
2. **fly** it in closed loop through the ROS 2 nodes (``sim_node``, ``policy_node``,
   ``bag_recorder`` as processes over DDS on loopback), recording a bag;
3. **replay** that bag through the same checkpoint, in arrival order, and compare the commands
   with the live ones;
4. **report**: hover success, tracking error, IMU-to-command latency, plots
   (:mod:`lnn_control.demo.report`), in a new folder named at the end.

Closed-loop seeds start at 1000, disjoint from the training config's demonstration (100000..),
DAgger (200000..) and evaluation (0..) seeds.
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Optional

from lnn_control.errors import ConfigError
from lnn_control.policy.engines import ENGINES
from lnn_control.resources import config_path

__all__ = ["add_arguments", "run_demo"]

#: the training config of the demo: minutes on 2 cores
TRAIN_CONFIG = "train/quad_hover.yaml"
#: the demo's evaluation in simulation (the closed loop through ROS 2 is its real test)
EVALUATION = {"episodes": 20, "first_seed": 0, "scenarios": ["nominal"]}


def run_demo(
    out: Optional[Path] = None,
    train_config: Optional[Path] = None,
    episodes: int = 3,
    seed: int = 1000,
    engine: str = "onnx",
    console: Any = None,
) -> Path:
    """Run the four stages; returns the demo folder (``out``, default ``out/demo/<time>``).

    :raises ConfigError: ``out`` exists and is not empty (nothing is ever written over).
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from lnn_control.bags.pipeline import replay_to_folder
    from lnn_control.demo.analysis import analyse_flight
    from lnn_control.demo.closed_loop import fly
    from lnn_control.demo.report import write_demo_report
    from lnn_control.policy.deployment import load_deployment
    from lnn_control.sim.envs.quadrotor_env import HOLD_RADIUS, HOLD_TIME
    from lnn_control.train.config import EvaluationConfig, load_train_config
    from lnn_control.train.pipeline import TrainingRun

    console = console or Console(stderr=True, soft_wrap=True)
    started = time.monotonic()
    folder = out or Path("out") / "demo" / datetime.now().strftime("%Y%m%d-%H%M%S")
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ConfigError(f"{folder} exists and is not empty; the demo never writes over results "
                          "(choose a new --out)")
    folder.mkdir(parents=True, exist_ok=True)
    train_file = train_config or config_path(TRAIN_CONFIG)
    sim_params, policy_params = config_path("ros/quad_hover_sim.yaml"), config_path("ros/quad_hover_policy.yaml")

    console.rule("[bold]1/4 training a CfC/NCP policy for QuadHover in simulation")
    config, base = load_train_config(train_file)
    if train_config is None:
        config.evaluation = EvaluationConfig(**EVALUATION)
    training = TrainingRun(config, folder / "train", base, False, None, console)
    trained = training.run()
    policy = training.folder.policy

    console.rule("[bold]2/4 closed loop: sim_node + policy_node + bag_recorder over DDS (loopback)")
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("episodes flown through ROS 2", total=episodes)
        flown = fly(policy, folder, sim_params, policy_params, episodes, seed, engine,
                    on_episode=lambda done: bar.update(task, completed=done))

    console.rule("[bold]3/4 replaying the recorded bag through the policy")
    replayed = replay_to_folder(flown.bag, policy_params, folder / "replay", model=policy,
                                engine=engine, arrival_order=True)
    recorded = replayed.report["recorded"] or {}
    max_abs = max((recorded.get("exact_max_abs") or {}).values(), default=None)

    console.rule("[bold]4/4 report")
    output = load_deployment(policy_params).output
    flight = analyse_flight(flown.bag, flown.sim, output)
    summary = {
        "folder": str(folder),
        "training": {"config": str(train_file), "policy": str(policy),
                     "report": str(training.folder.report / "report.md"),
                     "time_s": training.training_time_s,
                     "summary": _training_summary(trained, training.training_time_s),
                     "evaluation": trained.get("scenarios", {})},
        "closed_loop": {"env": flown.sim.env, "scenario": flown.sim.scenario,
                        "seeds": f"{seed}..{seed + episodes - 1}", "engine": engine,
                        "bag": str(flown.bag), "radius_m": HOLD_RADIUS, "hold_s": HOLD_TIME,
                        "logs": {name: str(path) for name, path in flown.logs.items()},
                        "episodes": [e.metrics(HOLD_RADIUS, HOLD_TIME) for e in flight.episodes]},
        "latency": flight.latency_summary(),
        "replay": {"report": str(replayed.folder / "report.md"), "recorded": recorded.get("count", 0),
                   "compared": recorded.get("exact_stamps", 0), "max_abs": max_abs,
                   "equal": max_abs is not None and max_abs <= 1e-6},
    }
    summary["total_time_s"] = time.monotonic() - started
    report = write_demo_report(folder, summary, flight, HOLD_RADIUS)
    episodes_ok = sum(e["success"] for e in summary["closed_loop"]["episodes"])
    console.print(f"hover success over ROS 2: {episodes_ok}/{len(flight.episodes)} episodes; "
                  f"IMU-to-command latency median {summary['latency']['median_ms']:.2f} ms; "
                  f"replay equals live: {summary['replay']['equal']} (max diff {max_abs})")
    console.print(f"[bold]demo finished in {summary['total_time_s'] / 60:.1f} min; report: {report}")
    return folder


def _training_summary(result: dict[str, Any], seconds: float) -> str:
    parts = [f"{seconds / 60:.1f} min of training"]
    for name, scenario in result.get("scenarios", {}).items():
        low, high = scenario["ci95"]
        parts.append(f"{name} success {scenario['success_rate']:.0%} (95% CI {low:.0%}-{high:.0%}, "
                     f"{scenario['episodes']} episodes in simulation)")
    return "; ".join(parts) + "."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``lnn-control demo`` (all optional: ``make demo`` gives none)."""
    parser.description = __doc__.split("\n\n")[0] if __doc__ else None
    parser.add_argument("--out", type=Path, help="new folder for everything (default out/demo/<time>)")
    parser.add_argument("--train-config", type=Path, help=f"training config (default config/{TRAIN_CONFIG})")
    parser.add_argument("--episodes", type=int, default=3, help="episodes flown through ROS 2")
    parser.add_argument("--seed", type=int, default=1000, help="seed of the first closed-loop episode")
    parser.add_argument("--engine", choices=ENGINES, default="onnx",
                        help="policy_node's engine (and the replay's)")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    if args.episodes < 1:
        raise ConfigError(f"--episodes must be >= 1, got {args.episodes}")
    run_demo(args.out, args.train_config, args.episodes, args.seed, args.engine)
    return 0
