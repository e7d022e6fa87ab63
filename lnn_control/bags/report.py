"""The replay report: ``report.json`` (everything, plain data), ``report.md`` (the same for a
reader, with the plots), PNG plots and ``replay.npz`` (the arrays), written into one folder.

Plots (matplotlib, drawn off-screen; times in seconds since the first stream message):

- ``timing_<stream>.png``: each stream's period over time with its gaps, the period histogram,
  and the lag of the receive time behind ``header.stamp`` (for messages that have one);
- ``commands.png``: the policy's commands (and the recorded ones, if the bag has them);
- ``neurons.png``: the activity (state) of the NCP's command neurons.

``replay.npz`` holds ``step_stamps_ns (N,)``, ``step_receive_ns (N,)``, ``commands (N, A)``,
``states (N, S)``, ``neuron_types (S,)``, ``action_names (A,)`` and, when the bag recorded
commands, ``recorded_stamps_ns (M,)`` and ``recorded_commands (M, A)``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from lnn_control.bags.replay import ReplayRun, StreamRecord
from lnn_control.bags.timing import sorted_periods
from lnn_control.units import NS

__all__ = ["write_report"]

MS = 1e3


def write_report(folder: Path, report: dict[str, Any], run: ReplayRun, neuron_types: Sequence[str],
                 action_units: Sequence[str]) -> dict[str, Any]:
    """Write the report files into ``folder`` (existing).

    :param report: the JSON report (see :func:`lnn_control.bags.pipeline.replay_to_folder`); its
        ``plots`` entry is filled here with the PNG file names.
    :param neuron_types: the type of each state entry (``LiquidPolicy.neuron_types()``).
    :param action_units: the unit of each action, for the axis labels.
    :return: ``report``.
    """
    names = report["commands"]["names"]
    starts = [int(r.stamps_ns.min()) for r in run.streams if r.stamps_ns.size]
    t0 = min(starts) if starts else 0
    plots = {}
    for record in run.streams:
        if record.stamps_ns.size > 1:
            plots[f"timing_{record.binding.stream}"] = _plot_timing(folder, record, t0)
    if run.steps.stamps_ns.size:
        plots["commands"] = _plot_commands(folder, run, names, action_units, t0)
        command = [i for i, kind in enumerate(neuron_types) if kind == "command"]
        if command:
            plots["neurons"] = _plot_neurons(folder, run, command, t0)
    report["plots"] = plots
    _save_arrays(folder / "replay.npz", run, neuron_types, names)
    (folder / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (folder / "report.md").write_text(_markdown(report))
    return report


def _save_arrays(
    path: Path, run: ReplayRun, neuron_types: Sequence[str], names: Sequence[str]
) -> None:
    arrays = {"step_stamps_ns": run.steps.stamps_ns, "step_receive_ns": run.steps.receive_ns,
              "commands": run.steps.commands, "states": run.steps.states,
              "neuron_types": np.asarray(neuron_types), "action_names": np.asarray(names)}
    if run.recorded is not None:
        arrays["recorded_stamps_ns"] = run.recorded.stamps_ns
        arrays["recorded_commands"] = run.recorded.values
    np.savez_compressed(path, **arrays)


def _figure(rows: int, height: float = 2.2) -> Any:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 0.8 + height * rows), layout="constrained")
    return figure, figure.subplots(rows, 1, squeeze=False)[:, 0]


def _save(figure: Any, folder: Path, name: str) -> str:
    figure.savefig(folder / name, dpi=100)
    return name


def _plot_timing(folder: Path, record: StreamRecord, t0: int) -> str:
    binding, timing = record.binding, record.timing
    figure, axes = _figure(3 if timing.lag_s is not None else 2)
    over_time, histogram = axes[:2]
    stamps, periods = sorted_periods(record.stamps_ns)
    seconds = (stamps[1:] - t0) * NS
    median = float(np.median(periods))
    over_time.plot(seconds, periods * MS, lw=0.6, color="tab:blue", label="period")
    over_time.axhline(median * MS, color="k", lw=0.8, ls="--", label=f"median {median * MS:.2f} ms")
    gaps = periods > 1.5 * median
    over_time.plot(seconds[gaps], periods[gaps] * MS, "o", ms=3, color="tab:red",
                   label=f"{int(gaps.sum())} gaps (> 1.5 x median)")
    over_time.set(ylabel="period (ms)", xlabel="time (s)",
                  title=f"{binding.stream}: {binding.topic} ({binding.msgtype}), {timing.count} "
                        f"messages, {timing.rate_hz or 0:.2f} Hz")
    over_time.legend(loc="center right", fontsize=8)
    histogram.hist(periods * MS, bins=100, color="tab:blue", log=True)
    histogram.set(xlabel="period (ms)", ylabel="count",
                  title=f"period distribution; jitter (std, gaps excluded) "
                        f"{(timing.jitter_s or 0) * 1e6:.1f} us")
    if timing.lag_s is None:  # no header: the stamps are the receive times
        return _save(figure, folder, f"timing_{binding.stream}.png")
    lag = axes[2]
    lags = (record.receive_ns - record.stamps_ns) * NS * MS
    lag.plot((record.stamps_ns - t0) * NS, lags, ".", ms=1.5, color="tab:green")
    lag.set(xlabel="time (s)", ylabel="receive - stamp (ms)",
            title=f"receive lag: median {np.median(lags):.2f} ms, "
                  f"p95 {np.percentile(lags, 95):.2f} ms")
    return _save(figure, folder, f"timing_{binding.stream}.png")


def _plot_commands(folder: Path, run: ReplayRun, names: Sequence[str], units: Sequence[str],
                   t0: int) -> str:
    figure, axes = _figure(len(names), 1.8)
    seconds = (run.steps.stamps_ns - t0) * NS
    recorded = run.recorded
    for i, axis in enumerate(axes):
        axis.plot(seconds, run.steps.commands[:, i], lw=0.8, label="replay")
        if recorded is not None and recorded.values.size:
            axis.plot((recorded.stamps_ns - t0) * NS, recorded.values[:, i], lw=0.8, ls="--",
                      label=f"recorded ({recorded.topic})")
        axis.set_ylabel(f"{names[i]}\n({units[i]})")
    if recorded is not None and recorded.values.size:
        axes[0].legend(loc="upper right", fontsize=8)
    axes[0].set_title(f"policy commands, one per step ({run.steps.stamps_ns.size} steps)")
    axes[-1].set_xlabel("sensor stamp (s)")
    return _save(figure, folder, "commands.png")


def _plot_neurons(folder: Path, run: ReplayRun, command: Sequence[int], t0: int) -> str:
    figure, axes = _figure(len(command), 1.0)
    seconds = (run.steps.stamps_ns - t0) * NS
    for axis, index in zip(axes, command):
        axis.plot(seconds, run.steps.states[:, index], lw=0.6, color="tab:purple")
        axis.set_ylabel(f"neuron {index}", fontsize=8)
        axis.tick_params(labelsize=7)
    axes[0].set_title(f"NCP command neurons ({len(command)}): state after each step")
    axes[-1].set_xlabel("sensor stamp (s)")
    return _save(figure, folder, "neurons.png")


def _ms(value: Optional[float], digits: int = 2) -> str:
    return "-" if value is None else f"{value * MS:.{digits}f}"


def _us(seconds: Optional[float]) -> Optional[float]:
    return None if seconds is None else seconds * 1e6


def _number(value: Optional[float], digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines + [""]


def _markdown(report: dict[str, Any]) -> str:
    bag, commands, runtime = report["bag"], report["commands"], report["runtime"]
    lines = [f"# Replay of `{bag['path']}`", "",
             f"- checkpoint `{report['checkpoint']}`, parameters `{report['params']}`, engine "
             f"`{report['engine']}`",
             f"- time base: `{report['time_base']}`; {report['events']} messages fed, "
             f"{commands['count']} policy steps",
             f"- read as {bag['format']} from `{bag['read_from']}`", ""]
    lines += [f"> **warning**: {w}" for w in report["warnings"]] + [""] * bool(report["warnings"])
    lines += ["## Topics", ""]
    lines += _table(["topic", "type", "messages", "stream"],
                    [[t, info["type"], info["count"], info["stream"] or ""]
                     for t, info in bag["topics"].items()])
    lines += ["## Stream timing", ""]
    rows = []
    for stream, entry in report["streams"].items():
        timing, period, gaps, lag = entry["timing"], entry["timing"]["period_s"] or {}, \
            entry["timing"]["gaps"], entry["timing"]["lag_s"] or {}
        rows.append([stream, entry["topic"], timing["count"], _number(timing["rate_hz"]),
                     _number(timing["nominal_rate_hz"]), _number(_us(timing["jitter_s"]), 1),
                     " / ".join(_ms(period.get(p)) for p in ("p5", "p50", "p95")),
                     f"{gaps['count']} ({gaps['missing']} missing, longest "
                     f"{_ms(gaps['longest_s'])} ms)",
                     timing["out_of_order"], timing["duplicates"],
                     f"{_ms(lag.get('median'))} / {_ms(lag.get('p95'))}"])
    lines += _table(["stream", "topic", "messages", "rate Hz", "nominal Hz", "jitter us",
                     "period p5 / p50 / p95 ms", "gaps", "out of order", "duplicates",
                     "lag median / p95 ms"], rows)
    lines += [f"![timing of {name}]({file})" for key, file in report["plots"].items()
              if key.startswith("timing_") for name in [key[len("timing_"):]]] + [""]
    lines += ["## Commands", "",
              f"{commands['count']} commands on `{report['output_bag']['command_topic']}` "
              f"({report['output_bag']['command_type']}).", ""]
    lines += _table(["action", "unit", "min", "mean", "max"],
                    [[n, commands["units"][i], _number(commands["min"][i], 4),
                      _number(commands["mean"][i], 4), _number(commands["max"][i], 4)]
                     for i, n in enumerate(commands["names"])])
    if "commands" in report["plots"]:
        lines += [f"![commands]({report['plots']['commands']})", ""]
    recorded = report["recorded"]
    if recorded is not None:
        lines += ["## Against the recorded commands", "",
                  f"{recorded['compared']} of {recorded['count']} recorded commands on "
                  f"`{recorded['topic']}` compared ({recorded['exact_stamps']} at a replay step's "
                  f"stamp); lag by cross-correlation: {_ms(recorded['lag_s'])} ms.", ""]
        rmse, worst = recorded["rmse"] or {}, recorded["max_abs"] or {}
        exact = recorded.get("exact_max_abs") or {}
        lines += _table(["action", "RMSE", "max abs error", "max abs error at equal stamps"],
                        [[n, _number(rmse.get(n), 6), _number(worst.get(n), 6), _number(exact.get(n), 9)]
                         for n in commands["names"]])
    neurons = report["neurons"]
    lines += ["## Command neurons", "",
              f"Neuron types: {neurons['types']}; command neurons {neurons['command']}.", ""]
    if "neurons" in report["plots"]:
        lines += [f"![command neurons]({report['plots']['neurons']})", ""]
    lines += ["## Dropped messages", ""]
    dropped = [[reason, entry["count"], (entry["samples"] or [{"message": ""}])[0]["message"]]
               for reason, entry in report["rejections"].items()]
    lines += _table(["reason", "count", "first example"], dropped or [["none", 0, ""]])
    counters = ["steps", "sub_steps", "long_gaps", "gap_resets", "clock_resets", "late",
                "duplicates", "non_finite"]
    lines += _table(counters, [[runtime[c] for c in counters]])
    lines += [f"Last rejection: {runtime['last_rejection']}", ""] * bool(runtime["last_rejection"])
    output = report["output_bag"]
    lines += ["## Output bag", "",
              f"`{output['path']}` ({output['storage']}): {output['input_messages']} input "
              f"messages and {output['commands']} commands on `{output['command_topic']}`.", ""]
    return "\n".join(lines)
