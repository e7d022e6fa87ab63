"""ROS 2 nodes: the policy node, the simulator node, and the launch plan they share.

The only package that imports rclpy or ROS message modules. Run the nodes with
``ros2 run lnn_control policy_node`` / ``sim_node``, ``ros2 launch lnn_control policy.launch.py``
or, without a ROS install, ``lnn-control launch policy|sim``.
"""
