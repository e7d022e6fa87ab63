"""``lnn-control demo`` end to end with a tiny training budget: training, the closed loop through
the ROS 2 node processes over DDS, the replay and the report. (``make demo`` runs the full one.)
The policy barely trained, so its flight is not judged here; the plumbing is: every stage ran,
the report's numbers come from the recorded bag, and the replay reproduces the live commands."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lnn_control.bags.reader import open_bag
from lnn_control.demo import run_demo
from lnn_control.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]

TINY = """
env: {{id: lnn_control/QuadHover-v0, scenario: nominal}}
model: {model}
expert: {{integral_pole: 0.0}}
workers: 1
demonstrations: {{episodes: 4, first_seed: 100000}}
bc: {{max_epochs: 1, patience: 0}}
dagger: {{rounds: 0}}
evaluation: {{episodes: 2, scenarios: [nominal]}}
"""


@pytest.fixture
def tiny_config(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY.format(model=ROOT / "config" / "models" / "quad_hover_cfc.yaml"))
    return path


def test_the_demo_trains_flies_through_ros_replays_and_reports(tmp_path, tiny_config):
    folder = run_demo(tmp_path / "demo", tiny_config, episodes=2, seed=1000, engine="onnx")
    summary = json.loads((folder / "summary.json").read_text())
    episodes = summary["closed_loop"]["episodes"]
    assert len(episodes) == 2
    # the report's numbers are the bag's: ground truth episodes and IMU/command counts
    with open_bag(summary["closed_loop"]["bag"]) as bag:
        topics = bag.topics
    latency = summary["latency"]
    assert latency["imu_messages"] == topics["/imu/data"].count
    assert latency["commands"] + latency["other_commands"] == topics["/lnn_control/command"].count
    assert latency["imu_without_command"] <= 2  # every IMU message steps the network
    assert 0 < latency["median_ms"] <= latency["p99_ms"] < 1000
    assert topics["/sim/episode"].count == 2
    for episode in episodes:  # distances are physical: the start box is metres across
        assert 0 < episode["start_distance_m"] < 10
    # replay equals live, every command computed from a sensor message compared
    replay = summary["replay"]
    assert replay["equal"] and replay["compared"] == latency["commands"]
    report = (folder / "report.md").read_text()
    assert "Hover success: " in report and "IMU-to-command latency" in report
    for plot in ("tracking.png", "trajectory.png", "latency.png"):
        assert (folder / plot).stat().st_size > 10_000


def test_the_demo_never_writes_over_a_folder(tmp_path, tiny_config):
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "results.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty"):
        run_demo(tmp_path / "demo", tiny_config)
    assert (tmp_path / "demo" / "results.txt").read_text() == "mine"


def test_the_cli_names_a_bad_argument():
    done = subprocess.run([sys.executable, "-m", "lnn_control.cli", "demo", "--episodes", "0"],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode != 0 and "--episodes must be >= 1" in done.stderr
