"""Smoke test of ``lnn-control bench liquid``: it runs, writes its JSON, and every deployable path
computes what ncps computes. Speed is judged by the benchmark itself, never by a test."""

import json

from lnn_control.cli import main


def test_bench_liquid_runs_and_every_path_agrees_with_ncps(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "liquid", "--steps", "2000", "--iterations", "1", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    paths = {(r["model"], r["path"]) for r in result["single_step"]}
    for kind in ("LTC", "CfC"):
        for path in ("ncps cell (eager)", "ours eager", "ours TorchScript", "ours ONNX Runtime",
                     "ours AOTInductor"):
            assert (kind, path) in paths
    assert all(r["max_abs_diff_vs_ncps"] <= 1e-5 for r in result["single_step"] if r["model"] != "LSTM")
    assert all(r["p99_us"] >= r["median_us"] > 0 for r in result["single_step"])
    assert {t["target"].split(" ")[0] for t in result["targets"]} == {"LTC", "CfC"}
    assert len(result["training"]) == 6 and result["machine"]["torch_threads"] == 1
    assert "targets" in capsys.readouterr().out
