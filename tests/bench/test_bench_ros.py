"""Smoke test of ``lnn-control bench ros``: four processes over loopback DDS, a short run."""

import json

from lnn_control.cli import main


def test_bench_ros_alternates_blocks_between_relay_and_node(tmp_path, capsys):
    out = tmp_path / "ros.json"
    args = ["bench", "ros", "--rates", "200", "--seconds", "1", "--block", "0.25", "--json", str(out)]
    assert main(args) == 0
    rows = {r["node"]: r for r in json.loads(out.read_text())["rows"]}
    assert set(rows) == {"bare relay", "policy_node (native)"}
    for row in rows.values():
        # 1 s of 200 Hz IMU to each node, in four blocks of 50 messages
        assert row["sent"] == 200 and len(row["block_medians_us"]) == 4
        # best effort on loopback at 200 Hz: a command for (nearly) every IMU message
        assert row["delivered"] >= 0.95
        assert 0 < row["median_us"] <= row["p99_us"] < 1e6
    node = rows["policy_node (native)"]
    assert node["added_us"] == node["median_us"] - rows["bare relay"]["median_us"]
    assert "IMU stamp -> command arrival" in capsys.readouterr().out
