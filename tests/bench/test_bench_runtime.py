"""Smoke test of ``lnn-control bench runtime`` (compiled engine left to the benchmark itself)."""

import json

from lnn_control.cli import main


def test_bench_runtime_runs_and_reports_every_case(tmp_path, capsys):
    out = tmp_path / "runtime.json"
    args = ["bench", "runtime", "--events", "5000", "--frames", "40", "--engines", "torch,onnx",
            "--json", str(out)]
    assert main(args) == 0
    rows = json.loads(out.read_text())["rows"]
    cases = {(r["case"], r["engine"]) for r in rows}
    for core in ("CFC", "LTC"):
        for engine in ("ncps per event", "torch", "onnx"):
            assert (f"IMU event, {core}/NCP IMU-only", engine) in cases
    assert sum(r["case"].startswith("camera event") for r in rows) == 4
    assert all(r["p99_us"] >= r["median_us"] > 0 and r["calls"] >= 40 for r in rows)
    assert "sensor event -> command" in capsys.readouterr().out


def test_bench_runtime_refuses_too_few_events(capsys):
    assert main(["bench", "runtime", "--events", "100"]) == 2
    assert "at least 5000" in capsys.readouterr().err
