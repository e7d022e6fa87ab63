"""``lnn-control sim ...``: look at an env (``view``) and evaluate its expert (``eval``).

Heavy imports (MuJoCo, Gymnasium, matplotlib) happen inside the handlers, so ``--help`` is fast.
"""

from __future__ import annotations

import argparse

from lnn_control.errors import ConfigError
from lnn_control.sim.ids import SHORT_NAMES, env_id

__all__ = ["add_arguments"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``view`` and ``eval`` subcommands."""
    commands = parser.add_subparsers(dest="sim_command", required=True, metavar="SIM_COMMAND")

    view = commands.add_parser(
        "view",
        help="run one episode and write a PNG: camera strips and trajectory plots",
        description="Run one episode and write a PNG with third-person frames, the policy camera's "
        "frames and plots of the trajectory.",
    )
    _episode_arguments(view, seed_help="reset seed (default 0)")
    view.add_argument("--expert", action="store_true", help="drive with the privileged expert (default: random actions)")
    view.add_argument("--out", required=True, help="PNG file to write")
    view.add_argument("--frames", type=int, default=8, help="frames per strip (default 8)")
    view.set_defaults(handler=_view, outputs={"out": "file"})

    evaluate = commands.add_parser(
        "eval",
        help="run the expert over seeded episodes and report its success rate",
        description="Run the env's privileged expert over seeded episodes; print the success rate "
        "(and write JSON with --json).",
    )
    _episode_arguments(evaluate, seed_help="first seed (default 0)")
    evaluate.add_argument("--episodes", type=int, default=100, help="number of episodes (default 100)")
    evaluate.add_argument("--json", help="also write the summary to this JSON file")
    evaluate.set_defaults(handler=_evaluate)


def _episode_arguments(parser: argparse.ArgumentParser, seed_help: str) -> None:
    """``--env``, ``--scenario`` and ``--seed``, shared by the subcommands."""
    parser.add_argument("--env", required=True, help=f"env id, e.g. lnn_control/QuadHover-v0 (or just {', '.join(SHORT_NAMES)})")
    parser.add_argument("--scenario", default="nominal", help="scenario name or YAML path (default nominal)")
    parser.add_argument("--seed", type=int, default=0, help=seed_help)


def _view(args: argparse.Namespace) -> int:
    import lnn_control.sim.envs  # noqa: F401
    from lnn_control.sim.experts import make_expert
    from lnn_control.sim.view import RandomActions, record_episode, save_view

    name = env_id(args.env)
    if args.frames < 3:
        raise ConfigError(f"--frames must be at least 3, got {args.frames}")
    if args.expert:
        controller = make_expert(name)
    else:
        import gymnasium as gym

        probe = gym.make(name)
        controller = RandomActions(probe.unwrapped.action_spec(), args.seed)  # type: ignore[attr-defined]
        probe.close()
    recording, result = record_episode(name, controller, args.scenario, args.seed, args.frames, args.expert)
    driver = "expert" if args.expert else "random actions"
    path = save_view(recording, result, f"{name} [{args.scenario}], {driver}, seed {args.seed}", args.out)
    print(f"wrote {path}: success={result.success}, final distance {result.final_distance:.3f} m")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from lnn_control.sim.experts import make_expert
    from lnn_control.sim.rollout import evaluate

    name = env_id(args.env)
    if args.episodes < 1:
        raise ConfigError(f"--episodes must be at least 1, got {args.episodes}")
    result = evaluate(name, make_expert(name), args.episodes, args.scenario, args.seed, progress=True)
    summary = result.summary()
    print(
        f"{name} [{args.scenario}]: expert success {summary['success_rate']:.1%} over "
        f"{summary['episodes']} episodes (seeds {args.seed}..{args.seed + args.episodes - 1}); "
        f"mean final distance {summary['mean_final_distance_m']:.2e} m; crashes {summary['crashes']}"
    )
    if args.json:
        import json
        from pathlib import Path

        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(summary, indent=2) + "\n")
        print(f"wrote {path}")
    return 0
