"""``lnn-control bench runtime``: sensor event -> command latency of the policy runtime.

One thread. For each step engine (eager torch, onnxruntime, AOTInductor-compiled):

- IMU event -> command for the IMU-only CfC/NCP and LTC/NCP policies of ``config/models``
  (``imu_cfc.yaml``, ``imu_ltc.yaml``), median and p99 over ``--events`` events at 200 Hz with
  jitter;
- camera event (64x64 rgb8) -> command, for a policy stepped by its camera (encode + step) and
  for one holding the frame for its IMU (encode only).

Reference in the same run: what a hand-written node would do, ncps's ``CfC`` / ``LTC`` sequence
module called once per event. Targets: IMU event median <= 50 us (CfC) and <= 100 us (LTC),
camera event median <= 2 ms.
"""

from __future__ import annotations

import argparse
import dataclasses
import warnings
from pathlib import Path
from typing import Any

from lnn_control.policy.engines import ENGINES

__all__ = ["add_arguments"]

IMU_TARGET_US = {"cfc": 50.0, "ltc": 100.0}
CAMERA_TARGET_US = 2000.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``lnn-control bench runtime``."""
    parser.add_argument("--json", default="out/bench_runtime.json", help="where to write results")
    parser.add_argument("--events", type=int, default=6000, help="timed IMU events (>= 5000)")
    parser.add_argument("--frames", type=int, default=500, help="timed camera frames")
    parser.add_argument("--models", default=None, help="folder of the model configs "
                        "(default: the installed config/models)")
    parser.add_argument("--engines", default=",".join(ENGINES),
                        help="comma-separated engines to measure (compiled takes ~10 s each)")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    import torch
    from rich.progress import Progress

    from lnn_control.bench.common import config_path, machine_info, parse_engines, print_table, write_json
    from lnn_control.errors import ConfigError

    if args.events < 5000:
        raise ConfigError(f"--events must be at least 5000, got {args.events}")
    engines = parse_engines(args.engines)
    torch.set_num_threads(1)
    models = Path(args.models) if args.models else config_path("models")
    rows: list[dict[str, Any]] = []
    with Progress(transient=True) as progress, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        task = progress.add_task("runtime benchmark", total=2 * (len(engines) + 1) + 2 * len(engines))
        for core in ("cfc", "ltc"):
            config = _config(models / f"imu_{core}.yaml")
            rows.append(_ncps_reference(core, config, args.events))
            progress.advance(task)
            for engine in engines:
                rows.append(_imu_events(core, config, engine, args.events))
                progress.advance(task)
        camera = _config(models / "camera_imu_cfc.yaml")
        stepped = dataclasses.replace(camera, control=dataclasses.replace(camera.control, stream="camera"))
        for name, config in (("camera steps", stepped), ("camera held, IMU steps", camera)):
            for engine in engines:
                rows.append(_camera_events(name, config, engine, args.frames))
                progress.advance(task)
    for row in rows:
        reference = next(r for r in rows if r["case"] == row["case"] and r["engine"] == "ncps per event") \
            if row["case"].startswith("IMU") else None
        row["speedup_vs_ncps"] = reference["median_us"] / row["median_us"] if reference else None
        target = row.get("target_us")
        row["met"] = None if target is None else row["median_us"] <= target
    print_table(
        "sensor event -> command, one thread (microseconds)",
        ["case", "engine", "median", "p99", "x faster than ncps", "target", "met"],
        [[r["case"], r["engine"], r["median_us"], r["p99_us"], r["speedup_vs_ncps"],
          None if r.get("target_us") is None else f"<= {r['target_us']:.0f}",
          None if r["met"] is None else ("yes" if r["met"] else "NO")] for r in rows],
    )
    path = write_json(args.json, {"benchmark": "runtime", "machine": machine_info(), "rows": rows})
    print(f"wrote {path}")
    return 0


def _config(path: Path) -> Any:
    from lnn_control.config import load_config
    from lnn_control.policy.config import PolicyConfig

    return load_config(PolicyConfig, path)


def _runtime(config: Any, engine: str) -> Any:
    import torch

    from lnn_control.policy import LiquidPolicy, PolicyRuntime

    torch.manual_seed(0)
    return PolicyRuntime(LiquidPolicy(config), engine)  # type: ignore[arg-type]


def _imu_stream(count: int) -> tuple[list[int], Any]:
    import numpy as np

    rng = np.random.default_rng(0)
    stamps = np.cumsum(rng.normal(5e6, 5e5, count + 300).clip(3e6, 7e6)).astype(np.int64)
    values = rng.normal([0, 0, 0, 0, 0, 9.81], 0.3, (count + 300, 6)).astype(np.float32)
    return list(stamps), values


class _Counter:
    """The index of the event being sent: advanced by each timed (or setup) call."""

    def __init__(self) -> None:
        self.i = -1

    def next(self) -> int:
        self.i += 1
        return self.i


def _imu_events(core: str, config: Any, engine: str, count: int) -> dict[str, Any]:
    from lnn_control.bench.common import latency_us

    runtime = _runtime(config, engine)
    stamps, values = _imu_stream(count)
    counter = _Counter()

    def event() -> object:
        i = counter.next()
        runtime.on_event("imu", stamps[i], values[i])
        return runtime.command(stamps[i])

    return {"case": f"IMU event, {core.upper()}/NCP IMU-only", "engine": engine,
            "target_us": IMU_TARGET_US[core], **latency_us(event, count, 300)}


def _ncps_reference(core: str, config: Any, count: int) -> dict[str, Any]:
    """ncps's sequence module (same NCP, same input width) called with one step per event."""
    import ncps.torch
    import ncps.wirings
    import torch

    from lnn_control.bench.common import latency_us

    wiring = config.core.wiring
    ncps_wiring = ncps.wirings.AutoNCP(wiring["units"], wiring["output_size"],
                                       wiring.get("sparsity_level", 0.5), wiring.get("seed", 22222))
    inputs = config.streams[0].features
    module = (ncps.torch.CfC if core == "cfc" else ncps.torch.LTC)(inputs, ncps_wiring).eval()
    stamps, values = _imu_stream(count)
    state = {"h": torch.zeros(1, wiring["units"])}
    x = torch.zeros(1, 1, inputs)
    counter = _Counter()

    def event() -> object:
        i = counter.next()
        with torch.no_grad():
            x[0, 0, :6] = torch.from_numpy(values[i])
            dt = torch.full((1, 1), (stamps[i] - stamps[i - 1]) * 1e-9 if i else 0.005)
            y, state["h"] = module(x, state["h"], dt)
        return y

    return {"case": f"IMU event, {core.upper()}/NCP IMU-only", "engine": "ncps per event",
            **latency_us(event, count, 300)}


def _camera_events(name: str, config: Any, engine: str, count: int) -> dict[str, Any]:
    """Camera frame at 30 Hz -> command; when the IMU steps, an IMU event precedes each frame,
    sent untimed."""
    import numpy as np

    from lnn_control.bench.common import latency_us

    runtime = _runtime(config, engine)
    frames = np.random.default_rng(1).integers(0, 256, (8, 64, 64, 3), dtype=np.uint8)
    imu = np.array([0, 0, 0, 0, 0, 9.81], dtype=np.float32)
    period = 33_000_000
    counter = _Counter()
    runtime.on_event("imu", 0, imu)

    def imu_before() -> object:
        return runtime.on_event("imu", (counter.i + 2) * period - 1_000_000, imu)

    def frame() -> object:
        i = counter.next()
        runtime.on_event("camera", (i + 1) * period, frames[i % len(frames)])
        return runtime.command((i + 1) * period)

    setup = imu_before if config.control.stream == "imu" else None
    return {"case": f"camera event 64x64 rgb8 ({name})", "engine": engine,
            "target_us": CAMERA_TARGET_US, **latency_us(frame, count, 30, setup)}
