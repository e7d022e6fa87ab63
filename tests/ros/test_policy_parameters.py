"""The policy node's parameters as ROS 2 users see them: every one declared with a descriptor
(``ros2 param list`` and ``ros2 param describe`` over the node's parameter services), the same
deployment as replay reads from the same file, an unknown or invalid one refused by name, and a
change refused while the node is configured (it would not be honoured)."""

import pytest
from rcl_interfaces.msg import ParameterType
from rcl_interfaces.srv import DescribeParameters, ListParameters, SetParameters
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter
from roshelpers import ROOT, policy_node, wait_for

from lnn_control.policy.deployment import deployment_from_parameters, load_deployment
from lnn_control.ros.policy_node import PolicyNode

CONFIG = ROOT / "config" / "ros"
PARAMS = CONFIG / "imu_policy.yaml"
POLICY_FILES = sorted(p.name for p in CONFIG.glob("*.yaml") if not p.name.endswith("_sim.yaml"))
SUCCESS = TransitionCallbackReturn.SUCCESS


def flat(section: dict, prefix: str = "") -> list[Parameter]:
    """A parameter file's nested ``ros__parameters`` as the flat parameters ROS hands a node."""
    parameters = []
    for key, value in section.items():
        if isinstance(value, dict):
            parameters += flat(value, f"{prefix}{key}.")
        else:
            parameters.append(Parameter(f"{prefix}{key}", value=value))
    return parameters


@pytest.fixture
def make_node():
    """Policy nodes in the test's process, given parameters as a parameter file or -p gives them."""
    nodes = []

    def make(parameters: list[Parameter]) -> PolicyNode:
        nodes.append(PolicyNode(f"parameters_test_{len(nodes)}", parameter_overrides=parameters))
        return nodes[-1]

    yield make
    for node in nodes:
        node.destroy_node()


def file_parameters(name: str) -> list[Parameter]:
    from lnn_control.config import read_yaml

    return flat(read_yaml(CONFIG / name)["policy_node"]["ros__parameters"])


@pytest.mark.parametrize("name", POLICY_FILES)
def test_the_declared_parameters_are_the_deployment_replay_reads(make_node, name):
    """Every parameter not in the file holds the deployment's default: the node runs with the
    deployment replay reads from the same file, and ``ros2 param get`` shows it."""
    node = make_node(file_parameters(name))
    declared = {k: p.value for k, p in node.get_parameters_by_prefix("").items()}
    assert deployment_from_parameters(declared) == load_deployment(CONFIG / name)
    streams = load_deployment(CONFIG / name).streams
    for stream in streams:  # each stream's fields, given or not
        assert {f"streams.{stream}.{f}" for f in ("topic", "type", "qos", "timeout_s", "joint_names",
                                                   "depth", "scale")} <= set(declared)


def test_every_parameter_has_a_descriptor(make_node):
    node = make_node(file_parameters("imu_policy.yaml"))
    names = [n for n in node.get_parameters_by_prefix("") if n not in ("use_sim_time", "start_type_description_service")]
    assert len(names) == 23  # 11 top-level, 5 output, 7 for the one stream
    for name in names:
        descriptor = node.describe_parameter(name)
        assert descriptor.description and descriptor.type != ParameterType.PARAMETER_NOT_SET, name
        assert descriptor.type == node.get_parameter(name).type_.value, name
    assert node.describe_parameter("autostart").read_only  # read once, at start-up
    assert not node.describe_parameter("checkpoint").read_only  # read at each configure
    assert node.describe_parameter("streams.imu.timeout_s").floating_point_range[0].from_value == 0.0
    assert node.describe_parameter("torch_threads").integer_range[0].from_value == 1
    assert node.describe_parameter("streams.imu.depth").integer_range[0].from_value == 1
    assert "one of torch, onnx, compiled, native" in node.describe_parameter("engine").additional_constraints
    assert node.describe_parameter("output.twist_fields").type == ParameterType.PARAMETER_STRING_ARRAY


def test_an_integer_for_a_number_is_that_number(make_node):
    """``timeout_s: 1`` in a file or ``-p max_future_s:=1`` means 1.0, as replay reads it."""
    node = make_node([*file_parameters("imu_policy.yaml"), Parameter("max_future_s", value=1),
                      Parameter("streams.imu.timeout_s", value=1)])
    for name in ("max_future_s", "streams.imu.timeout_s"):
        parameter = node.get_parameter(name)
        assert parameter.type_ == Parameter.Type.DOUBLE and parameter.value == 1.0


