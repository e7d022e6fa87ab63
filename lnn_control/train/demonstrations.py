"""Recorded episodes: every sensor event with its stamp, the privileged events, the expert's commands.

Why not Minari: a Minari episode holds one observation per env step, but a step here carries a
variable number of timestamped messages per stream (two IMU messages, one odometry message, a
camera frame every third step, none when one is dropped), and a policy is trained on exactly
those. So an episode is one NPZ file (``numpy.load(path, allow_pickle=False)`` reads it; nothing
in it is a Python object) with this schema, format ``lnn_control.demonstrations`` version 1:

=========================  ============  =======================================================
key                        shape, dtype  contents
=========================  ============  =======================================================
``metadata``               () str        JSON: format, version, env_id, scenario, seed, source
                                         (``expert`` / ``dagger``), round, beta, policy (the
                                         checkpoint that drove, or null), success, steps,
                                         episode_return, final_distance_m, terminated, the
                                         action names and units, stream_rates_hz (this
                                         episode's draw), streams and privileged_streams (the
                                         names the ``*_stream`` indices refer to)
``control_stamp_ns``       (K+1,) int64  the control instants ``t_0 = 0 .. t_K``, ns since reset
``expert_command``         (K+1, A) f32  the expert's command at each instant, PHYSICAL units
                                         (the env's ``action_spec()``): the labels
``applied_command``        (K, A) f32    the command the env was given at ``t_0 .. t_(K-1)``
``expert_applied``         (K,) bool     whether that was the expert's (else the learner's)
``distance_m``             (K,) f32      distance to the goal after each step, m
``event_stream``           (N,) int16    sensor events in delivery order: index into streams
``event_stamp_ns``         (N,) int64    each event's sensor stamp, ns since reset
``event_delivered``        (N,) int32    the control instant k whose ``info`` carried it (it
                                         reached the controller before the command of ``t_k``)
``event_value.<stream>``   (N_s, ...)    that stream's values in order, as the env gave them
                                         (float64 vectors, uint8 ``(H, W, 3)`` images)
``privileged_*``           as above      the privileged events (``ground_truth``, ``goal``)
=========================  ============  =======================================================

Episodes are written atomically (a temporary file, then a rename), so a killed run never leaves
a truncated one. A folder of episodes also holds ``demonstrations.yaml`` with this schema.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lnn_control.errors import LnnControlError
from lnn_control.files import open_permissions
from lnn_control.policy.events import SensorEvent

__all__ = [
    "DemonstrationError",
    "Episode",
    "EventLog",
    "FORMAT",
    "FORMAT_VERSION",
    "load_episode",
    "save_episode",
    "write_schema",
]

FORMAT = "lnn_control.demonstrations"
FORMAT_VERSION = 1
SCHEMA_FILE = "demonstrations.yaml"


class DemonstrationError(LnnControlError):
    """A demonstration file cannot be read; the message says why."""


@dataclass
class EventLog:
    """Timestamped events of several streams in delivery order.

    :param names: the streams the ``stream`` indices refer to.
    :param stream: ``(N,)`` index into ``names`` of every event.
    :param stamp_ns: ``(N,)`` sensor stamps, ns.
    :param delivered: ``(N,)`` control instant index at which each event reached the controller.
    :param values: per stream, its values ``(N_s, ...)`` in order.
    """

    names: list[str]
    stream: np.ndarray
    stamp_ns: np.ndarray
    delivered: np.ndarray
    values: dict[str, np.ndarray]

    @classmethod
    def from_batches(cls, batches: Sequence[Sequence[SensorEvent]]) -> EventLog:
        """Build from the event batches of control instants ``0, 1, ...`` (``info[...]``)."""
        names: list[str] = []
        stream, stamps, delivered = [], [], []
        values: dict[str, list[np.ndarray]] = {}
        for k, batch in enumerate(batches):
            for event in batch:
                if event.stream not in values:
                    names.append(event.stream)
                    values[event.stream] = []
                stream.append(names.index(event.stream))
                stamps.append(event.stamp_ns)
                delivered.append(k)
                values[event.stream].append(np.asarray(event.value))
        return cls(
            names,
            np.asarray(stream, dtype=np.int16),
            np.asarray(stamps, dtype=np.int64),
            np.asarray(delivered, dtype=np.int32),
            {name: np.stack(items) for name, items in values.items()},
        )

    def __len__(self) -> int:
        return len(self.stream)

    def by_instant(self, instants: int) -> Iterator[list[SensorEvent]]:
        """The events delivered at each control instant ``0 .. instants - 1``, in order."""
        cursor = {name: 0 for name in self.names}
        bounds = np.searchsorted(self.delivered, np.arange(instants + 1))
        for k in range(instants):
            batch = []
            for i in range(bounds[k], bounds[k + 1]):
                name = self.names[self.stream[i]]
                batch.append(SensorEvent(name, int(self.stamp_ns[i]), self.values[name][cursor[name]]))
                cursor[name] += 1
            yield batch

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """The NPZ entries of this log under ``prefix`` (``event`` or ``privileged``)."""
        arrays = {
            f"{prefix}_stream": self.stream,
            f"{prefix}_stamp_ns": self.stamp_ns,
            f"{prefix}_delivered": self.delivered,
        }
        arrays.update({f"{prefix}_value.{name}": value for name, value in self.values.items()})
        return arrays

    @classmethod
    def from_arrays(cls, names: list[str], prefix: str, arrays: Any) -> EventLog:
        return cls(
            list(names),
            arrays[f"{prefix}_stream"],
            arrays[f"{prefix}_stamp_ns"],
            arrays[f"{prefix}_delivered"],
            {name: arrays[f"{prefix}_value.{name}"] for name in names},
        )


@dataclass
class Episode:
    """One recorded episode (see the module docstring for every field's meaning)."""

    metadata: dict[str, Any]
    control_stamp_ns: np.ndarray
    expert_command: np.ndarray
    applied_command: np.ndarray
    expert_applied: np.ndarray
    distance_m: np.ndarray
    events: EventLog
    privileged: EventLog

    @property
    def instants(self) -> int:
        """Number of control instants ``K + 1``."""
        return len(self.control_stamp_ns)

    def sensor_batches(self) -> Iterator[list[SensorEvent]]:
        """The sensor events of each control instant, in order."""
        return self.events.by_instant(self.instants)


def save_episode(episode: Episode, path: str | os.PathLike[str]) -> Path:
    """Write ``episode`` to the NPZ file ``path`` atomically (temporary file, then rename)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    metadata = {
        **episode.metadata,
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "streams": episode.events.names,
        "privileged_streams": episode.privileged.names,
    }
    arrays = {
        "metadata": np.array(json.dumps(metadata)),
        "control_stamp_ns": episode.control_stamp_ns,
        "expert_command": episode.expert_command,
        "applied_command": episode.applied_command,
        "expert_applied": episode.expert_applied,
        "distance_m": episode.distance_m,
        **episode.events.arrays("event"),
        **episode.privileged.arrays("privileged"),
    }
    handle, temporary = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".npz", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez_compressed(stream, **arrays)
        open_permissions(Path(temporary))  # mkstemp's file is private to its owner
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return target


def load_episode(path: str | os.PathLike[str]) -> Episode:
    """Read an episode written by :func:`save_episode`."""
    file = Path(path)
    try:
        with np.load(file, allow_pickle=False) as arrays:
            metadata = json.loads(str(arrays["metadata"]))
            if metadata.get("format") != FORMAT or metadata.get("version") != FORMAT_VERSION:
                raise DemonstrationError(
                    f"{file} is not a {FORMAT} version {FORMAT_VERSION} episode (it says "
                    f"{metadata.get('format')!r} version {metadata.get('version')!r})"
                )
            contents = {key: arrays[key] for key in arrays.files}
    except (OSError, ValueError, KeyError) as error:
        raise DemonstrationError(f"{file} is not a readable episode file: {error}") from None
    return Episode(
        metadata,
        contents["control_stamp_ns"],
        contents["expert_command"],
        contents["applied_command"],
        contents["expert_applied"],
        contents["distance_m"],
        EventLog.from_arrays(metadata["streams"], "event", contents),
        EventLog.from_arrays(metadata["privileged_streams"], "privileged", contents),
    )


def write_schema(folder: str | os.PathLike[str]) -> Path:
    """Write ``demonstrations.yaml`` (format, version and this module's schema) into ``folder``."""
    import yaml

    path = Path(folder) / SCHEMA_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "reader": "lnn_control.train.demonstrations.load_episode",
        "schema": (__doc__ or "").strip(),
    }
    path.write_text(yaml.safe_dump(document, sort_keys=False, width=100))
    return path
