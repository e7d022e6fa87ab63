"""Smoke test of ``lnn-control bench train``: it times plain and augmented updates of a camera
recipe and writes its JSON. Speed is judged by the benchmark itself, never by a test."""

import json

import pytest

from lnn_control.cli import main


def test_bench_train_times_plain_and_augmented_updates_of_a_camera_recipe(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "train", "--configs", "quad_target_teacher", "--updates", "5", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    (row,) = result["recipes"]
    assert row["recipe"] == "quad_target_teacher" and row["lanes"] == 32 and row["chunk_steps"] == 100
    assert row["frames_per_batch"] > 0 and row["plain_ms"] > 0 and row["augmentation_ms"] > 0
    assert row["ratio"] == pytest.approx(row["augmented_ms"] / row["plain_ms"])
    assert row["met"] == (row["ratio"] <= result["target"])
    assert "behaviour-cloning update of a camera policy" in capsys.readouterr().out


def test_a_recipe_without_augmentation_is_refused_naming_it(tmp_path, capsys):
    assert main(["bench", "train", "--configs", "quad_hover", "--json", str(tmp_path / "b.json")]) != 0
    assert "config/train/quad_hover.yaml has no augmentation section" in capsys.readouterr().err
    assert not (tmp_path / "b.json").exists()
