"""Fixtures: policies built from the example configs in config/models, with fixed seeds."""

import pytest
from policies import policy

from lnn_control.policy import LiquidPolicy


@pytest.fixture
def imu_policy() -> LiquidPolicy:
    return policy("imu_cfc")


@pytest.fixture
def camera_policy() -> LiquidPolicy:
    return policy("camera_imu_cfc")
