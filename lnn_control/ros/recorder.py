"""``bag_recorder``: record topics of a running system to a ROS 2 bag, in the order they arrive.

``ros2 bag`` is not on PyPI; this is the part of it the project needs. Subscriptions are raw (the
serialized CDR bytes are written as they are) on an events executor, so messages are written in
the order this process received them, stamped with the wall clock (the bag's log time), which is
how a policy node on the same machine saw them: ``lnn-control replay --arrival-order`` then
reproduces its commands. QoS is best effort (it can listen to any publisher) with a deep queue.

Parameters: ``out`` (a new bag folder), ``storage`` (``mcap`` or ``sqlite3``) and ``topics``
(``["/imu/data:sensor_msgs/msg/Imu", ...]``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Optional

from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

from lnn_control.errors import ConfigError
from lnn_control.ros.conversions import message_class
from lnn_control.ros.spinning import run_node

__all__ = ["BagRecorder", "main"]


class BagRecorder(Node):
    """See the module docstring."""

    def __init__(self, node_name: str = "bag_recorder") -> None:
        super().__init__(node_name)
        from rosbags.rosbag2 import Writer
        from rosbags.typesys import Stores, get_typestore

        from lnn_control.bags.writer import STORAGES

        out = self.declare_parameter("out", "").value
        storage = self.declare_parameter("storage", "mcap").value
        topics = self.declare_parameter("topics", [""]).value
        pairs = [entry.split(":", 1) for entry in topics if entry]
        if not out or not pairs or any(len(p) != 2 for p in pairs):
            raise ConfigError("bag_recorder needs 'out' (a new folder) and 'topics' as "
                              "['/topic:package/msg/Type', ...]")
        if Path(out).exists():
            raise ConfigError(f"{out} exists; bag_recorder never writes over a bag")
        if storage not in STORAGES:
            raise ConfigError(f"storage must be one of {sorted(STORAGES)}, got {storage!r}")
        typestore = get_typestore(Stores.ROS2_JAZZY)
        self.writer = Writer(Path(out), version=Writer.VERSION_LATEST,
                             storage_plugin=STORAGES[storage])
        self.writer.open()
        self.count = 0
        qos = QoSProfile(depth=1000, reliability=ReliabilityPolicy.BEST_EFFORT,
                         history=HistoryPolicy.KEEP_LAST)
        for topic, msgtype in pairs:
            connection = self.writer.add_connection(topic, msgtype, typestore=typestore)
            self.create_subscription(message_class(msgtype), topic,
                                     lambda data, c=connection: self._write(c, data), qos, raw=True)
        self.get_logger().info(f"recording {[p[0] for p in pairs]} to {out}")

    def _write(self, connection: Any, data: bytes) -> None:
        self.writer.write(connection, time.time_ns(), data)
        self.count += 1

    def close(self) -> None:
        """Finish the bag (its index and metadata are written here)."""
        self.writer.close()
        self.get_logger().info(f"wrote {self.count} messages")


def main(args: Optional[list[str]] = None) -> None:
    """Entry point of ``ros2 run lnn_control bag_recorder``."""
    run_node("bag_recorder", BagRecorder, args, finish=lambda node: node.close())


if __name__ == "__main__":
    main()
