"""The policy node as a separate process over real DDS: lifecycle, watchdog, diagnostics."""

import time

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import TwistStamped
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rclpy.qos import qos_profile_sensor_data
from roshelpers import ROOT, diagnostic_values, policy_node, wait_for
from sensor_msgs.msg import Imu

from lnn_control.policy.gravity_check import GRAVITY_CHECK_MESSAGES

PARAMS = ROOT / "config" / "ros" / "imu_policy.yaml"
SAFE = [0.0, 0.0, 0.0, 0.0]  # config/models/imu_cfc.yaml actions.safe
TIMEOUT_S = 0.2  # config/ros/imu_policy.yaml streams.imu.timeout_s
WATCHDOG_PERIOD_S = 0.05  # the node's watchdog period: timeout / 4
SCHEDULING_S = 0.025  # allowance for timers and callbacks running late on a loaded 2-core machine


def stamp_ns(message) -> int:
    return message.header.stamp.sec * 1_000_000_000 + message.header.stamp.nanosec


def command(message) -> list[float]:
    t = message.twist
    return [t.linear.z, t.angular.x, t.angular.y, t.angular.z]


class ImuSource:
    """Publishes IMU messages stamped with the sender's clock; remembers the stamps sent."""

    def __init__(self, probe) -> None:
        self.publisher = probe.node.create_publisher(Imu, "/imu/data", qos_profile_sensor_data)
        self.node = probe.node
        self.sent: list[int] = []

    def send(self, count: int, period: float = 0.005) -> None:
        for _ in range(count):
            message = Imu()
            message.linear_acceleration.z = 9.81
            now = time.time_ns()
            message.header.stamp.sec, message.header.stamp.nanosec = divmod(now, 1_000_000_000)
            self.publisher.publish(message)
            self.sent.append(now)
            time.sleep(period)


#: the state each transition the tests use ends in
TARGET = {Transition.TRANSITION_CONFIGURE: "inactive", Transition.TRANSITION_ACTIVATE: "active",
          Transition.TRANSITION_DEACTIVATE: "inactive", Transition.TRANSITION_CLEANUP: "unconfigured"}


def _client(probe, service_type, name: str):
    client = probe.node.create_client(service_type, name)
    assert client.wait_for_service(timeout_sec=20), f"service {name} of policy_node not found"
    return client