@pytest.mark.parametrize("given, said", [
    (Parameter("streams.imu.timeout", value=0.1),
     ("unknown parameter 'streams.imu.timeout' (did you mean 'streams.imu.timeout_s'?); the node's "
      "parameters: ['autostart', 'checkpoint',")),
    (Parameter("torch_threads", value=0),
     "parameter 'torch_threads' = 0 refused: Parameter torch_threads out of range. Min: 1"),
    (Parameter("max_future_s", value="soon"), "parameter 'max_future_s' = 'soon' refused: Wrong parameter type"),
])
def test_a_parameter_the_node_cannot_take_is_refused_by_name(make_node, capfd, given, said):
    """Not ignored: a typo would leave a default (a 0.5 s watchdog) in place unseen. The node
    says so at once and fails every configure with it."""
    node = make_node([*file_parameters("imu_policy.yaml"), given])
    assert not node.has_parameter(given.name)
    assert f"[{node.get_name()}]: {said}" in capfd.readouterr().err  # at start-up
    for _ in range(2):
        assert node.trigger_configure() != SUCCESS
        log = capfd.readouterr().err
        assert f"[{node.get_name()}]: cannot configure: {said}" in log
        assert "(correct the parameter file or -p, and restart the node)" in log


def test_a_change_is_refused_while_configured_and_taken_at_the_next_configure(make_node, imu_checkpoint):
    node = make_node([*file_parameters("imu_policy.yaml"), Parameter("checkpoint", value=str(imu_checkpoint)),
                      Parameter("engine", value="torch")])
    assert node.trigger_configure() == SUCCESS
    assert {"/lnn_control/command", "/diagnostics"} <= publishers(node)
    [refused] = node.set_parameters([Parameter("output.topic", value="/elsewhere")])
    assert not refused.successful and "read at configure" in refused.reason
    assert not node.set_parameters([Parameter("autostart", value=True)])[0].successful  # read-only
    assert node.get_parameter("use_sim_time").value is False
    assert node.set_parameters([Parameter("use_sim_time", value=False)])[0].successful  # ROS's own
    assert node.trigger_cleanup() == SUCCESS
    assert not {"/lnn_control/command", "/diagnostics"} & publishers(node)  # destroyed
    assert node.set_parameters([Parameter("output.topic", value="/elsewhere")])[0].successful
    assert not node.set_parameters([Parameter("streams.imu.depth", value=0)])[0].successful  # range
    assert node.trigger_configure() == SUCCESS
    assert node.deployment.output.topic == "/elsewhere"
    assert "/elsewhere" in publishers(node) and "/lnn_control/command" not in publishers(node)


def publishers(node: PolicyNode) -> set[str]:
    """The topics ``node`` publishes on, as the ROS graph lists them."""
    return {topic for topic, _ in node.get_publisher_names_and_types_by_node(node.get_name(), "/")}


def call(probe, service_type, name: str, request):
    client = probe.node.create_client(service_type, name)
    assert client.wait_for_service(timeout_sec=20), f"{name} not found"
    future = client.call_async(request)
    wait_for(future.done, 10, name)
    return future.result()


def test_ros2_param_list_describe_and_set_on_a_running_node(tmp_path, imu_checkpoint, probe):
    """What ``ros2 param list``, ``describe`` and ``set`` ask the node's parameter services."""
    node = policy_node(PARAMS, tmp_path / "node.log", checkpoint=imu_checkpoint, engine="torch",
                       autostart="true", max_future_s=1)
    node.wait_ready()
    names = call(probe, ListParameters, "/policy_node/list_parameters", ListParameters.Request()).result.names
    assert {"checkpoint", "max_future_s", "streams.imu.depth", "output.joint_names"} <= set(names)
    described = call(probe, DescribeParameters, "/policy_node/describe_parameters",
                     DescribeParameters.Request(names=["max_future_s", "autostart"])).descriptors
    assert described[0].type == ParameterType.PARAMETER_DOUBLE and "ahead of the node's clock" in described[0].description
    assert described[1].read_only
    [result] = call(probe, SetParameters, "/policy_node/set_parameters", SetParameters.Request(
        parameters=[Parameter("engine", value="onnx").to_parameter_msg()])).results
    assert not result.successful and "engine: read at configure" in result.reason
    assert node.stop() == 0


def test_an_unknown_parameter_in_the_file_or_given_with_p_stops_an_autostarting_node(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text(PARAMS.read_text().replace("safe_command:", "safe_comand:"))
    node = policy_node(params, tmp_path / "node.log", autostart="true", **{"streams.imu.qos_profile": "reliable"})
    wait_for(lambda: not node.alive(), 60, "the node to exit")
    assert node.stop() == 2
    output = node.output()
    assert "autostart: cannot configure: unknown parameter 'safe_comand' (did you mean 'safe_command'?)" in output
    assert "unknown parameter 'streams.imu.qos_profile'" in output

