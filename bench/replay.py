"""``lnn-control bench replay --json PATH``: IMU messages replayed per second, CfC/NCP policy.

The policy is ``config/models/imu_cfc.yaml`` with random weights (seed 0), mapped to the bags with
``config/ros/imu_policy.yaml``; the bags are the real recordings of ``../shared/data/bags``
(``--bags`` takes others). For each bag, one thread, median over ``--repeats`` runs:

- *rosbags read* (reference): read and deserialize the IMU topic with ``rosbags`` alone, the floor
  any replay pays;
- *runtime alone* (reference), per engine: the already converted IMU values fed to
  ``PolicyRuntime.on_event`` in a bare loop, the floor the runtime sets;
- *replay*, per engine: :func:`lnn_control.bags.replay.replay` (read, convert, sort, feed, record
  every step and the stream's timing), the runtime built beforehand;
- *replay + output bag + report* (onnx): all of ``lnn-control replay`` but the process start and
  the ONNX export (the step file is given), i.e. what a user waits for.

Rates are IMU messages per second of wall time, with their ratio to the rosbags read and, for the
replay, the factor over real time (messages/s over the recording's IMU rate). Target (issue 8):
replay >= 20,000 IMU messages/s.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lnn_control.policy.engines import ENGINES

__all__ = ["add_arguments"]

TARGET_PER_S = 20_000.0
ROOT = Path(__file__).resolve().parents[1]
SHARED_BAGS = ROOT.parent / "shared" / "data" / "bags"
DEFAULT_BAGS = ("imu_400hz_dropouts.bag", "husky_imu_gps_odom.bag")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``lnn-control bench replay``."""
    parser.add_argument("--json", default="out/bench_replay.json", help="where to write results")
    parser.add_argument("--bags", nargs="+", default=None,
                        help=f"bags to replay (default: {', '.join(DEFAULT_BAGS)} of "
                             "../shared/data/bags beside the checkout)")
    parser.add_argument("--engines", default=",".join(ENGINES),
                        help=f"comma-separated engines among {list(ENGINES)} (compiled needs a "
                             "C++ compiler and ~10 s to build)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per case (median reported)")
    parser.add_argument("--skip-output", action="store_true",
                        help="skip the full replay with output bag and report")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    import torch
    from rich.progress import Progress

    from lnn_control.bench.common import machine_info, parse_engines, print_table, write_json
    from lnn_control.errors import ConfigError

    engines = parse_engines(args.engines)
    if args.repeats < 1:
        raise ConfigError(f"--repeats must be at least 1, got {args.repeats}")
    bags = [Path(b) for b in args.bags] if args.bags else [SHARED_BAGS / b for b in DEFAULT_BAGS]
    missing = [str(b) for b in bags if not b.exists()]
    if missing:
        raise ConfigError(f"bags not found: {missing}; pass --bags with ROS 1 or ROS 2 IMU bags")
    torch.set_num_threads(1)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench_replay_") as scratch, \
            Progress(transient=True) as progress:
        setup = _Setup(Path(scratch), engines, export=not args.skip_output or "onnx" in engines)
        cases = len(bags) * (1 + 2 * len(engines) + (not args.skip_output))
        task = progress.add_task("replay benchmark", total=cases)
        for bag in bags:
            for row in _bag_rows(bag, setup, engines, args.repeats, args.skip_output,
                                 lambda: progress.advance(task)):
                rows.append(row)
    print_table(
        "IMU messages replayed per second, one thread (CfC/NCP IMU-only policy)",
        ["bag", "case", "engine", "messages", "messages/s", "x rosbags read", "x real time",
         "target", "met"],
        [[r["bag"], r["case"], r["engine"] or "-", r["messages"], r["per_s"], r["vs_read"],
          r["x_real_time"], None if r["target_per_s"] is None else f">= {r['target_per_s']:.0f}",
          None if r["met"] is None else ("yes" if r["met"] else "NO")] for r in rows],
    )
    path = write_json(args.json, {"benchmark": "replay", "machine": machine_info(),
                                  "target_per_s": TARGET_PER_S, "rows": rows})
    print(f"wrote {path}")
    return 0


