"""Smoke test of ``lnn-control bench load``: the camera + IMU node beside a relay and beside a
hog, over loopback DDS, a short run."""

import json
import os

from lnn_control.bench.load import cpu_seconds
from lnn_control.cli import main


def test_cpu_seconds_reads_this_process_time():
    """/proc's user + system time agrees with what the kernel tells the process itself."""
    spent = os.times()
    assert abs(cpu_seconds(os.getpid()) - (spent.user + spent.system)) < 0.05


def test_bench_load_measures_node_relay_and_hog(tmp_path, capsys):
    out = tmp_path / "load.json"
    args = ["bench", "load", "--engines", "native", "--cpu-seconds", "2", "--load-seconds", "2",
            "--hogs", "1", "--json", str(out)]
    assert main(args) == 0
    result = json.loads(out.read_text())
    relay, node = result["cpu_rows"]
    assert relay["process"] == "bare relay" and node["process"] == "policy_node (native)"
    assert node["relay_cpu_percent"] == relay["cpu_percent"]
    for row in result["cpu_rows"] + result["load_rows"]:
        assert 0 < row["cpu_percent"] < 100 * (os.cpu_count() or 1)
        assert row["sent"] > 0 and 0.0 <= row["answered"] <= 1.0
    # the node answers (nearly) every IMU message of the camera + IMU stream on a quiet machine,
    # and reports its clock resets on /diagnostics
    quiet, loaded = result["load_rows"]
    assert (quiet["hogs"], loaded["hogs"]) == (0, 1)
    assert quiet["answered"] >= 0.9 and quiet["clock_resets"] == 0
    assert "Beside a CPU hog" in capsys.readouterr().out
