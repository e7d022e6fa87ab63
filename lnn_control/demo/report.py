"""The demo's report: ``report.md`` (for a reader, with the plots), ``summary.json`` (the same
numbers as plain data) and PNG plots, in the demo's folder.

Plots (matplotlib, off-screen):

- ``tracking.png``: each episode's distance to the goal over time, with the success radius;
- ``trajectory.png``: position and goal per axis over the whole flight;
- ``latency.png``: the IMU-to-command latency over time and its distribution.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from lnn_control.demo.analysis import Flight

__all__ = ["write_demo_report"]


def write_demo_report(folder: Path, summary: dict[str, Any], flight: Flight, radius_m: float) -> Path:
    """Write the report files into ``folder``; returns the path of ``report.md``.

    :param summary: the demo's results (see :func:`lnn_control.demo.run_demo`).
    """
    summary["plots"] = {"tracking": _plot_tracking(folder, flight, radius_m),
                        "trajectory": _plot_trajectory(folder, flight),
                        "latency": _plot_latency(folder, flight)}
    (folder / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    path = folder / "report.md"
    path.write_text(_markdown(summary))
    return path


def _figure(rows: int, height: float = 2.4) -> Any:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 0.8 + height * rows), layout="constrained")
    return figure, figure.subplots(rows, 1, squeeze=False)[:, 0]


def _plot_tracking(folder: Path, flight: Flight, radius_m: float) -> str:
    figure, (axis,) = _figure(1, 3.2)
    for index, episode in enumerate(flight.episodes):
        verdict = "success" if episode.summary["success"] else "failure"
        axis.plot(episode.time_s, episode.distance, lw=1.2, label=f"episode {index} ({verdict})")
    axis.axhline(radius_m, color="k", ls="--", lw=0.8, label=f"success radius {radius_m} m")
    axis.set(yscale="log", xlabel="time since the episode started (s)", ylabel="distance to goal (m)",
             title="tracking error: ground truth to goal, flown through ROS 2")
    axis.legend(fontsize=8)
    figure.savefig(folder / "tracking.png", dpi=100)
    return "tracking.png"


def _plot_trajectory(folder: Path, flight: Flight) -> str:
    figure, axes = _figure(3, 1.8)
    offset = 0.0
    for index, episode in enumerate(flight.episodes):
        t = episode.time_s + offset
        for axis, name, column in zip(axes, "xyz", range(3)):
            axis.plot(t, episode.position[:, column], color="tab:blue", lw=1.0,
                      label="ground truth" if index == 0 else None)
            axis.plot(t, episode.goal[:, column], color="tab:red", ls="--", lw=1.0,
                      label="goal" if index == 0 else None)
            axis.set(ylabel=f"{name} (m)")
        offset = float(t[-1]) + 0.5
    axes[0].set_title("position and goal, episode after episode")
    axes[0].legend(fontsize=8, loc="upper right")
    axes[-1].set_xlabel("flight time (s, episodes 0.5 s apart)")
    figure.savefig(folder / "trajectory.png", dpi=100)
    return "trajectory.png"


def _plot_latency(folder: Path, flight: Flight) -> str:
    figure, (over_time, histogram) = _figure(2)
    over_time.plot(flight.latency_at_s, flight.latency_ms, ".", ms=1.5, color="tab:green")
    over_time.set(xlabel="time since the first IMU message (s)", ylabel="latency (ms)",
                  title="IMU-to-command latency (recorder's receive times)")
    histogram.hist(flight.latency_ms, bins=100, color="tab:green", log=True)
    if flight.latency_ms.size:
        median = float(np.median(flight.latency_ms))
        histogram.axvline(median, color="k", ls="--", lw=0.8, label=f"median {median:.2f} ms")
        histogram.legend(fontsize=8)
    histogram.set(xlabel="latency (ms)", ylabel="commands")
    figure.savefig(folder / "latency.png", dpi=100)
    return "latency.png"


def _number(value: Any, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _markdown(summary: dict[str, Any]) -> str:
    closed, latency, replay, train = (summary["closed_loop"], summary["latency"], summary["replay"],
                                      summary["training"])
    episodes = closed["episodes"]
    successes = sum(e["success"] for e in episodes)
    lines = [
        "# lnn_control demo: a liquid policy learns to hover, flies through ROS 2, replays",
        "",
        f"Folder: `{summary['folder']}`; total time {summary['total_time_s'] / 60:.1f} min.",
        "",
        "## 1. Training in simulation",
        "",
        f"`lnn-control train --config {train['config']}`: {train['summary']}",
        f"Policy `{train['policy']}`; training report `{train['report']}`.",
        "",
        "## 2. Closed loop over ROS 2",
        "",
        f"`sim_node` ({closed['env']}, scenario {closed['scenario']}, seeds {closed['seeds']}), "
        f"`policy_node` (engine {closed['engine']}) and `bag_recorder`, three processes over DDS on "
        f"loopback, on simulated time. **Hover success: {successes}/{len(episodes)} episodes** "
        f"(within {closed['radius_m']} m of the goal for the last {closed['hold_s']} s).",
        "",
        "| episode | success | start distance m | final distance m | RMS distance, last second m | "
        "RMS distance m | time to within radius s |",
        "| ---: | :---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    lines += [f"| {i} | {'yes' if e['success'] else 'no'} | {_number(e['start_distance_m'])} | "
              f"{_number(e['final_distance_m'], 4)} | {_number(e['rms_distance_last_s_m'], 4)} | "
              f"{_number(e['rms_distance_m'])} | {_number(e['time_to_radius_s'], 2)} |"
              for i, e in enumerate(episodes)]
    lines += [
        "",
        "![tracking](tracking.png)",
        "",
        "![trajectory](trajectory.png)",
        "",
        "### IMU-to-command latency",
        "",
        f"From the recorder receiving an IMU message to it receiving the command computed from it: "
        f"**median {_number(latency['median_ms'], 2)} ms**, p95 {_number(latency['p95_ms'], 2)} ms, "
        f"p99 {_number(latency['p99_ms'], 2)} ms, max {_number(latency['max_ms'], 2)} ms over "
        f"{latency['commands']} commands; {latency['imu_without_command']} of "
        f"{latency['imu_messages']} IMU messages got no command.",
        "",
        "![latency](latency.png)",
        "",
        "## 3. Replay of the recorded bag",
        "",
        f"`lnn-control replay {closed['bag']} --model {train['policy']} --arrival-order`: "
        f"{replay['compared']} of {replay['recorded']} live commands compared; largest difference "
        f"from the live ones **{_number(replay['max_abs'], 9)}** (replay equals live within 1e-6: "
        f"{'yes' if replay['equal'] else 'NO'}). Replay report: `{replay['report']}`.",
        "",
    ]
    return "\n".join(lines)
