"""The whole stack on a simulated robot: ros2 launch lnn_control sim.launch.py checkpoint:=...

Starts sim_node (a registered MuJoCo env publishing its sensors, /clock and ground truth, and
applying the commands it receives) and policy_node, both on simulated time.
`lnn-control launch sim` starts the same nodes with the same files without ROS launch.
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
        DeclareLaunchArgument("params", default_value=os.path.join(config, "quad_hover_policy.yaml"),
                              description="policy_node parameter file"),
        DeclareLaunchArgument("sim_params", default_value=os.path.join(config, "quad_hover_sim.yaml"),
                              description="sim_node parameter file"),
        DeclareLaunchArgument("namespace", default_value="", description="namespace of both nodes"),
        Node(
            package="lnn_control",
            executable="sim_node",
            name="sim_node",
            namespace=LaunchConfiguration("namespace"),
            parameters=[LaunchConfiguration("sim_params")],
            output="screen",
        ),
        Node(
            package="lnn_control",
            executable="policy_node",
            name="policy_node",
            namespace=LaunchConfiguration("namespace"),
            parameters=[
                LaunchConfiguration("params"),
                {"checkpoint": ParameterValue(LaunchConfiguration("checkpoint"), value_type=str),
                 "autostart": True,
                 "use_sim_time": True},
            ],
            output="screen",
        ),
    ])
