"""The replay's output bag: a ROS 2 bag (MCAP by default, or sqlite3) holding every message of the
input bag plus the policy's commands, to view in Foxglove or replay with ``ros2 bag play``.

Input messages keep their topics, types, QoS profiles and receive times; ROS 1 messages are
converted to ROS 2 (CDR) on the way with the converters of ``rosbags.convert``. Each command is a
message of the parameter file's ``output.type`` built with
:meth:`~lnn_control.policy.messages.commands.CommandMessages.build`: its ``header.stamp`` (if the
type has a header) is the sensor stamp the command was computed from (the step's stamp), its log
time the receive time of the message that triggered the step, so it sits right after that message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Optional, Sequence

from rich.progress import Progress
from rosbags.convert.converter import create_connections_converters
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from lnn_control.bags.progress import EVERY, ticker
from lnn_control.bags.reader import Bag
from lnn_control.bags.replay import Steps
from lnn_control.bags.typed import build_message
from lnn_control.policy.deployment import OutputTopic
from lnn_control.policy.messages.commands import CommandMessages

__all__ = ["STORAGES", "write_output_bag"]

Storage = Literal["mcap", "sqlite3"]
STORAGES: dict[str, StoragePlugin] = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}


def write_output_bag(
    bag: Bag,
    target: Path,
    steps: Steps,
    output: OutputTopic,
    action_names: Sequence[str],
    topic: str,
    storage: Storage = "mcap",
    progress: Optional[Progress] = None,
) -> dict[str, Any]:
    """Write the input messages of ``bag`` and one command per step of ``steps`` to a new ROS 2
    bag folder ``target`` (which must not exist).

    :param output: the parameter file's output (type, frame, joint names, twist fields).
    :param topic: the topic of the commands.
    :return: ``{"path", "storage", "input_messages", "commands", "command_topic",
        "command_type"}``.
    """
    typestore = get_typestore(Stores.ROS2_JAZZY)
    messages = CommandMessages(output.type, action_names, output.frame_id, output.joint_names,
                               output.twist_fields)
    commands = [
        typestore.serialize_cdr(build_message(typestore, output.type, messages.build(command, stamp)),
                                output.type)
        for stamp, command in zip(steps.stamps_ns.tolist(), steps.commands)
    ]
    log_ns = steps.receive_ns.tolist()
    order = sorted(range(len(commands)), key=log_ns.__getitem__)
    writer = Writer(target, version=Writer.VERSION_LATEST, storage_plugin=STORAGES[storage])
    total = sum(t.count for t in bag.topics.values())
    done = ticker(progress, f"writing {storage}", total)
    copied = sent = 0
    with writer:
        connections, converters = create_connections_converters(
            bag.reader.connections, None, bag.reader, writer)
        command_connection = writer.add_connection(topic, output.type, typestore=typestore)
        for message in bag.messages():
            while sent < len(order) and log_ns[order[sent]] < message.receive_ns:
                writer.write(command_connection, log_ns[order[sent]], commands[order[sent]])
                sent += 1
            connection = connections[(message.connection.id, message.connection.owner)]
            writer.write(connection, message.receive_ns, converters[message.msgtype](message.data))
            copied += 1
            if copied % EVERY == 0:
                done(copied)
        for index in order[sent:]:
            writer.write(command_connection, log_ns[index], commands[index])
    done(copied)
    return {"path": str(target), "storage": storage, "input_messages": copied,
            "commands": len(commands), "command_topic": topic, "command_type": output.type}
