"""``lnn-control replay`` as a function: replay a bag into a new output folder.

The folder receives the report (:mod:`~lnn_control.bags.report`) and the output bag
(:mod:`~lnn_control.bags.writer`). Everything is written into a temporary sibling folder that is
renamed to the output folder at the end, so a failed replay leaves nothing behind, and an output
folder that already holds files is never written into. The input bag is only read.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import numpy as np
from rich.console import Console
from rich.progress import Progress

from lnn_control.bags.errors import OutputExistsError
from lnn_control.bags.progress import stage
from lnn_control.bags.reader import Bag, open_bag
from lnn_control.bags.recorded import compare_commands
from lnn_control.bags.replay import ReplayRun, bind_streams, replay
from lnn_control.bags.report import write_report
from lnn_control.bags.writer import Storage, write_output_bag
from lnn_control.errors import ConfigError
from lnn_control.files import open_permissions, staging_folder

if TYPE_CHECKING:
    from lnn_control.policy import LiquidPolicy

__all__ = ["REPLAY_TOPIC", "ReplayOutcome", "replay_to_folder"]

#: the topic of the replayed commands in the output bag
REPLAY_TOPIC = "/lnn_control/command"
#: ... and where they go when the input bag already has a topic of that name
REPLAY_TOPIC_TAKEN = "/lnn_control/replay/command"


@dataclass
class ReplayOutcome:
    """What :func:`replay_to_folder` produced.

    :param folder: the output folder.
    :param report: the JSON report (as written to ``report.json``).
    :param run: the replay's arrays and counters.
    """

    folder: Path
    report: dict[str, Any]
    run: ReplayRun


def replay_to_folder(
    bag_path: str | os.PathLike[str],
    params: str | os.PathLike[str],
    out: str | os.PathLike[str],
    model: Optional[str | os.PathLike[str]] = None,
    receive_time: bool = False,
    storage: Storage = "mcap",
    engine: Optional[str] = None,
    progress: bool = True,
    arrival_order: bool = False,
) -> ReplayOutcome:
    """Replay ``bag_path`` through a checkpoint, as the policy node configured by ``params`` would
    run, and write the report and the output bag into the new folder ``out``.

    :param params: the policy node's ROS 2 parameter file (topics, types, output, engine).
    :param model: the checkpoint folder (default: the parameter file's ``checkpoint``).
    :param receive_time: feed the bag's receive times instead of ``header.stamp``.
    :param storage: the output bag's storage, ``mcap`` or ``sqlite3``.
    :param engine: ``torch``, ``onnx`` or ``compiled`` (default: the parameter file's ``engine``).
    :param progress: show progress bars on the terminal.
    :param arrival_order: feed messages in the order they were received (as a live node did),
        not in stamp order; needed to reproduce live commands when streams' latencies differ.
    :raises OutputExistsError: ``out`` exists and is not an empty folder.
    """
    from lnn_control.policy import PolicyRuntime, load_checkpoint
    from lnn_control.policy.deployment import load_deployment

    target = Path(out)
    _check_free(target)
    deployment = load_deployment(params)
    checkpoint = model or deployment.checkpoint
    if not checkpoint:
        raise ConfigError(f"no checkpoint: pass --model CKPT or set 'checkpoint' in {params}")
    policy = load_checkpoint(checkpoint)
    engine_name = engine or deployment.engine
    with open_bag(bag_path) as bag, Progress(console=Console(stderr=True),
                                             disable=not progress, transient=True) as bar:
        bindings = bind_streams(bag, deployment, policy.config)
        with stage(bar, f"preparing the {engine_name} engine"):
            runtime = PolicyRuntime(policy, engine_name,  # type: ignore[arg-type]
                                    deployment.engine_file or None)
        run = replay(bag, bindings, runtime, deployment.output, receive_time,
                     deployment.timer_rate_hz, bar, arrival_order)
        topic = REPLAY_TOPIC if REPLAY_TOPIC not in bag.topics else REPLAY_TOPIC_TAKEN
        if topic != REPLAY_TOPIC:
            run.warnings.append(f"the bag already has {REPLAY_TOPIC}: the replayed commands are "
                                f"on {REPLAY_TOPIC_TAKEN} in the output bag")
        staging = staging_folder(target, "partial-")
        try:
            bag_name = f"{Path(bag.path).stem}_replay"
            written = write_output_bag(bag, staging / bag_name, run.steps, deployment.output,
                                       policy.config.actions.names, topic, storage, bar)
            written["path"] = str(target / bag_name)
            report = _report(bag, run, written, policy, checkpoint, params, engine_name)
            with stage(bar, "writing the report"):
                write_report(staging, report, run, policy.neuron_types(),
                             policy.config.actions.units)
            open_permissions(staging)
            _publish(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return ReplayOutcome(target, report, run)


def _check_free(target: Path) -> None:
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        held = sorted(p.name for p in target.iterdir())[:5] if target.is_dir() else []
        raise OutputExistsError(
            f"output {target} already exists" + (f" and holds {held}" if held else "")
            + "; nothing was overwritten. Choose a new --out folder, or remove this one first"
        )


def _publish(staging: Path, target: Path) -> None:
    """Move the finished folder into place (an empty ``target`` folder is replaced)."""
    _check_free(target)
    try:
        staging.rename(target)
    except OSError as error:  # someone wrote into target meanwhile
        raise OutputExistsError(f"could not move the results into {target} ({error}); "
                                "nothing was overwritten") from None


def _report(bag: Bag, run: ReplayRun, written: dict[str, Any], policy: LiquidPolicy,
            checkpoint: Any, params: Any, engine: str) -> dict[str, Any]:
    """The JSON report (without ``plots``, which :func:`write_report` adds)."""
    actions = policy.config.actions
    streams_of = {r.binding.topic: r.binding.stream for r in run.streams}
    commands = run.steps.commands
    types = policy.neuron_types()
    command = [i for i, kind in enumerate(types) if kind == "command"]
    states = run.steps.states
    return {
        "bag": {"path": str(bag.path), "format": bag.format, "read_from": str(bag.source),
                "topics": {name: {"type": t.msgtype, "count": t.count,
                                  "stream": streams_of.get(name)}
                           for name, t in bag.topics.items()}},
        "checkpoint": str(checkpoint),
        "params": str(params),
        "engine": engine,
        "time_base": "receive time" if run.time_base == "receive" else "header.stamp",
        "events": run.events,
        "warnings": bag.warnings + run.warnings,
        "streams": {r.binding.stream: {"topic": r.binding.topic, "type": r.binding.msgtype,
                                       "timing": r.timing.to_dict()} for r in run.streams},
        "commands": {
            "count": int(commands.shape[0]), "names": list(actions.names),
            "units": list(actions.units),
            **{key: (getattr(np, key)(commands, axis=0).tolist() if commands.size
                     else [None] * len(actions.names)) for key in ("min", "mean", "max")},
            "first_stamp_ns": int(run.steps.stamps_ns[0]) if commands.size else None,
            "last_stamp_ns": int(run.steps.stamps_ns[-1]) if commands.size else None,
        },
        "recorded": None if run.recorded is None else compare_commands(
            run.steps.stamps_ns, commands, run.recorded, actions.names),
        "neurons": {
            "types": dict(Counter(types)), "command": command,
            "activity": {str(i): {key: float(getattr(np, key)(states[:, i]))
                                  for key in ("mean", "std", "min", "max")}
                         for i in command} if states.size else {},
        },
        "rejections": run.rejections,
        "runtime": run.stats,
        "output_bag": written,
    }
