"""The launch files name only executables and parameter files that exist, and
``lnn-control launch`` starts exactly their nodes with the same files; what they set on
policy_node has its parameters' types."""

import ast
import importlib.metadata
from pathlib import Path

import pytest
from rclpy.parameter import Parameter

from lnn_control.ros.launcher import PLANS, commands
from lnn_control.ros.policy_node import PolicyNode

ROOT = Path(__file__).resolve().parents[2]


def launch_file_nodes(path: Path) -> tuple[list[str], dict[str, str]]:
    """Executables of the Node(...) actions, and each DeclareLaunchArgument's default file name."""
    tree = ast.parse(path.read_text())
    executables, defaults = [], {}
    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
        name = getattr(call.func, "id", getattr(call.func, "attr", ""))
        keywords = {k.arg: k.value for k in call.keywords}
        if name == "Node":
            assert isinstance(keywords["package"], ast.Constant) and keywords["package"].value == "lnn_control"
            executables.append(keywords["executable"].value)
        if name == "DeclareLaunchArgument" and "default_value" in keywords:
            files = [c.value for c in ast.walk(keywords["default_value"])
                     if isinstance(c, ast.Constant) and str(c.value).endswith(".yaml")]
            if files:
                defaults[call.args[0].value] = files[0]
    return executables, defaults


@pytest.mark.parametrize("plan", sorted(PLANS))
def test_launch_file_matches_lnn_control_launch(plan):
    executables, defaults = launch_file_nodes(ROOT / "launch" / f"{plan}.launch.py")
    specs = PLANS[plan]
    assert executables == [s.executable for s in specs]
    assert defaults == {s.params_argument: s.default_params for s in specs}
    scripts = {e.name: e.value for e in importlib.metadata.entry_points(group="console_scripts")
               if e.dist and e.dist.name == "lnn_control"}
    for spec in specs:
        assert scripts[spec.executable] == f"{spec.module}:main"  # ros2 run finds the same code
        assert (ROOT / "config" / "ros" / spec.default_params).is_file()
    lines = commands(plan, "/some/checkpoint", {})
    assert [line[2] for line in lines] == [s.module for s in specs]
    assert all(Path(line[line.index("--params-file") + 1]).is_file() for line in lines)


#: the Python type a launch file gives a value of each ROS parameter type
PYTHON_TYPES = {Parameter.Type.STRING: "str", Parameter.Type.BOOL: "bool", Parameter.Type.INTEGER: "int",
                Parameter.Type.DOUBLE: "float"}


@pytest.mark.parametrize("plan", sorted(PLANS))
def test_launch_arguments_reach_the_policy_node_as_its_parameters_types(plan):
    """A launch argument is a string that launch_ros reads as YAML unless told its type (a
    checkpoint folder named 2024 would arrive as an integer): each one set on policy_node says
    its parameter's declared type."""
    node = PolicyNode("launch_file_types", parameter_overrides=[Parameter("streams.imu.topic", value="/imu")])
    try:
        tree = ast.parse((ROOT / "launch" / f"{plan}.launch.py").read_text())
        for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
            keywords = {k.arg: k.value for k in call.keywords}
            if getattr(call.func, "id", "") != "Node" or keywords["executable"].value != "policy_node":
                continue
            for mapping in (v for v in keywords["parameters"].elts if isinstance(v, ast.Dict)):
                for key, value in zip(mapping.keys, mapping.values):
                    expected = PYTHON_TYPES[Parameter.Type(node.describe_parameter(key.value).type)]
                    if isinstance(value, ast.Constant):
                        assert type(value.value).__name__ == expected, key.value
                    else:
                        assert value.func.id == "ParameterValue", key.value
                        value_type = next(k.value.id for k in value.keywords if k.arg == "value_type")
                        assert value_type == expected, key.value
    finally:
        node.destroy_node()
