"""Training runs as Ray Tune trials: spread over this machine's cores, or over a Ray cluster.

``lnn-control compare`` and ``lnn-control sweep`` hand their training runs to Ray Tune. A trial is
one :class:`~lnn_control.train.pipeline.TrainingRun` of a resolved training config in a run
folder of its own, and the run folder is the trial's whole state:

- a trial retried after its worker died (``RETRIES`` times) continues its run from the latest
  checkpoint in the folder, as ``lnn-control train --resume`` does;
- a rerun of the command after it was stopped does the same for every unfinished trial, and only
  re-reads the finished ones.

Where Ray runs (:func:`ray_session`): with no address, Ray starts inside the command on this
machine's cores and nothing else, its node on a loopback address (``LOOPBACK``: Ray rewrites
127.0.0.1 and ``localhost`` to the machine's interface address, and all of 127/8 is loopback),
without its dashboard and with usage statistics off, and stops with it. (Ray's daemons still
listen on every interface; nothing connects to them but this machine.) ``--address HOST:PORT`` joins a running cluster (``ray start
--head`` on one machine, ``ray start --address HOST:PORT`` on the others); its run folders must
then lie where every node can reach them (a shared file system), and so must the comparison's or
sweep's ``--out``.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional

from lnn_control.errors import ConfigError, LnnControlError

__all__ = ["LOOPBACK", "RETRIES", "TrialFailed", "TrialPlan", "add_ray_arguments", "attempts", "check_results",
           "ray_session", "run_trial", "trial_resources"]

#: the local Ray node's address: loopback, and one Ray does not rewrite
LOOPBACK = "127.0.0.2"
#: how many times Tune restarts a trial whose worker died or that raised
RETRIES = 2
#: a trial's record in its run folder: how many times it started, and the process of the latest
TRIAL_FILE = "trial.json"

#: what a trial needs: the resolved training config (plain data, the model inline) and its folder
TrialPlan = dict[str, Any]


class TrialFailed(LnnControlError):
    """A trial still failed after its retries."""


@contextmanager
def ray_session(address: Optional[str] = None) -> Iterator[None]:
    """Ray for the duration of the block: a local instance on loopback, or the cluster at
    ``address``.

    :param address: ``HOST:PORT`` of a running cluster's head; None: start Ray here, on all of
        this machine's CPUs.
    """
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    if address:
        host = address.rsplit(":", 1)[0]
        # a head on a loopback address: the driver registers there too; elsewhere Ray picks
        local = {"_node_ip_address": host} if _is_loopback(host) else {}
        ray.init(address=address, log_to_driver=False, **local)
    else:
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, _node_ip_address=LOOPBACK,
                 log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


def add_ray_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of a command whose training runs are Ray Tune trials: ``--address``,
    ``--cpus-per-trial``, ``--quiet``."""
    parser.add_argument("--address", default=None,
                        help="HOST:PORT of a running Ray cluster's head (default: start Ray here, on this "
                             "machine's cores); --out must then be reachable from every node")
    parser.add_argument("--cpus-per-trial", type=_positive_int, default=None, metavar="N",
                        help="CPUs Ray reserves for each trial (default: its training config's episode "
                             "workers). The results do not depend on it; with 1, a two-core machine trains "
                             "two trials at once, whose episode workers then share the cores (not faster "
                             "for one-thread runs: docs/training.md)")
    parser.add_argument("--quiet", action="store_true", help="no progress table")


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of CPUs >= 1")
    return int(text)


def trial_resources(config: dict[str, Any], cpus: Optional[int] = None,
                    address: Optional[str] = None) -> dict[str, float]:
    """The CPUs a trial of the resolved training ``config`` asks Ray for: ``cpus``
    (``--cpus-per-trial``), else its episode workers (at least one).

    :raises ConfigError: Ray starts here (no ``address``) and this machine has fewer CPUs, so
        the trial would wait for ever.
    """
    asked = cpus or max(1, int(config.get("workers", 0)))
    available = os.cpu_count() or 1
    if address is None and asked > available:
        raise ConfigError(f"a trial asks for {asked} CPUs and this machine has {available}; pass "
                          f"--cpus-per-trial {available} (its episode workers then share them)")
    return {"cpu": asked}


def run_trial(plan: TrialPlan) -> dict[str, Any]:
    """Run (or continue, or re-read) the training run of ``plan`` in its folder; returns the
    metrics Tune records: ``update``, ``training_time_s``, ``validation_loss`` (the last phase's
    best; inf without validation data) and ``<scenario>/success_rate``.

    :param plan: ``config`` (a resolved training config, as a run folder's ``run.yaml`` holds it)
        and ``folder``.
    """
    from lnn_control.config import config_from_dict
    from lnn_control.train.config import TrainConfig
    from lnn_control.train.pipeline import RunFolder, TrainingRun

    folder = Path(plan["folder"])
    record = folder / TRIAL_FILE
    folder.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({"attempts": attempts(folder) + 1, "pid": os.getpid()}) + "\n")
    run = TrainingRun(config_from_dict(TrainConfig, plan["config"]), folder,
                      resume=RunFolder(folder).config.is_file())
    result = run.run()
    loss = run.state.best_loss
    return {"update": run.state.update, "training_time_s": run.training_time_s,
            "validation_loss": float("inf") if loss is None else loss,
            **{f"{name}/success_rate": r["success_rate"] for name, r in result["scenarios"].items()}}


def attempts(folder: Path) -> int:
    """How many times the trial in run folder ``folder`` started (0: never)."""
    record = folder / TRIAL_FILE
    return int(json.loads(record.read_text())["attempts"]) if record.is_file() else 0


def check_results(results: Any, what: str) -> None:
    """Raise :class:`TrialFailed` naming each trial of Tune's ``results`` that failed for good,
    with its error, and what to do."""
    failed = [f"{result.path}: {str(result.error).strip().splitlines()[-1]}"
              for result in results if result.error is not None]
    if failed:
        raise TrialFailed(f"{len(failed)} {what} failed after {RETRIES} retries:\n  " + "\n  ".join(failed)
                          + "\nfix the cause and run the same command again: finished trials are kept, "
                            "unfinished ones resume from their checkpoints")
