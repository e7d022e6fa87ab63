"""``lnn-control bench load``: the camera + IMU policy node's CPU budget, and how it holds up
beside a CPU hog, over DDS on loopback.

Every process runs with a domain id of its own and discovery on loopback. The node under test is
``policy_node`` with the camera + IMU CfC/NCP policy (``config/models/camera_imu_cfc.yaml``,
random weights, ``config/ros/camera_imu_policy.yaml``); a sensor publisher sends a 64x64 rgb8
``sensor_msgs/Image`` and a ``sensor_msgs/Imu``, each stamped with its send time, and a receiver
takes the commands (reliable, as a flight controller's bridge would; see
:mod:`lnn_control.bench.ros_probe`). Two parts:

- **CPU budget** (``--cpu-seconds``, per engine in ``--engines``): IMU at ``--imu-rate`` (1 kHz)
  and the camera at ``--camera-rate`` (30 Hz) go to the node and, in the same run, one after the
  other (so that neither pays for the other's wake-ups), to a bare relay that takes the same two
  topics with the node's queue depth, copies each IMU stamp into a command and keeps each frame's
  pixels as an array, nothing else. Reported: each process's CPU time over the publishing window
  as a percentage of one core, read from ``/proc/PID/stat``, and the share of IMU messages
  answered. Target: the node <= 20 % of one core with the native engine.
- **Beside a CPU hog** (``--load-seconds``): IMU at 200 Hz and the camera at 30 Hz to the node
  (``--load-engine``, native by default), once on the quiet machine and once beside a CPU hog: a
  process running torch matrix products on ``--hogs`` threads (a training job's work, one thread
  per core by default; it starts before the sensors and stops after them). Reported: the
  fraction of IMU messages answered with a command, the IMU-stamp-to-command latency (median,
  p99) and the runtime's clock resets (from the node's ``/diagnostics``). Target beside the hog:
  >= 95 % answered, 0 clock resets.

``--baseline DIR`` measures another version's node (a checkout, e.g. ``git worktree add
/tmp/main main``) the same way in the same run, the reference for a change.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

from lnn_control.policy.engines import ENGINES

__all__ = ["add_arguments", "cpu_seconds"]

CPU_TARGET_PERCENT = 20.0
ANSWERED_TARGET = 0.95
IMU_TOPIC, CAMERA_TOPIC = "/bench/imu", "/bench/camera"
NODE_COMMAND, RELAY_COMMAND = "/lnn_control/command", "/bench/relay_command"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``lnn-control bench load``."""
    parser.add_argument("--json", default="out/bench_load.json", help="where to write results")
    parser.add_argument("--engines", default="native,onnx", help="engines of the CPU budget part")
    parser.add_argument("--imu-rate", type=float, default=1000.0, help="CPU budget: IMU rate, Hz")
    parser.add_argument("--camera-rate", type=float, default=30.0, help="camera rate, Hz")
    parser.add_argument("--cpu-seconds", type=float, default=10.0,
                        help="CPU budget: seconds of sensor data per engine (0 skips the part)")
    parser.add_argument("--load-rate", type=float, default=200.0, help="beside the hog: IMU rate, Hz")
    parser.add_argument("--load-engine", default="native", choices=ENGINES, help="beside the hog: the engine")
    parser.add_argument("--load-seconds", type=float, default=10.0,
                        help="beside the hog: seconds of sensor data, quiet and loaded (0 skips)")
    parser.add_argument("--hogs", type=int, default=os.cpu_count() or 2,
                        help="threads of the CPU hog beside the node (default: one per core)")
    parser.add_argument("--baseline", default="",
                        help="a checkout of another version (e.g. `git worktree add /tmp/main main`): "
                             "its policy_node is measured the same way, in the same run")
    parser.set_defaults(handler=_run)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, s) process ``pid`` has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run(args: argparse.Namespace) -> int:
    import torch
    from rich.progress import Progress

    from lnn_control.bench.common import (config_path, machine_info, parse_engines, print_table,
                                          write_json)
    from lnn_control.config import load_config
    from lnn_control.policy import LiquidPolicy, PolicyConfig, save_checkpoint
    from lnn_control.policy.engines.export import export_policy_onnx

    engines = parse_engines(args.engines)
    root = config_path("")
    cpu_rows: list[dict[str, Any]] = []
    load_rows: list[dict[str, Any]] = []
    parts = len(engines) * (args.cpu_seconds > 0) + 2 * (args.load_seconds > 0)
    with tempfile.TemporaryDirectory() as folder, Progress(transient=True) as progress:
        tmp = Path(folder)
        torch.manual_seed(0)
        policy = LiquidPolicy(load_config(PolicyConfig, root / "models" / "camera_imu_cfc.yaml"))
        checkpoint = save_checkpoint(policy, tmp / "checkpoint")
        step = export_policy_onnx(policy, tmp / "step.onnx")  # exported once, as deployed

        def node(engine: str, version: str = "") -> list[str]:
            """The node's command line; ``version``: a checkout to take the package from."""
            command = ["env", f"PYTHONPATH={Path(version).resolve()}"] if version else []
            command += [sys.executable, "-m", "lnn_control.ros.policy_node", "--ros-args",
                       "--params-file", str(root / "ros" / "camera_imu_policy.yaml"),
                       "-p", f"checkpoint:={checkpoint}", "-p", "autostart:=true",
                       "-p", f"engine:={engine}", "-p", f"streams.imu.topic:={IMU_TOPIC}",
                       "-p", f"streams.camera.topic:={CAMERA_TOPIC}",
                       "-p", "diagnostics_period_s:=0.5"]
            return command + (["-p", f"engine_file:={step}"] if engine in ("onnx", "native") else [])

        relay = [sys.executable, "-m", "lnn_control.bench.ros_probe", "relay", IMU_TOPIC,
                 RELAY_COMMAND, CAMERA_TOPIC]
        versions = {"policy_node": "", **({"baseline policy_node": args.baseline} if args.baseline else {})}
        task = progress.add_task("load benchmark", total=parts * len(versions))
        for label, version in versions.items():
            for engine in engines if args.cpu_seconds > 0 else []:
                # one at a time, so that neither pays for the other's wake-ups and cache misses
                for name, command, topic in (("bare relay", relay, RELAY_COMMAND),
                                             (f"{label} ({engine})", node(engine, version), NODE_COMMAND)):
                    measured = _measure({name: (command, topic)}, args.imu_rate, args.camera_rate,
                                        args.cpu_seconds, 0, tmp)
                    cpu_rows.append({"engine": engine, "process": name, **measured[name]})
                progress.advance(task)
            for hogs in (0, args.hogs) if args.load_seconds > 0 else ():
                measured = _measure({f"{label} ({args.load_engine})": (node(args.load_engine, version), NODE_COMMAND)},
                                    args.load_rate, args.camera_rate, args.load_seconds, hogs, tmp)
                load_rows += [{"process": name, "hogs": hogs, **values} for name, values in measured.items()]
                progress.advance(task)
    for relay_row, row in zip(cpu_rows[::2], cpu_rows[1::2]):  # each run: the relay, then the node
        row["relay_cpu_percent"] = relay_row["cpu_percent"]
        row["met"] = row["cpu_percent"] <= CPU_TARGET_PERCENT if row["engine"] == "native" else None
    for row in load_rows:
        row["met"] = row["answered"] >= ANSWERED_TARGET and row["clock_resets"] == 0
    if cpu_rows:
        print_table(
            f"CPU use at IMU {args.imu_rate:.0f} Hz + 64x64 camera {args.camera_rate:.0f} Hz "
            f"(% of one core; target: native <= {CPU_TARGET_PERCENT:.0f} %)",
            ["engine", "process", "CPU %", "answered", "median us", "met"],
            [[r["engine"], r["process"], r["cpu_percent"], f"{r['answered']:.4f}", r["median_us"],
              None if r.get("met") is None else ("yes" if r["met"] else "NO")] for r in cpu_rows])
    if load_rows:
        print_table(
            f"Beside a CPU hog: IMU {args.load_rate:.0f} Hz + camera {args.camera_rate:.0f} Hz "
            f"(target: >= {ANSWERED_TARGET:.0%} answered, 0 clock resets)",
            ["process", "hog threads", "answered", "median us", "p99 us", "clock resets", "CPU %", "met"],
            [[r["process"], r["hogs"], f"{r['answered']:.4f}", r["median_us"], r["p99_us"], r["clock_resets"],
              r["cpu_percent"], "yes" if r["met"] else "NO"] for r in load_rows])
    path = write_json(args.json, {
        "benchmark": "load", "machine": machine_info(), "cpu_rows": cpu_rows, "load_rows": load_rows,
        "target": (f"native <= {CPU_TARGET_PERCENT:.0f} % of one core at IMU 1 kHz + camera 30 Hz; "
                   f"beside a CPU hog >= {ANSWERED_TARGET:.0%} answered and 0 clock resets")})
    print(f"wrote {path}")
    return 0


