"""ROS-shaped messages without importing ROS, one module per audience: import from the module that
holds the thing.

- :mod:`~lnn_control.policy.messages.sensors`: sensor messages read as stream events (the policy
  node, rosbag replay);
- :mod:`~lnn_control.policy.messages.building`: stream values as messages to send (the simulator
  and recording);
- :mod:`~lnn_control.policy.messages.commands`: each command type's layout, with building and
  reading its messages.
"""
