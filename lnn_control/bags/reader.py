"""Open a ROS 1 or ROS 2 bag with ``rosbags`` and read its messages, with errors a user can act on.

Accepted paths:

- a ROS 1 bag file (``.bag``);
- a ROS 2 bag folder (``metadata.yaml`` plus its sqlite3 ``.db3`` or MCAP ``.mcap`` storage file);
- a ROS 2 storage file on its own (``.db3`` or ``.mcap``).

A ROS 2 folder whose ``metadata.yaml`` disagrees with its storage file (another QoS text, another
type hash, other message counts) makes ``rosbags`` match no connection and return no message at
all. :func:`open_bag` compares the two before reading; when they disagree, or when the folder has
no ``metadata.yaml``, it reads the storage file directly and says so in :attr:`Bag.warnings`.

Every failure of ``rosbags`` on the file (truncated, corrupt, not a bag) becomes a
:class:`~lnn_control.bags.errors.BagReadError`; a message count that differs from the bag's own
index once all messages of a topic have been read is reported the same way (a corrupt MCAP chunk
index can make readers skip messages silently).

Time bases: receive times (``Bag.messages``) are the bag's log times, nanoseconds since epoch.
"""

from __future__ import annotations

import os
import sqlite3
import struct
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, NamedTuple, Optional

from rosbags.highlevel import AnyReader, AnyReaderError
from rosbags.interfaces import Connection
from rosbags.rosbag1 import ReaderError as Ros1ReaderError
from rosbags.rosbag2 import Reader as Ros2Reader
from rosbags.rosbag2 import ReaderError as Ros2ReaderError
from rosbags.serde import SerdeError
from rosbags.typesys import Stores, get_typestore

from lnn_control.bags.errors import BagError, BagNotFoundError, BagReadError

__all__ = ["Bag", "BagMessage", "BagTopic", "open_bag"]

BagFormat = Literal["rosbag1", "sqlite3", "mcap"]
STORAGE_SUFFIXES: dict[str, BagFormat] = {".db3": "sqlite3", ".mcap": "mcap"}
ACCEPTED = ("a ROS 1 .bag file, a ROS 2 bag folder (metadata.yaml + storage file) or its .db3 / "
            ".mcap storage file")
REPAIR = ("re-record or repair it (ROS 1: `rosbag reindex BAG`; ROS 2: `ros2 bag reindex FOLDER`), "
          "or replay another bag")
#: what rosbags (and the sqlite3 / decompression code under it) raises on a damaged file
READ_ERRORS: tuple[type[BaseException], ...] = (
    AnyReaderError, Ros1ReaderError, Ros2ReaderError, SerdeError, sqlite3.DatabaseError, OSError,
    EOFError, OverflowError, struct.error, ValueError, IndexError, KeyError,
)


@dataclass(frozen=True)
class BagTopic:
    """One topic of a bag, as its index (or ROS 2 metadata) declares it."""

    name: str
    #: ROS 2 style type name, e.g. ``sensor_msgs/msg/Imu`` (ROS 1 names are converted by rosbags)
    msgtype: str
    #: message count declared by the bag's index
    count: int

    def describe(self) -> str:
        return f"{self.name} ({self.msgtype}, {self.count} messages)"


class BagMessage(NamedTuple):
    """One serialized message, in the bag's order (receive time)."""

    topic: str
    msgtype: str
    #: the bag's log (receive) time, nanoseconds since epoch
    receive_ns: int
    #: serialized bytes (ROS 1 or CDR, see :attr:`Bag.is_ros2`)
    data: Any
    connection: Connection


@dataclass
class Bag:
    """An open bag (use :func:`open_bag`). Close it, or use it as a context manager.

    :param path: the path the user gave.
    :param source: what is read: ``path``, or the storage file after a fallback.
    :param format: ``rosbag1``, ``sqlite3`` or ``mcap``.
    :param reader: the open ``rosbags`` reader (its typestore deserializes the messages).
    :param warnings: what the user should know about how the bag was read.
    """

    path: Path
    source: Path
    format: BagFormat
    reader: AnyReader
    warnings: list[str] = field(default_factory=list)

    @property
    def is_ros2(self) -> bool:
        """True for ROS 2 bags (CDR messages), False for ROS 1."""
        return self.format != "rosbag1"

    @property
    def topics(self) -> dict[str, BagTopic]:
        """Every topic, by name."""
        with _reading(self.path):
            return {name: BagTopic(name, info.msgtype or "<several types>", info.msgcount)
                    for name, info in sorted(self.reader.topics.items())}

    def describe_topics(self) -> str:
        """The topics as text, one per line: name (type, count)."""
        return "\n".join(f"  {topic.describe()}" for topic in self.topics.values())

    def messages(self, topics: Optional[Collection[str]] = None) -> Iterator[BagMessage]:
        """The messages of ``topics`` (all if ``None``) in receive-time order.

        After the last message, the number read on each topic is checked against the bag's index;
        a shortfall raises :class:`BagReadError`.
        """
        connections = [c for c in self.reader.connections if topics is None or c.topic in topics]
        if not connections:
            return
        counts = {id(c): 0 for c in connections}
        with _reading(self.path):
            for connection, receive_ns, data in self.reader.messages(connections=connections):
                counts[id(connection)] += 1
                yield BagMessage(connection.topic, connection.msgtype, receive_ns, data, connection)
        for connection in connections:
            read, declared = counts[id(connection)], connection.msgcount
            if declared and read != declared:
                raise BagReadError(
                    f"{self.path}: its index declares {declared} messages on {connection.topic} "
                    f"but {read} could be read: the bag is truncated or corrupt; {REPAIR}"
                )

    def deserialize(self, message: BagMessage) -> Any:
        """The message object (fields as in the ``.msg`` definition) of a :class:`BagMessage`."""
        try:
            return self.reader.deserialize(message.data, message.msgtype)
        except READ_ERRORS as error:
            raise BagReadError(
                f"{self.path}: a {message.msgtype} message on {message.topic} (received at "
                f"{message.receive_ns} ns) cannot be decoded ({error}): the bag is corrupt; "
                f"{REPAIR}"
            ) from None

    def close(self) -> None:
        """Close the underlying reader."""
        self.reader.close()

    def __enter__(self) -> Bag:
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        self.close()