def _measure(nodes: dict[str, tuple[list[str], str]], imu_rate: float, camera_rate: float,
             seconds: float, hogs: int, tmp: Path) -> dict[str, dict[str, Any]]:
    """Start ``nodes`` (command line, command topic) side by side with a receiver per command
    topic, and ``hogs`` busy processes; publish ``seconds`` of IMU and camera messages; returns
    for each node its CPU use over the publishing window, the share of IMU messages answered,
    their latency and the node's clock resets."""
    import numpy as np

    env = {**os.environ, "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
           "ROS_DOMAIN_ID": str(random.randint(110, 200))}
    probe = [sys.executable, "-m", "lnn_control.bench.ros_probe"]
    quiet = {"env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    started = {name: subprocess.Popen(command, **quiet) for name, (command, _) in nodes.items()}
    received = {name: tmp / f"received_{k}.json" for k, name in enumerate(nodes)}
    receivers = [subprocess.Popen(probe + ["receive", str(received[name]), topic], **quiet)
                 for name, (_, topic) in nodes.items()]
    busy = [subprocess.Popen([sys.executable, "-c", _HOG, str(seconds + 8.0), str(hogs)], **quiet)] if hogs else []
    sent_file = tmp / "sent.json"
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in nodes}
    try:
        time.sleep(4.0)  # node start-up (loading, compiling) and discovery
        publisher = subprocess.Popen(probe + ["sensors", str(imu_rate), str(camera_rate), str(seconds),
                                              str(sent_file), IMU_TOPIC, CAMERA_TOPIC], **quiet)
        while publisher.poll() is None:  # CPU time of each node against the monotonic clock
            for name, process in started.items():
                samples[name].append((time.monotonic(), cpu_seconds(process.pid)))
            time.sleep(0.1)
        if publisher.returncode != 0:
            raise RuntimeError(f"the sensor publisher failed with exit code {publisher.returncode}")
    finally:
        for process in [*busy, *started.values(), *receivers]:
            process.send_signal(signal.SIGINT)
        for process in [*busy, *started.values(), *receivers]:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    sent = json.loads(sent_file.read_text())
    begin, end = sent["window"]
    stamps = sent["imu_stamps"]
    measured = {}
    for name in nodes:
        result = json.loads(received[name].read_text())
        arrivals = dict((stamp, arrival) for stamp, arrival in result["arrivals"])
        latency = np.array([(arrivals[s] - s) / 1e3 for s in stamps if s in arrivals])
        measured[name] = {
            "cpu_percent": 100.0 * _rate(samples[name], begin, end),
            "sent": len(stamps), "answered": latency.size / len(stamps),
            "median_us": float(np.median(latency)) if latency.size else float("nan"),
            "p99_us": float(np.percentile(latency, 99)) if latency.size else float("nan"),
            "clock_resets": _count(result["counters"].get("clock_resets")),
        }
    return measured


def _rate(samples: list[tuple[float, float]], begin: float, end: float) -> float:
    """CPU seconds per second between the first sample at or after ``begin`` and the last at or
    before ``end`` (monotonic clock)."""
    inside = [(t, cpu) for t, cpu in samples if begin <= t <= end]
    if len(inside) < 2:
        raise RuntimeError("the publishing window was too short to measure CPU time; use more seconds")
    (t0, c0), (t1, c1) = inside[0], inside[-1]
    return (c1 - c0) / (t1 - t0)


def _count(value: Optional[str]) -> int:
    """A counter from ``/diagnostics`` (absent: the node never reported, which counts as -1)."""
    return int(value) if value is not None else -1


#: the CPU hog: a training job's kind of work, torch matrix products on argv[2] threads, for
#: argv[1] seconds
_HOG = """
import sys, time, torch
torch.set_num_threads(int(sys.argv[2]))
a = torch.randn(512, 512)
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    a = torch.tanh(a @ a * 0.01)
"""
