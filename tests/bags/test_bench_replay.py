"""Smoke test of ``lnn-control bench replay`` with a tiny budget. Speed is judged by the
benchmark itself, never by a test."""

import json

from lnn_control.cli import main


def test_bench_replay_runs_and_reports_every_case(tmp_path, imu400_bag, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "replay", "--bags", str(imu400_bag), "--engines", "torch",
                 "--repeats", "1", "--skip-output", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    cases = [(r["case"], r["engine"]) for r in result["rows"]]
    assert cases == [("rosbags read (reference)", None), ("runtime alone (reference)", "torch"),
                     ("replay", "torch")]
    assert all(r["messages"] == 3520 and r["per_s"] > 0 for r in result["rows"])
    replay = result["rows"][-1]
    assert replay["target_per_s"] == 20_000 and isinstance(replay["met"], bool)
    assert replay["vs_read"] == result["rows"][0]["seconds"] / replay["seconds"]
    assert "IMU messages replayed per second" in capsys.readouterr().out


def test_bench_replay_refuses_an_unknown_engine(capsys):
    assert main(["bench", "replay", "--engines", "tensorrt"]) == 2
    assert "--engines takes" in capsys.readouterr().err
