"""The real bags the tests read, the IMU policy they replay, and parameter files for it.

The recordings live in ``../shared/data/bags/`` beside the project (see its README); they are read
in place, never copied into the project. A missing one fails the test that needs it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pytest
import torch
import yaml
from rosbags.convert import convert
from rosbags.highlevel import AnyReader
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from lnn_control.config import load_config
from lnn_control.policy import (LiquidPolicy, PolicyConfig, PolicyRuntime, StreamSpec,
                                save_checkpoint)
from lnn_control.policy.engines.export import export_policy_onnx

ROOT = Path(__file__).resolve().parents[2]
SHARED_BAGS = ROOT.parent / "shared" / "data" / "bags"
HUSKY = "husky_imu_gps_odom.bag"
IMU_400HZ = "imu_400hz_dropouts.bag"
MODEL = ROOT / "config" / "models" / "imu_cfc.yaml"
PARAMS = ROOT / "config" / "ros" / "imu_policy.yaml"
MS = 1_000_000


def shared_bag(name: str) -> Path:
    """A recording of ``../shared/data/bags``; fails the test (never skips) when it is missing."""
    path = SHARED_BAGS / name
    if not path.is_file():
        pytest.fail(f"the recorded bag {path} is missing: the tests read the real recordings in "
                    "../shared/data/bags/ beside the project (see its README.md); restore it there")
    return path


def imu_policy(
    seed: int = 0, extra_streams: Sequence[StreamSpec] = (), **control: Any
) -> LiquidPolicy:
    """The IMU-only CfC/NCP policy of config/models/imu_cfc.yaml with random weights (plus
    ``extra_streams``, and ``control`` settings changed)."""
    config = load_config(PolicyConfig, MODEL)
    config = dataclasses.replace(
        config, streams=[*config.streams, *extra_streams],
        control=dataclasses.replace(config.control, **control))
    torch.manual_seed(seed)
    return LiquidPolicy(config).eval()


def save_policy(policy: LiquidPolicy, folder: Path) -> tuple[Path, Path]:
    """The checkpoint folder and its exported ONNX step."""
    checkpoint = save_checkpoint(policy, folder / "checkpoint")
    return checkpoint, export_policy_onnx(policy, folder / "step.onnx")


def write_params(path: Path, checkpoint: Path, engine_file: Path | None = None,
                 **changes: Any) -> Path:
    """config/ros/imu_policy.yaml with its checkpoint (and ONNX step) set, and ``changes`` given
    as ``streams__imu__topic="/x"`` (``__`` separates nested keys)."""
    document = yaml.safe_load(PARAMS.read_text())
    parameters = document["policy_node"]["ros__parameters"]
    parameters["checkpoint"] = str(checkpoint)
    parameters["engine_file"] = str(engine_file or "")
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        target = parameters
        for key in parents:
            target = target.setdefault(key, {})
        target[leaf] = value
    path.write_text(yaml.safe_dump(document))
    return path


def convert_to_ros2(source: Path, target: Path, storage: str) -> Path:
    """``source`` (ROS 1) converted to a ROS 2 bag folder with rosbags' converter."""
    convert(srcs=[source], dst=target, dst_storage=storage, dst_version=9, compress=None,
            compress_mode="file", default_typestore=None, typestore=None, exclude_topics=[],
            include_topics=[], exclude_msgtypes=[], include_msgtypes=[])
    return target


def read_topic(path: Path, topic: str) -> list[tuple[int, Any]]:
    """``(receive_ns, message)`` of every message on ``topic``, read with rosbags alone."""
    with AnyReader([path]) as reader:
        connections = [c for c in reader.connections if c.topic == topic]
        return [(t, reader.deserialize(raw, c.msgtype))
                for c, t, raw in reader.messages(connections=connections)]


def stamp(msg: Any) -> int:
    return int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)


def imu_value(msg: Any) -> np.ndarray:
    w, a = msg.angular_velocity, msg.linear_acceleration
    return np.array([w.x, w.y, w.z, a.x, a.y, a.z], dtype=np.float32)


def snapshot(*roots: Path) -> dict[str, tuple[bytes, int]]:
    """Every file below ``roots`` with its bytes and mtime (ns): compare before and after."""
    files = {}
    for root in roots:
        paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in paths:
            files[str(path)] = (path.read_bytes(), path.stat().st_mtime_ns)
    return files


@dataclass
class Replayed:
    """An output folder of ``lnn-control replay``: its report and arrays."""

    folder: Path
    report: dict[str, Any]
    arrays: dict[str, np.ndarray]

    @classmethod
    def load(cls, folder: Path) -> "Replayed":
        with np.load(folder / "replay.npz") as arrays:
            loaded = {key: arrays[key] for key in arrays.files}
        return cls(folder, json.loads((folder / "report.json").read_text()), loaded)

    @property
    def output_bag(self) -> Path:
        return Path(self.report["output_bag"]["path"])


def rewrite_bag(source: Path, target: Path, edit: Callable[[str, int, Any], Optional[Any]],
                added: Sequence[tuple[str, str, int, Any]] = (), storage: str = "mcap") -> Path:
    """Copy the ROS 2 bag ``source`` to ``target``, message by message; ``edit(topic, index on
    the topic, message)`` may change a message in place and return it (it is then serialized
    again) or return ``None`` to keep the original bytes. ``added`` messages
    ``(topic, msgtype, receive_ns, message)`` (of the Jazzy typestore) join them in time order."""
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    jazzy = get_typestore(Stores.ROS2_JAZZY)
    with AnyReader([source]) as reader, Writer(target, version=9, storage_plugin=plugin) as writer:
        connections = {c.id: writer.add_connection(c.topic, c.msgtype, typestore=reader.typestore)
                       for c in reader.connections}
        counts: dict[str, int] = {}
        messages = []
        for connection, receive_ns, data in reader.messages():
            index = counts[connection.topic] = counts.get(connection.topic, -1) + 1
            edited = edit(connection.topic, index, reader.deserialize(data, connection.msgtype))
            if edited is not None:
                data = reader.typestore.serialize_cdr(edited, connection.msgtype)
            messages.append((receive_ns, connections[connection.id], data))
        new = {}
        for topic, msgtype, receive_ns, msg in added:
            if topic not in new:
                new[topic] = writer.add_connection(topic, msgtype, typestore=jazzy)
            messages.append((receive_ns, new[topic], jazzy.serialize_cdr(msg, msgtype)))
        for receive_ns, connection, data in sorted(messages, key=lambda m: m[0]):
            writer.write(connection, receive_ns, data)
    return target


def set_stamp(msg: Any, stamp_ns: int) -> Any:
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
    return msg


def fed_directly(
    runtime: PolicyRuntime, events: Iterable[tuple[int, str, np.ndarray]]
) -> np.ndarray:
    """The commands ``(steps, A)`` of ``runtime`` fed ``(stamp_ns, stream, value)`` events in the
    given order, one per network step: the reference a replay is checked against."""
    commands = []
    for event_stamp, stream, value in events:
        steps = runtime.stats.steps
        runtime.on_event(stream, event_stamp, value)
        if runtime.stats.steps > steps:
            commands.append(runtime.command(event_stamp))
    return np.array(commands)
