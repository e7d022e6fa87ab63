"""Fixtures: rclpy initialised on loopback DDS once per test process; policy checkpoints."""

from pathlib import Path

import pytest
import rclpy
import torch
from roshelpers import ROOT, NodeProcess, Probe, ros_environment

from lnn_control.config import load_config
from lnn_control.policy import LiquidPolicy, PolicyConfig, save_checkpoint


@pytest.fixture(scope="session", autouse=True)
def ros():
    ros_environment()
    rclpy.init()
    yield
    NodeProcess.stop_all()
    rclpy.try_shutdown()


@pytest.fixture(autouse=True)
def no_node_outlives_its_test():
    """Nodes a test starts itself stop with it (module-scoped ones are started before this
    fixture and stop with their module)."""
    before = len(NodeProcess.started)
    yield
    NodeProcess.stop_all(before)


@pytest.fixture
def probe():
    probe = Probe()
    yield probe
    probe.close()


def checkpoint(folder: Path, model: str) -> Path:
    torch.manual_seed(0)
    return save_checkpoint(LiquidPolicy(load_config(PolicyConfig, ROOT / "config" / "models" / f"{model}.yaml")),
                           folder / model)


@pytest.fixture(scope="session")
def imu_checkpoint(tmp_path_factory) -> Path:
    return checkpoint(tmp_path_factory.mktemp("checkpoints"), "imu_cfc")


@pytest.fixture(scope="session")
def camera_checkpoint(tmp_path_factory) -> Path:
    return checkpoint(tmp_path_factory.mktemp("checkpoints"), "camera_imu_cfc")




@pytest.fixture(scope="session")
def hover_checkpoint(tmp_path_factory) -> Path:
    return checkpoint(tmp_path_factory.mktemp("checkpoints"), "quad_hover_cfc")
