"""Rosbag replay: run a policy over a recorded ROS 1 or ROS 2 bag, analyse the bag's timing and
write a report and an output bag, with no ROS install (``rosbags`` reads and writes the bags).

Modules, one per concept:

- :mod:`~lnn_control.bags.reader`: open a bag (ROS 1, ROS 2 sqlite3 / MCAP), read its messages;
- :mod:`~lnn_control.bags.timing`: a stream's rate, jitter, gaps, ordering and receive lag;
- :mod:`~lnn_control.bags.replay`: feed the policy runtime in stamp order, record its steps;
- :mod:`~lnn_control.bags.recorded`: a command topic recorded in the bag, against the replay;
- :mod:`~lnn_control.bags.typed`: plain nested data to ``rosbags`` message objects;
- :mod:`~lnn_control.bags.writer`: the output bag (input messages plus the policy's commands);
- :mod:`~lnn_control.bags.report`: the JSON, Markdown and PNG report;
- :mod:`~lnn_control.bags.pipeline`: all of it into an output folder (``lnn-control replay``);
- :mod:`~lnn_control.bags.progress`: progress bars of the long work;
- :mod:`~lnn_control.bags.errors`: the errors a user can cause.

Nothing here imports ROS (rclpy) or the simulator. Importing this package is cheap; the modules
import ``rosbags``, ``torch`` and ``matplotlib``.
"""
