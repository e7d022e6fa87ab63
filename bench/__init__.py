"""Benchmarks (installed as ``lnn_control.bench``), run as ``lnn-control bench NAME --json PATH``.

Each benchmark compares against a reference measured in the same run and reports ratios, prints a
table and writes JSON. Speed targets live here, never in unit tests. A benchmark module defines
``add_arguments(parser)`` (setting ``handler``) and keeps heavy imports inside its handler.
"""

from __future__ import annotations

import argparse
import importlib

#: benchmark name -> one-line help; the module is ``lnn_control.bench.<name>``
BENCHMARKS: dict[str, str] = {
    "replay": "rosbag replay: IMU messages replayed per second, vs reading alone and per engine",
    "liquid": "liquid core: single-step latency and training speed, ours vs ncps and nn.LSTM",
    "runtime": "policy runtime: sensor event -> command latency per engine, vs ncps per event",
    "ros": "policy node over DDS: IMU stamp -> command latency and delivery, vs a bare relay",
    "load": "camera + IMU policy node: CPU use per engine vs a bare relay; answers beside a CPU hog",
    "sim": "simulation suite: env steps/s, camera frames/s, vectorised steps/s vs raw MuJoCo",
    "rl": "RL: collection with the policy and PPO updates, control steps/s vs the raw vector env",
    "train": "camera policies: a behaviour-cloning update with and without image augmentation",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One subcommand per entry of :data:`BENCHMARKS`."""
    benchmarks = parser.add_subparsers(dest="benchmark", required=True, metavar="BENCHMARK")
    for name, help_text in BENCHMARKS.items():
        sub = benchmarks.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(f"lnn_control.bench.{name}").add_arguments(sub)
