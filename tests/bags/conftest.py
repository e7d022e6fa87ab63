"""Session fixtures: the real bags, the Husky bag converted to ROS 2, an IMU policy, and the Husky
replays. The costly ones are built once per test run and shared by the pytest-xdist workers."""

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from bagfiles import (HUSKY, IMU_400HZ, Replayed, convert_to_ros2, imu_policy, save_policy,
                      shared_bag, write_params)
from filelock import FileLock


def built_once(factory: pytest.TempPathFactory, name: str, build: Callable[[Path], object]) -> Path:
    """The folder ``name`` filled by ``build(folder)`` once per test run; with pytest-xdist the
    workers share it (the first builds it, the others wait for it)."""
    root = factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's folder, shared by the workers
    folder = root / name
    with FileLock(f"{folder}.lock"):
        if not (folder / ".built").exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            (folder / ".built").touch()
    return folder


@pytest.fixture(scope="session")
def husky_bag() -> Path:
    return shared_bag(HUSKY)


@pytest.fixture(scope="session")
def imu400_bag() -> Path:
    return shared_bag(IMU_400HZ)


@pytest.fixture(scope="session")
def husky_ros2(husky_bag, tmp_path_factory) -> dict[str, Path]:
    """The Husky bag converted by rosbags to ROS 2 sqlite3 and MCAP bag folders."""
    def build(folder: Path) -> None:
        for storage in ("sqlite3", "mcap"):
            convert_to_ros2(husky_bag, folder / storage, storage)

    folder = built_once(tmp_path_factory, "husky_ros2", build)
    return {storage: folder / storage for storage in ("sqlite3", "mcap")}


@pytest.fixture(scope="session")
def policy_files(tmp_path_factory) -> tuple[Path, Path]:
    """The IMU-only CfC/NCP policy (random weights, seed 0): checkpoint and ONNX step."""
    folder = built_once(tmp_path_factory, "imu_policy", lambda f: save_policy(imu_policy(), f))
    return folder / "checkpoint", folder / "step.onnx"


@pytest.fixture(scope="session")
def params(policy_files, tmp_path_factory) -> Path:
    """config/ros/imu_policy.yaml pointing at the policy and its exported step."""
    checkpoint, step = policy_files
    return write_params(tmp_path_factory.mktemp("params") / "imu_policy.yaml", checkpoint, step)


@pytest.fixture(scope="session")
def husky_replays(husky_bag, husky_ros2, params, tmp_path_factory) -> dict[str, Replayed]:
    """``lnn-control replay`` of the Husky bag as ROS 1, ROS 2 sqlite3 and ROS 2 MCAP (the sqlite3
    one written to a sqlite3 output bag, the others to MCAP)."""
    from lnn_control.bags.pipeline import replay_to_folder

    sources = {"rosbag1": (husky_bag, "mcap"), "sqlite3": (husky_ros2["sqlite3"], "sqlite3"),
               "mcap": (husky_ros2["mcap"], "mcap")}

    def build(folder: Path) -> None:
        for name, (bag, storage) in sources.items():
            replay_to_folder(bag, params, folder / name, storage=storage, progress=False)

    folder = built_once(tmp_path_factory, "husky_replays", build)
    return {name: Replayed.load(folder / name) for name in sources}


@pytest.fixture(scope="session")
def imu400_ros2(imu400_bag, tmp_path_factory) -> Path:
    """The 400 Hz IMU bag converted by rosbags to a ROS 2 MCAP bag folder."""
    folder = built_once(tmp_path_factory, "imu400_ros2",
                        lambda f: convert_to_ros2(imu400_bag, f / "mcap", "mcap"))
    return folder / "mcap"


@pytest.fixture(scope="session")
def imu400_replay(imu400_bag, params, tmp_path_factory) -> Replayed:
    """``lnn-control replay`` of the 400 Hz IMU bag (ROS 1) with the IMU policy."""
    from lnn_control.bags.pipeline import replay_to_folder

    folder = built_once(tmp_path_factory, "imu400_replay", lambda f: replay_to_folder(
        imu400_bag, params, f / "out", progress=False))
    return Replayed.load(folder / "out")
