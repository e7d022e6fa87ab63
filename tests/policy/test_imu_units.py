"""IMU units: ``streams.<name>.scale`` converts an IMU's linear acceleration (and only it) to
m/s^2 in the stream reader, is refused where it means nothing, and :class:`GravityCheck` tells a
stream in g from one in m/s^2 by the norm of gravity."""

import dataclasses
import math

import pytest
from policies import config
from rosbags.typesys import Stores, get_typestore

from lnn_control.bags.typed import build_message
from lnn_control.errors import ConfigError
from lnn_control.policy import StreamSpec
from lnn_control.policy.deployment import deployment_from_parameters
from lnn_control.policy.gravity_check import STANDARD_GRAVITY, GravityCheck
from lnn_control.policy.messages.building import stream_message
from lnn_control.policy.messages.sensors import stream_reader

IMU = "sensor_msgs/msg/Imu"
TYPES = get_typestore(Stores.ROS2_JAZZY)
#: at rest and level: no rotation, the specific force points up with the norm of gravity (in g)
LEVEL_IN_G = [0.01, -0.02, 0.003, 0.0, 0.0, 1.0]


def imu_message(value):
    """A rosbags sensor_msgs/Imu holding ``value`` ([wx, wy, wz] rad/s, [ax, ay, az])."""
    return build_message(TYPES, IMU, stream_message("imu", IMU, value, 123_000_000_000))


def test_scale_multiplies_the_linear_acceleration_only_and_stays_python_floats():
    msg = imu_message(LEVEL_IN_G)
    stamp, value, encoding = stream_reader("imu", IMU, accel_scale=STANDARD_GRAVITY)(msg)
    assert (stamp, encoding) == (123_000_000_000, None)
    assert value == [0.01, -0.02, 0.003, 0.0, 0.0, 9.80665]  # g -> m/s^2; rates untouched
    assert type(value) is list and all(type(v) is float for v in value)  # no numpy on the IMU path
    assert stream_reader("imu", IMU)(msg)[1] == LEVEL_IN_G  # the default reads as published


@pytest.mark.parametrize("scale", [0.0, -9.8, math.inf, math.nan])
def test_a_scale_that_is_no_unit_factor_is_refused(scale):
    with pytest.raises(ConfigError, match=r"streams\.imu: scale must be a finite number > 0 "
                                          r"\(the factor to m/s\^2, e.g\. 9\.80665 for g\)"):
        deployment_from_parameters({"streams.imu.topic": "/imu", "streams.imu.type": IMU,
                                    "streams.imu.scale": scale})
    with pytest.raises(ConfigError, match="accel_scale must be a finite number > 0"):
        stream_reader("imu", IMU, accel_scale=scale)


def test_scale_on_a_stream_that_is_not_an_imu_is_refused_with_the_fix():
    policy = config("imu_cfc")
    policy = dataclasses.replace(policy, streams=[*policy.streams, StreamSpec("goal", "vector", size=3)])
    deployment = deployment_from_parameters({
        "streams.imu.topic": "/imu", "streams.imu.type": IMU, "streams.imu.scale": STANDARD_GRAVITY,
        "streams.goal.topic": "/goal", "streams.goal.type": "geometry_msgs/msg/PointStamped",
        "streams.goal.scale": 2.0,
    })
    with pytest.raises(ConfigError) as raised:
        deployment.check(policy)
    assert str(raised.value) == (
        "streams.goal.scale is 2.0, but it converts an IMU's linear acceleration to m/s^2 and "
        "stream 'goal' is a vector stream; remove streams.goal.scale (it applies to imu streams only)"
    )
    with pytest.raises(ConfigError, match="accel_scale 2.0 applies to imu streams only"):
        stream_reader("vector", "geometry_msgs/msg/PointStamped", accel_scale=2.0)
    deployment.streams["goal"].scale = 1.0
    deployment.check(policy)  # the imu stream's scale is fine


def test_gravity_in_g_is_reported_once_after_the_first_messages_with_the_fix():
    check = GravityCheck("imu")
    said = [check.observe(LEVEL_IN_G) for _ in range(49)]
    assert said == [None] * 49 and not check.decided
    warning = check.observe(LEVEL_IN_G)
    assert warning == check.warning and check.decided and check.mean_norm == 1.0
    assert warning.startswith("stream 'imu': the IMU's linear acceleration has a mean norm of 1 "
                              "over its first 50 messages, near 1 where gravity alone gives "
                              "9.81 m/s^2: it looks like g, not m/s^2 (REP 145)")
    assert warning.endswith("set streams.imu.scale: 9.80665 in the parameter file")
    assert [check.observe(LEVEL_IN_G) for _ in range(100)] == [None] * 100  # once only


def test_gravity_in_metres_per_second_squared_says_nothing():
    check = GravityCheck("imu")
    level = [0.0, 0.0, 0.0, 0.0, 0.0, STANDARD_GRAVITY]
    assert all(check.observe(level) is None for _ in range(200))
    assert check.decided and check.warning is None
    assert check.mean_norm == pytest.approx(STANDARD_GRAVITY)


def test_a_scale_applied_to_metres_per_second_squared_is_reported_as_converted_twice():
    check = GravityCheck("imu", scale=STANDARD_GRAVITY, messages=3)
    twice = [0.0, 0.0, 0.0, 0.0, 0.0, STANDARD_GRAVITY * STANDARD_GRAVITY]
    assert check.observe(twice) is None and check.observe(twice) is None
    warning = check.observe(twice)
    assert warning.startswith("stream 'imu': the IMU's linear acceleration has a mean norm of 96.2 "
                              "over its first 3 messages (after streams.imu.scale 9.80665), near "
                              "9.81^2: the driver already publishes m/s^2")
    assert warning.endswith("Remove streams.imu.scale in the parameter file")


def test_non_finite_values_are_not_averaged_and_a_short_stream_is_decided_at_its_end():
    check = GravityCheck("body_imu")
    tilted = [0.0, 0.0, 0.0, 0.6, 0.0, 0.8]  # norm 1 (g), tilted
    for value in ([math.nan] * 6, tilted, [0.0, 0.0, 0.0, math.inf, 0.0, 0.0], tilted):
        assert check.observe(value) is None
    assert not check.decided
    warning = check.finish()
    assert "mean norm of 1 over its first 2 messages" in warning
    assert "set streams.body_imu.scale: 9.80665" in warning
    assert check.finish() is None and GravityCheck("imu").finish() is None  # once; nothing seen