class _Setup:
    """The policy (checkpoint, parameter file, and the exported step if ``export``) and one
    runtime per engine."""

    def __init__(self, folder: Path, engines: list[str], export: bool) -> None:
        import torch
        import yaml

        from lnn_control.bench.common import config_path
        from lnn_control.config import load_config
        from lnn_control.policy import LiquidPolicy, PolicyConfig, PolicyRuntime, save_checkpoint
        from lnn_control.policy.deployment import load_deployment
        from lnn_control.policy.engines.export import export_policy_onnx

        torch.manual_seed(0)
        config = load_config(PolicyConfig, config_path("models/imu_cfc.yaml"))
        self.policy = LiquidPolicy(config).eval()
        checkpoint = save_checkpoint(self.policy, folder / "checkpoint")
        step = export_policy_onnx(self.policy, folder / "step.onnx") if export else None
        document = yaml.safe_load(config_path("ros/imu_policy.yaml").read_text())
        parameters = document["policy_node"]["ros__parameters"]
        parameters.update(checkpoint=str(checkpoint), engine_file=str(step or ""), engine="onnx")
        self.params = folder / "params.yaml"
        self.params.write_text(yaml.safe_dump(document))
        self.deployment = load_deployment(self.params)
        self.folder = folder
        self.runtimes = {engine: PolicyRuntime(self.policy, engine,  # type: ignore[arg-type]
                                               step if engine == "onnx" else None)
                         for engine in engines}


def _median_seconds(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _bag_rows(bag: Path, setup: _Setup, engines: list[str], repeats: int, skip_output: bool,
              advance: Callable[[], None]) -> list[dict[str, Any]]:
    from rosbags.highlevel import AnyReader

    from lnn_control.bags.pipeline import replay_to_folder
    from lnn_control.bags.reader import open_bag
    from lnn_control.bags.replay import bind_streams, replay
    from lnn_control.policy.messages.sensors import stream_value

    with open_bag(bag) as opened:
        binding = bind_streams(opened, setup.deployment, setup.policy.config)
    topic = binding[0].topic

    def read() -> list[tuple[int, Any]]:
        with AnyReader([opened.source]) as reader:
            connections = [c for c in reader.connections if c.topic == topic]
            return [(t, reader.deserialize(raw, c.msgtype))
                    for c, t, raw in reader.messages(connections=connections)]

    messages = read()
    count = len(messages)
    events = sorted((stream_value("imu", "sensor_msgs/msg/Imu", m)[:2] for _, m in messages),
                    key=lambda event: event[0])
    span_s = (events[-1][0] - events[0][0]) * 1e-9
    real_rate = (count - 1) / span_s if span_s > 0 else None

    def row(case: str, engine: str | None, seconds: float, target: bool = False) -> dict[str, Any]:
        advance()
        per_s = count / seconds
        return {"bag": bag.name, "case": case, "engine": engine, "messages": count,
                "seconds": seconds, "per_s": per_s, "vs_read": None, "x_real_time":
                per_s / real_rate if real_rate else None,
                "target_per_s": TARGET_PER_S if target else None,
                "met": per_s >= TARGET_PER_S if target else None}

    rows = [row("rosbags read (reference)", None, _median_seconds(read, repeats))]
    for engine, runtime in setup.runtimes.items():
        def bare() -> None:
            runtime.reset()
            for stamp, value in events:
                runtime.on_event("imu", stamp, value)

        def replayed() -> None:
            runtime.reset()
            with open_bag(bag) as source:
                replay(source, binding, runtime, setup.deployment.output)

        rows.append(row("runtime alone (reference)", engine, _median_seconds(bare, repeats)))
        rows.append(row("replay", engine, _median_seconds(replayed, repeats), target=True))
    if not skip_output:
        outputs = iter(range(repeats))

        def full() -> None:
            replay_to_folder(bag, setup.params, setup.folder / f"{bag.stem}_{next(outputs)}",
                             progress=False)

        rows.append(row("replay + output bag + report", "onnx", _median_seconds(full, repeats)))
    for entry in rows:
        entry["vs_read"] = rows[0]["seconds"] / entry["seconds"]
    return rows
