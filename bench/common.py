"""Shared pieces of the benchmarks: timing, machine description, the printed table, the JSON file."""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Optional

import numpy as np

from lnn_control.errors import ConfigError
from lnn_control.policy.engines import ENGINES
from lnn_control.resources import config_path

__all__ = ["config_path", "latency_us", "machine_info", "print_table", "write_json"]


def latency_us(
    fn: Callable[[], object],
    calls: int,
    warmup: int = 200,
    setup: Optional[Callable[[], object]] = None,
) -> dict[str, float]:
    """Call ``fn`` ``warmup`` times untimed, then ``calls`` times, each timed on its own.

    :param setup: if given, called (untimed) before every call of ``fn``.
    :return: ``{"median_us", "p99_us", "mean_us", "calls"}``, latencies in microseconds.
    """
    for _ in range(warmup):
        if setup is not None:
            setup()
        fn()
    samples = np.empty(calls, dtype=np.int64)
    clock = time.perf_counter_ns
    for i in range(calls):
        if setup is not None:
            setup()
        start = clock()
        fn()
        samples[i] = clock() - start
    micro = samples / 1e3
    return {
        "median_us": float(np.median(micro)),
        "p99_us": float(np.percentile(micro, 99)),
        "mean_us": float(micro.mean()),
        "calls": calls,
    }


def parse_engines(text: str) -> list[str]:
    """The engines of an ``--engines`` option (comma-separated); a :class:`ConfigError` names the
    unknown ones."""
    engines = [e for e in text.split(",") if e]
    unknown = sorted(set(engines) - set(ENGINES))
    if unknown or not engines:
        raise ConfigError(f"--engines takes a comma-separated subset of {list(ENGINES)}, got {unknown}")
    return engines


def machine_info() -> dict[str, Any]:
    """What the figures were measured on: CPU, core count, Python and library versions."""
    import torch

    cpu = platform.processor() or "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
    }


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print ``rows`` under ``columns`` as a terminal table; floats get 1 decimal, ratios 2."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*(_cell(value) for value in row))
    Console(width=140).print(table)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def write_json(path: str | os.PathLike[str], payload: dict[str, Any]) -> Path:
    """Write ``payload`` as indented JSON to ``path`` atomically (parents created); returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
    partial.replace(target)
    return target
