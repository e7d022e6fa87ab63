"""Smoke test of ``lnn-control bench rl``: it runs every measurement on a small batch and writes
its JSON. Speed is judged by the benchmark itself, never by a test."""

import json

from lnn_control.cli import main


def test_bench_rl_measures_collection_and_updates_beside_the_raw_env(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "rl", "--num-envs", "16", "--seconds", "0.2", "--threads", "1", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    paths = {row["path"]: row for row in result["rows"]}
    assert set(paths) == {"per_env", "raw_vector", "batched_blocks", "collection", "update"}
    assert all(row.get("steps_per_s", row.get("transitions_per_s")) > 0 for row in result["rows"])
    assert paths["collection"]["ratio_to_raw"] == paths["collection"]["steps_per_s"] / paths["raw_vector"]["steps_per_s"]
    assert result["target_steps_per_s"] == 20_000 and isinstance(result["met"], bool)
    assert "collection with the policy" in capsys.readouterr().out
