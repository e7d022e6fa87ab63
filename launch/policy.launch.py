"""On a robot: ros2 launch lnn_control policy.launch.py checkpoint:=/path/to/checkpoint

Starts policy_node (a lifecycle node; autostart configures and activates it) with a parameter
file mapping the checkpoint's streams to topics and its commands to an output message.
`lnn-control launch policy` starts the same node with the same files without ROS launch.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue


def generate_launch_description():
    config = os.path.join(get_package_share_directory("lnn_control"), "config", "ros")
    return LaunchDescription([
        DeclareLaunchArgument("checkpoint", description="checkpoint folder (policy.yaml + weights)"),
        DeclareLaunchArgument("params", default_value=os.path.join(config, "imu_policy.yaml"),
                              description="policy_node parameter file"),
        DeclareLaunchArgument("namespace", default_value="", description="namespace of the node"),
        DeclareLaunchArgument("autostart", default_value="true",
                              description="configure and activate at start-up"),
        Node(
            package="lnn_control",
            executable="policy_node",
            name="policy_node",
            namespace=LaunchConfiguration("namespace"),
            parameters=[
                LaunchConfiguration("params"),
                {
                    "checkpoint": ParameterValue(LaunchConfiguration("checkpoint"), value_type=str),
                    "autostart": ParameterValue(LaunchConfiguration("autostart"), value_type=bool),
                },
            ],
            output="screen",
        ),
    ])