def open_bag(path: str | os.PathLike[str]) -> Bag:
    """Open the bag at ``path`` (see the module docstring for what is accepted).

    :raises BagNotFoundError: nothing is there, or it is not a bag.
    :raises BagReadError: it cannot be read (truncated, corrupt, unreadable metadata).
    """
    given = Path(path)
    if not given.exists():
        raise BagNotFoundError(f"bag {str(given)!r} does not exist; give {ACCEPTED}")
    warnings: list[str] = []
    source, bag_format = _resolve(given, warnings)
    store = Stores.ROS2_JAZZY if bag_format != "rosbag1" else Stores.ROS1_NOETIC
    with _reading(given):
        reader = AnyReader([source], default_typestore=get_typestore(store))
        reader.open()
    return Bag(given, source, bag_format, reader, warnings)


def _resolve(path: Path, warnings: list[str]) -> tuple[Path, BagFormat]:
    """What to open for ``path``, and its format; adds a warning when it falls back."""
    if path.is_file():
        if path.suffix == ".bag":
            return path, "rosbag1"
        if path.suffix in STORAGE_SUFFIXES:
            return path, STORAGE_SUFFIXES[path.suffix]
        raise BagNotFoundError(f"{path} is not a bag (suffix {path.suffix!r}); give {ACCEPTED}")
    storage = sorted(p for p in path.iterdir() if p.suffix in STORAGE_SUFFIXES and p.is_file())
    if not (path / "metadata.yaml").is_file():
        if len(storage) != 1:
            raise BagNotFoundError(
                f"{path} is a folder without metadata.yaml and with {len(storage)} storage files "
                f"({[p.name for p in storage]}); give {ACCEPTED}"
            )
        warnings.append(f"{path} has no metadata.yaml: read its storage file {storage[0].name} "
                        "directly")
        return storage[0], STORAGE_SUFFIXES[storage[0].suffix]
    # (compressed storage files end in .mcap.zstd / .db3.zstd)
    folder_format: BagFormat = "mcap" if any(".mcap" in p.suffixes for p in path.iterdir()) \
        else "sqlite3"
    if len(storage) != 1:
        return path, folder_format  # split bags: the count check after reading guards them
    disagreement = _metadata_disagreement(path, storage[0])
    if disagreement is None:
        return path, folder_format
    warnings.append(
        f"{path}/metadata.yaml disagrees with its storage file {storage[0].name} ({disagreement}); "
        f"reading through the folder would skip or miscount its messages (rosbags returns none "
        f"when the QoS or type differ), so {storage[0].name} was read directly. Regenerate "
        "metadata.yaml with `ros2 bag reindex` to silence this."
    )
    return storage[0], folder_format


def _metadata_disagreement(folder: Path, storage: Path) -> Optional[str]:
    """How the folder's ``metadata.yaml`` and its storage file describe a topic differently (by
    the fields rosbags matches them on, and the message counts), or ``None`` when they agree."""
    with _reading(folder):
        with Ros2Reader(folder) as described, Ros2Reader(storage) as stored:
            declared = list(described.connections)
            actual = list(stored.connections)
    for connection in actual:
        same_topic = [c for c in declared if c.topic == connection.topic]
        if not same_topic:
            return f"topic {connection.topic} is missing from metadata.yaml"
        differences = [_differences(c, connection) for c in same_topic]
        if all(differences):
            return f"topic {connection.topic}: {' and '.join(min(differences, key=len))} differ"
    return None


def _differences(declared: Connection, actual: Connection) -> list[str]:
    """The fields in which two connections differ, by the rule rosbags matches them with (a
    type hash missing on either side matches any)."""
    fields = {"msgtype": "message type", "ext": "QoS profiles / serialization format",
              "msgcount": "message count"}
    differ = [text for name, text in fields.items()
              if getattr(declared, name) != getattr(actual, name)]
    if declared.digest and actual.digest and declared.digest != actual.digest:
        differ.append("type hash")
    return differ


@contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Turn what rosbags raises on a damaged file into a :class:`BagReadError` naming ``path``."""
    try:
        yield
    except BagError:
        raise
    except READ_ERRORS as error:
        detail = " ".join(str(a) for a in error.args) or type(error).__name__
        raise BagReadError(
            f"{path} cannot be read: it is truncated or corrupt, or not a bag ({detail}); {REPAIR}"
        ) from None
