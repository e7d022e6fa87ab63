"""``lnn-control bench liquid``: the liquid core against ncps 1.0.1 and ``nn.LSTM``, one thread.

Measures, for AutoNCP(19 units, 4 motor neurons) with 32 inputs, LTC and CfC:

(a) single-step latency at batch 1 (median and p99 over ``--steps`` steps) for ncps's cell, our
    cell in eager PyTorch, TorchScript, ONNX Runtime and AOTInductor, and an ``nn.LSTM`` + linear
    head of the same size; every path's output is checked against ncps's;
(b) one training iteration (batch 32 x 64 steps, forward + backward + Adam) for ncps's sequence
    module and ours with the same weights (constant dt, the only kind ncps's wrappers handle at
    batch > 1), and ours with a different dt per sample and step.

Targets, as ratios in the same run: our fastest deployable step >= 10x faster than ncps's cell;
training >= 4x faster than ncps. Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["add_arguments", "run"]

UNITS, MOTORS, INPUTS = 19, 4, 32
BATCH, STEPS = 32, 64
STEP_TARGET, TRAIN_TARGET = 10.0, 4.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``lnn-control bench liquid``."""
    parser.add_argument("--json", default="out/bench_liquid.json", help="where to write results")
    parser.add_argument("--steps", type=int, default=3000, help="timed single steps (>= 2000)")
    parser.add_argument("--iterations", type=int, default=15, help="timed training iterations")
    parser.add_argument("--seed", type=int, default=0, help="torch seed of weights and inputs")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run the benchmark; returns 0 (a missed target is reported, not an error)."""
    import torch
    from rich.progress import Progress

    from lnn_control.bench.common import machine_info, print_table, write_json

    if args.steps < 2000:
        from lnn_control.errors import ConfigError

        raise ConfigError(f"--steps must be at least 2000 for a stable p99, got {args.steps}")
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    steps: list[dict[str, Any]] = []
    training: list[dict[str, Any]] = []
    with Progress(transient=True) as progress, tempfile.TemporaryDirectory() as tmp:
        task = progress.add_task("liquid benchmark", total=2 * 7 + 1)
        for kind in ("LTC", "CfC"):
            for row in _single_step(kind, args.steps, Path(tmp), progress, task):
                steps.append(row)
            for row in _training(kind, args.iterations):
                training.append(row)
                progress.advance(task)
        steps.append(_lstm_step(args.steps))
        progress.advance(task)

    targets = _targets(steps, training)
    _print(steps, training, targets, print_table)
    path = write_json(
        args.json,
        {
            "benchmark": "liquid",
            "machine": machine_info(),
            "setup": {"wiring": f"AutoNCP({UNITS}, {MOTORS})", "inputs": INPUTS,
                      "train_batch": BATCH, "train_steps": STEPS, "threads": 1},
            "single_step": steps,
            "training": training,
            "targets": targets,
        },
    )
    print(f"wrote {path}")
    return 0


def _models(kind: str) -> tuple[Any, Any]:
    """An ncps cell with fresh weights and ours built from it (same weights)."""
    import ncps.torch
    import ncps.wirings

    from lnn_control.liquid.ncps_compat import from_ncps

    wiring = ncps.wirings.AutoNCP(UNITS, MOTORS)
    if kind == "LTC":
        reference = ncps.torch.LTCCell(wiring, INPUTS)
    else:
        reference = ncps.torch.WiredCfCCell(INPUTS, wiring)
    return reference.eval(), from_ncps(reference).eval()


def _single_step(
    kind: str, calls: int, tmp: Path, progress: Any, task: Any
) -> list[dict[str, Any]]:
    import torch

    from lnn_control.bench.common import latency_us
    from lnn_control.liquid.cell_step import CellStep
    from lnn_control.policy.engines.compiled_step import compile_step
    from lnn_control.policy.engines.export import export_onnx
    from lnn_control.policy.engines.onnx_step import OnnxStep

    reference, ours = _models(kind)
    x = torch.randn(1, INPUTS)
    h = torch.randn(1, UNITS) * 0.1
    dt = torch.full((1, 1), 0.005)
    with torch.no_grad():
        expected = reference(x, h, dt)[1]
        paths: dict[str, Callable[[], Any]] = {"ncps cell (eager)": lambda: reference(x, h, dt)}
        paths["ours eager"] = lambda: ours(x, h, dt)
        with warnings.catch_warnings():  # torch.jit is deprecated in 2.13, still measured here
            warnings.filterwarnings("ignore", "`torch.jit", DeprecationWarning)
            scripted = torch.jit.freeze(torch.jit.script(CellStep(ours).eval()))
        paths["ours TorchScript"] = lambda: scripted(x, h, dt)
        onnx = OnnxStep(export_onnx(ours, tmp / f"{kind}.onnx"))
        xn, hn, dtn = x.numpy(), h.numpy(), dt.numpy()
        paths["ours ONNX Runtime"] = lambda: onnx(xn, hn, dtn)
        compiled = compile_step(ours, tmp / f"{kind}.pt2")
        paths["ours AOTInductor"] = lambda: compiled(x, h, dt)
        rows = []
        for name, call in paths.items():
            state = call()[1]
            difference = float((torch.as_tensor(state) - expected).abs().max())
            rows.append({"model": kind, "path": name, "max_abs_diff_vs_ncps": difference,
                         **latency_us(call, calls)})
            progress.advance(task)
    base = rows[0]["median_us"]
    for row in rows:
        row["speedup_vs_ncps"] = base / row["median_us"]
    return rows


def _lstm_step(calls: int) -> dict[str, Any]:
    import torch

    from lnn_control.bench.common import latency_us

    lstm, head = torch.nn.LSTM(INPUTS, UNITS, batch_first=True), torch.nn.Linear(UNITS, MOTORS)
    x = torch.randn(1, 1, INPUTS)
    state = (torch.zeros(1, 1, UNITS), torch.zeros(1, 1, UNITS))
    with torch.no_grad():
        timing = latency_us(lambda: head(lstm(x, state)[0]), calls)
    return {"model": "LSTM", "path": f"nn.LSTM({INPUTS},{UNITS}) + Linear", **timing}


def _training(kind: str, iterations: int) -> list[dict[str, Any]]:
    import ncps.torch
    import ncps.wirings
    import torch

    from lnn_control.liquid.ncps_compat import from_ncps

    wiring = ncps.wirings.AutoNCP(UNITS, MOTORS)
    if kind == "LTC":
        reference = ncps.torch.LTC(INPUTS, wiring)
    else:
        reference = ncps.torch.CfC(INPUTS, wiring)
    ours = from_ncps(reference)
    x = torch.randn(BATCH, STEPS, INPUTS)
    target = torch.randn(BATCH, STEPS, MOTORS)
    dt = torch.rand(BATCH, STEPS) * 0.02 + 0.001
    rows = [
        {"model": kind, "path": "ncps (dt = 1)", "ms": _train_ms(reference, x, target, {}, iterations)},
        {"model": kind, "path": "ours (dt = 1)", "ms": _train_ms(ours, x, target, {}, iterations)},
        {"model": kind, "path": "ours (dt per sample and step)",
         "ms": _train_ms(ours, x, target, {"dt": dt}, iterations)},
    ]
    for row in rows:
        row["speedup_vs_ncps"] = rows[0]["ms"] / row["ms"]
    return rows


def _train_ms(model: Any, x: Any, target: Any, kwargs: dict[str, Any], iterations: int) -> float:
    """Median milliseconds of one forward + backward + Adam step."""
    import numpy as np
    import torch

    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def iteration() -> None:
        optimizer.zero_grad()
        y, _ = model(x, **kwargs)
        torch.nn.functional.mse_loss(y, target).backward()
        optimizer.step()

    for _ in range(3):
        iteration()
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        iteration()
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1e3)


def _targets(steps: list[dict[str, Any]], training: list[dict[str, Any]]) -> list[dict[str, Any]]:
    targets = []
    for kind in ("LTC", "CfC"):
        ours = [r for r in steps if r["model"] == kind and r["path"].startswith("ours")]
        best = max(ours, key=lambda r: r["speedup_vs_ncps"])
        targets.append(_target(f"{kind} single step, fastest deployable ({best['path']})",
                               best["speedup_vs_ncps"], STEP_TARGET))
        train = next(r for r in training if r["model"] == kind and r["path"] == "ours (dt = 1)")
        targets.append(_target(f"{kind} training iteration", train["speedup_vs_ncps"],
                               TRAIN_TARGET))
    return targets


def _target(name: str, ratio: float, goal: float) -> dict[str, Any]:
    return {"target": name, "speedup_vs_ncps": ratio, "goal": goal, "met": ratio >= goal}


def _print(
    steps: list[dict[str, Any]],
    training: list[dict[str, Any]],
    targets: list[dict[str, Any]],
    print_table: Callable[..., None],
) -> None:
    print_table(
        "(a) single step, batch 1, one thread (microseconds)",
        ["model / path", "median", "p99", "x faster than ncps", "max |diff| vs ncps"],
        [[f"{r['model']}: {r['path']}", r["median_us"], r["p99_us"], r.get("speedup_vs_ncps"),
          None if "max_abs_diff_vs_ncps" not in r else f"{r['max_abs_diff_vs_ncps']:.1e}"]
         for r in steps],
    )
    print_table(
        f"(b) training iteration, batch {BATCH} x {STEPS} steps, fwd + bwd + Adam (milliseconds)",
        ["model / path", "median ms", "x faster than ncps"],
        [[f"{r['model']}: {r['path']}", r["ms"], r["speedup_vs_ncps"]] for r in training],
    )
    print_table(
        "targets",
        ["target", "x faster than ncps", "goal", "met"],
        [[t["target"], t["speedup_vs_ncps"], f">= {t['goal']:.0f}x", "yes" if t["met"] else "NO"]
         for t in targets],
    )
