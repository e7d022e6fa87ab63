"""The ROS 2 package itself: package.xml, colcon builds it, the CLI, one-way dependencies."""

import configparser
import importlib.metadata
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import lnn_control
from lnn_control.cli import main

ROOT = Path(__file__).resolve().parents[1]
MESSAGE_PACKAGES = {
    "rclpy", "std_msgs", "sensor_msgs", "geometry_msgs", "nav_msgs", "trajectory_msgs",
    "lifecycle_msgs", "diagnostic_msgs", "builtin_interfaces",
}


def test_package_xml_declares_an_ament_python_package():
    root = ET.parse(ROOT / "package.xml").getroot()
    assert root.tag == "package" and root.get("format") == "3"
    assert root.findtext("name") == "lnn_control"
    assert root.find("export/build_type").text == "ament_python"
    assert MESSAGE_PACKAGES <= {e.text for e in root.findall("exec_depend")}


def test_one_version_everywhere():
    version = ET.parse(ROOT / "package.xml").getroot().findtext("version")
    assert version == lnn_control.__version__ == importlib.metadata.version("lnn_control")


def test_setup_cfg_puts_scripts_where_ros2_run_looks():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    assert config["develop"]["script_dir"] == "$base/lib/lnn_control"
    assert config["install"]["install_scripts"] == "$base/lib/lnn_control"


def tracked_tree(destination: Path) -> None:
    """Copy the files git would commit (tracked, or untracked but not ignored)."""
    listing = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout.split()
    for name in listing:
        if (ROOT / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, destination / name)


def colcon_build(workspace: Path, *options: str) -> subprocess.CompletedProcess:
    tracked_tree(workspace / "src" / "lnn_control")
    colcon = Path(sys.executable).parent / "colcon"
    command = [str(colcon), "build", "--base-paths", "src", "--build-base", "build",
               "--install-base", "install", *options]
    return subprocess.run(command, cwd=workspace, capture_output=True, text=True, timeout=300)


def test_colcon_builds_and_installs_the_package(tmp_path):
    result = colcon_build(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    source = tmp_path / "src" / "lnn_control"

    prefix = tmp_path / "install" / "lnn_control"
    assert (prefix / "share/ament_index/resource_index/packages/lnn_control").is_file()
    assert (prefix / "share/lnn_control/package.xml").is_file()
    for pattern in ("launch/*.launch.py", "config/**/*.yaml"):
        for path in source.glob(pattern):
            assert (prefix / "share/lnn_control" / path.relative_to(source)).exists(), path
    script = prefix / "lib/lnn_control/lnn-control"
    assert script.is_file()
    site = next(prefix.glob("lib/python3*/site-packages"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(source)])}
    run = subprocess.run([sys.executable, str(script), "--help"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0 and "bench" in run.stdout, run.stderr
    where = subprocess.run(
        [sys.executable, "-c", "import lnn_control.sim, lnn_control.bench as b; print(b.__file__)"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert where.returncode == 0, where.stderr
    assert str(tmp_path) in where.stdout  # the built copy, not the checkout under test


def test_colcon_symlink_install_is_refused_with_the_alternatives(tmp_path):
    result = colcon_build(tmp_path, "--symlink-install")
    assert result.returncode != 0
    assert "`colcon build --symlink-install` is not supported" in result.stderr
    assert "pip install -e ." in result.stderr


def test_cli_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0
    assert "bench" in capsys.readouterr().out


def test_cli_user_error_gets_a_message_and_exit_code_2(capsys):
    assert main(["bench", "liquid", "--steps", "10", "--json", "unused.json"]) == 2
    assert "--steps must be at least 2000" in capsys.readouterr().err


def run_python(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_importing_the_package_and_cli_stays_light():
    loaded = run_python("import sys, lnn_control, lnn_control.cli; "
                        "print(sorted(m for m in ('torch', 'rclpy', 'mujoco') if m in sys.modules))")
    assert loaded == "[]"


def test_core_layers_never_import_ros_or_simulation():
    loaded = run_python(
        "import sys, lnn_control.liquid, lnn_control.policy, lnn_control.policy.engines.export; "
        "print(sorted(m for m in ('rclpy', 'mujoco', 'gymnasium', 'stable_baselines3') "
        "if m in sys.modules))"
    )
    assert loaded == "[]"