def _answered(future, timeout: float) -> bool:
    """Whether ``future`` is done within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not future.done() and time.monotonic() < deadline:
        time.sleep(0.01)
    return future.done()


def state(probe) -> str:
    """The node's lifecycle state, asked again every 5 s for 30 s: under load a service's first
    response can be lost while DDS still matches the server's response writer with this client's
    reader (ros2/rmw_fastrtps#390 waits for that only for a bounded time); asking is idempotent."""
    client = _client(probe, GetState, "/policy_node/get_state")
    for _ in range(6):
        future = client.call_async(GetState.Request())
        if _answered(future, 5):
            return future.result().current_state.label
    raise AssertionError("no answer from /policy_node/get_state in 30 s")


def lifecycle(probe, transition: int) -> bool:
    """Whether ``transition`` succeeded: its response, or if that is lost (see :func:`state`),
    whether the node is now in the transition's target state. A transition is not asked twice."""
    client = _client(probe, ChangeState, "/policy_node/change_state")
    future = client.call_async(ChangeState.Request(transition=Transition(id=transition)))
    if _answered(future, 30):
        return future.result().success
    return state(probe) == TARGET[transition]


@pytest.fixture
def imu_node(tmp_path, imu_checkpoint):
    started = []

    def start(**overrides):
        overrides = {"engine": "torch", **overrides}  # starts fastest; engines are tested elsewhere
        node = policy_node(PARAMS, tmp_path / "node.log", checkpoint=imu_checkpoint, **overrides)
        started.append(node)
        return node

    yield start
    codes = [node.stop() for node in started]
    assert codes == [0] * len(codes), [node.output() for node in started]


def test_commands_flow_only_while_active_and_deactivate_sends_the_safe_command(imu_node, probe):
    node = imu_node()
    commands = probe.collect(TwistStamped, "/lnn_control/command")
    imu = ImuSource(probe)
    assert state(probe) == "unconfigured"
    assert lifecycle(probe, Transition.TRANSITION_CONFIGURE)
    node.wait_ready()
    wait_for(lambda: probe.node.count_subscribers("/imu/data") > 0, 20, "the node's IMU subscription")
    imu.send(40)
    time.sleep(0.3)
    assert state(probe) == "inactive" and commands == []  # configured, not active: silent
    assert lifecycle(probe, Transition.TRANSITION_ACTIVATE)
    imu.send(60)
    wait_for(lambda: len(commands) >= 50, 10, "commands while active")
    from_imu = [m for _, m in commands if stamp_ns(m) in set(imu.sent)]
    assert len(from_imu) >= 50  # stamped with the IMU stamp they were computed from
    assert all(np.isfinite(command(m)).all() for _, m in commands)
    assert lifecycle(probe, Transition.TRANSITION_DEACTIVATE)
    wait_for(lambda: command(commands[-1][1]) == SAFE, 5, "the safe command on deactivate")
    count = len(commands)
    imu.send(40)
    time.sleep(0.3)
    assert len(commands) == count  # inactive again: nothing more
    assert lifecycle(probe, Transition.TRANSITION_CLEANUP) and state(probe) == "unconfigured"
    assert node.alive()


def test_watchdog_sends_the_safe_command_within_its_timeout_plus_one_period(imu_node, probe):
    imu_node(autostart="true").wait_ready()
    commands = probe.collect(TwistStamped, "/lnn_control/command")
    wait_for(lambda: probe.node.count_subscribers("/imu/data") > 0, 20, "the node's IMU subscription")
    imu = ImuSource(probe)
    imu.send(100)
    wait_for(lambda: any(stamp_ns(m) == imu.sent[-1] for _, m in commands), 10, "the last command")
    last_sent = imu.sent[-1]
    wait_for(lambda: command(commands[-1][1]) == SAFE, 5, "the watchdog's safe command")
    first_safe = next(m for _, m in commands if stamp_ns(m) > last_sent and command(m) == SAFE)
    delay = (stamp_ns(first_safe) - last_sent) * 1e-9
    assert TIMEOUT_S <= delay <= TIMEOUT_S + WATCHDOG_PERIOD_S + SCHEDULING_S, delay
    # data returns: commands computed from it flow again (the network state was reset)
    count = len(commands)
    imu.send(20)
    wait_for(lambda: any(stamp_ns(m) == imu.sent[-1] for _, m in commands[count:]), 10,
             "commands after the stream came back")


@pytest.mark.parametrize("engine", ["onnx", "native"])
def test_diagnostics_report_streams_and_inference(imu_node, probe, engine):
    imu_node(autostart="true", diagnostics_period_s=0.5, engine=engine).wait_ready()
    diagnostics = probe.collect(DiagnosticArray, "/diagnostics")
    wait_for(lambda: probe.node.count_subscribers("/imu/data") > 0, 20, "the node's IMU subscription")
    ImuSource(probe).send(150)
    time.sleep(0.5)
    # best-effort QoS may lose a message on a loaded machine: count what arrived. The report
    # read is the first to count them: 0.2 s after the IMU stops the watchdog trips and
    # reports at once, over a period without inference
    def counted(array) -> bool:
        return int(diagnostic_values(array, "stream imu").get("received", 0)) >= 140

    wait_for(lambda: any(counted(array) for _, array in diagnostics), 10, "diagnostics counting the IMU messages")
    latest = next(array for _, array in diagnostics if counted(array))
    controller, imu = diagnostic_values(latest, "controller"), diagnostic_values(latest, "stream imu")
    assert controller["state"] == "active" and controller["engine"] == engine
    assert int(controller["commands_published"]) >= int(imu["received"])
    assert float(controller["inference_us_max"]) > 0
    assert imu["topic"] == "/imu/data" and imu["accepted_by_runtime"] == imu["received"]


def test_bad_parameters_fail_configure_and_the_node_stays_up(imu_node, probe, tmp_path):
    node = imu_node(**{"streams.imu.type": "sensor_msgs/msg/Image"})
    assert not lifecycle(probe, Transition.TRANSITION_CONFIGURE)
    assert state(probe) == "unconfigured" and node.alive()
    wait_for(lambda: "cannot carry a imu stream" in node.output(), 5, "the configure error in the log")


def test_sigint_publishes_the_safe_command_before_exiting(imu_node, probe):
    node = imu_node(autostart="true")
    node.wait_ready()
    commands = probe.collect(TwistStamped, "/lnn_control/command")
    imu = ImuSource(probe)
    # best-effort IMU messages sent before the node's subscription matches are lost: wait for it
    wait_for(lambda: imu.publisher.get_subscription_count() > 0, 20, "the node's IMU subscription")
    wait_for(lambda: probe.node.count_publishers("/lnn_control/command") > 0, 20, "the command publisher")
    imu.send(30)
    sent = set(imu.sent)  # best effort: any of them may be lost, the last one too
    wait_for(lambda: any(stamp_ns(m) in sent for _, m in commands), 10, "commands")
    assert node.stop() == 0
    wait_for(lambda: command(commands[-1][1]) == SAFE, 5, "the safe command at exit")


@pytest.mark.parametrize("scale", [1.0, 9.80665])
def test_an_imu_in_g_is_reported_unless_scaled(imu_node, probe, scale):
    """REP 145 says m/s^2; a driver publishing g reads ~1 at rest. The node says so and how to
    fix it, and with `streams.imu.scale` set it converts the values and says nothing."""
    node = imu_node(autostart="true", diagnostics_period_s=0.1, **{"streams.imu.scale": scale})
    node.wait_ready()
    diagnostics = probe.collect(DiagnosticArray, "/diagnostics")
    publisher = probe.node.create_publisher(Imu, "/imu/data", qos_profile_sensor_data)
    # best-effort IMU messages sent before the node's subscription matches are lost: wait for it
    wait_for(lambda: publisher.get_subscription_count() > 0, 20, "the node's IMU subscription")

    def valid_messages() -> int:
        """IMU messages the node took as valid: the check decides on the first 50 of them. A
        loaded machine may lose some or deliver them too late, so the test counts what arrived."""
        imu = diagnostic_values(diagnostics[-1][1], "stream imu") if diagnostics else {}
        return int(imu.get("received", 0)) - int(imu.get("rejected", 0))

    deadline = time.monotonic() + 20
    while valid_messages() < GRAVITY_CHECK_MESSAGES:
        assert time.monotonic() < deadline, f"the node took {valid_messages()} valid IMU messages\n{node.output()}"
        message = Imu()
        message.linear_acceleration.z = 1.0  # at rest, in g
        message.header.stamp.sec, message.header.stamp.nanosec = divmod(time.time_ns(), 1_000_000_000)
        publisher.publish(message)
        time.sleep(0.005)
    # the check decides in the callback of its 50th valid message, before the report that counts it
    warned = "streams.imu.scale: 9.80665" in node.output()
    assert warned == (scale == 1.0), node.output()
