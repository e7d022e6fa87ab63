"""``lnn-control sweep``: Optuna's sampler on Ray Tune over a training config's keys; each trial a
training run whose config holds the sampled values; a rerun continues, it does not start over."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from helpers import tiny_config

from lnn_control.cli import main
from lnn_control.config import read_yaml
from lnn_control.errors import ConfigError
from lnn_control.train.sweep import load_sweep_config

SPACE = {"optim.learning_rate": {"loguniform": [0.001, 0.01]}, "dagger.budget.max_updates": {"int": [1, 3]}}


def _sweep_config(tmp_path: Path, **keys) -> Path:
    train = tiny_config("quad_hover", tmp_path, evaluation={"episodes": 2})
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({"train": train.name, "space": SPACE, "metric": "nominal", "trials": 2,
                                    "concurrent": 1, "seed": 3, **keys}))
    return path


def test_a_sweep_trains_each_sampled_config_and_names_the_best(tmp_path: Path) -> None:
    config = _sweep_config(tmp_path)
    out = tmp_path / "out"
    assert main(["sweep", "--config", str(config), "--out", str(out), "--quiet"]) == 0
    document = json.loads((out / "sweep.json").read_text())
    assert len(document["trials"]) == 2
    for trial in document["trials"]:
        run = read_yaml(out / "trials" / trial["trial"] / "run.yaml")
        assert run["optim"]["learning_rate"] == trial["values"]["optim.learning_rate"]
        assert run["dagger"]["budget"]["max_updates"] == trial["values"]["dagger.budget.max_updates"] in (1, 2, 3)
        assert 0.001 <= trial["values"]["optim.learning_rate"] <= 0.01
        saved = json.loads((out / "trials" / trial["trial"] / "evaluation.json").read_text())
        assert trial["success_rate"] == saved["scenarios"]["nominal"]["success_rate"]
        assert trial["updates"] == saved["update"]
    ranked = [(-t["success_rate"], t["validation_loss"]) for t in document["trials"]]
    assert ranked == sorted(ranked)
    best = yaml.safe_load((out / "best.yaml").read_text())
    assert best == read_yaml(out / "trials" / document["trials"][0]["trial"] / "run.yaml")
    assert "| trial |" in (out / "sweep.md").read_text()

    # a rerun continues the same sweep: the same trials, none trained again
    assert main(["sweep", "--config", str(config), "--out", str(out), "--quiet"]) == 0
    again = json.loads((out / "sweep.json").read_text())
    assert [t["trial"] for t in again["trials"]] == [t["trial"] for t in document["trials"]]
    assert sorted(p.name for p in (out / "trials").iterdir()) == sorted(t["trial"] for t in document["trials"])

    # the sampler's seed fixes what it proposes (one trial at a time)
    other = tmp_path / "other"
    assert main(["sweep", "--config", str(config), "--out", str(other), "--quiet"]) == 0
    values = [t["values"] for t in json.loads((other / "sweep.json").read_text())["trials"]]
    assert sorted(map(str, values)) == sorted(str(t["values"]) for t in document["trials"])


@pytest.mark.parametrize("keys, message", [
    ({"space": {"optim.learning_rate": {"normal": [0, 1]}}}, "must be one of"),
    ({"space": {"optim.learning_rate": {"uniform": [0.1, 0.01]}}}, "low < high"),
    ({"space": {"optim.nonsense": {"uniform": [0.1, 0.2]}}}, "nonsense"),
    ({"metric": "visual_ood"}, "is not among the evaluation's scenarios"),
    ({"trials": 0}, "`trials` must be an integer >= 1"),
])
def test_bad_sweep_configs_say_what_to_fix(tmp_path: Path, keys: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_sweep_config(_sweep_config(tmp_path, **keys))


def test_the_shipped_sweeps_load() -> None:
    """Loading builds and checks a trial's whole training config (it raises on any bad key)."""
    from helpers import ROOT

    paths = sorted((ROOT / "config" / "sweep").glob("*.yaml"))
    assert paths
    for path in paths:
        load_sweep_config(path)
