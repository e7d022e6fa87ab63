"""``lnn-control compare``: cores trained the same way, one table; the shipped comparison's
baselines really are matched in size."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from helpers import ROOT, tiny_config

from lnn_control.cli import main
from lnn_control.config import merge
from lnn_control.errors import ConfigError
from lnn_control.policy import LiquidPolicy, load_checkpoint
from lnn_control.train.compare import load_compare_config, seed_interval
from lnn_control.train.config import load_train_config

SHIPPED = sorted((ROOT / "config" / "compare").glob("*.yaml"))


def _policy(config_path: Path, overrides: dict) -> LiquidPolicy:
    train, base = load_train_config(config_path)
    train.model_overrides = merge(train.model_overrides, overrides)  # as the comparison does
    return LiquidPolicy(train.policy_config(base))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_baselines_match_the_liquid_policy_in_size(path: Path) -> None:
    """Entries are named ``<core>`` or ``<core>_<size>``; in each size the baselines have the
    CfC/NCP's parameter count within 2%, and the sizes differ from each other."""
    compare = load_compare_config(path)
    counts = {name: sum(p.numel() for p in _policy(compare.train, o).parameters())
              for name, o in compare.cores.items()}
    sizes: dict[str, dict[str, int]] = {}
    for name, count in counts.items():
        core = next(c for c in ("cfc_ncp", "ltc_ncp", "lstm", "gru", "mlp") if name == c or name.startswith(c + "_"))
        sizes.setdefault(name[len(core) + 1:], {})[core] = count
    assert {"cfc_ncp", "lstm"} <= set(sizes[""]), counts
    for group in sizes.values():
        for core in set(group) & {"lstm", "gru", "mlp"}:
            assert abs(group[core] - group["cfc_ncp"]) <= 0.02 * group["cfc_ncp"], counts
    liquid = sorted(group["cfc_ncp"] for group in sizes.values())
    assert all(small * 1.5 < large for small, large in zip(liquid, liquid[1:])), counts
    if "ltc_ncp" in counts:  # the LTC keeps the CfC's NCP wiring (its parameters are per synapse)
        assert _policy(compare.train, compare.cores["ltc_ncp"]).config.core.wiring is not None


def test_the_size_plot_has_a_panel_per_scenario_and_a_line_per_core_with_sizes(tmp_path: Path) -> None:
    from lnn_control.train.compare import _markdown, _plot_size, _size_series
    from lnn_control.train.evaluation import wilson_interval

    def row(core: str, parameters: int, nominal: int, physics: int) -> dict:
        return {"core": core, "parameters": parameters, "core_parameters": parameters, "training_time_s": 60.0,
                "scenarios": {name: {"success_rate": k / 100, "ci95": wilson_interval(k, 100), "per_seed": [k / 100]}
                              for name, k in (("nominal", nominal), ("physics_ood", physics))}}

    document = {"env": "test", "train_config": "t.yaml", "cores": {"cfc_ncp": row("cfc", 7800, 100, 95), "cfc_ncp_small": row("cfc", 3300, 99, 80),
                                         "lstm": row("lstm", 7700, 100, 96), "gru": row("gru", 7700, 100, 98)},
                "seeds": {"network": [0], "demonstrations": [1, 2], "dagger": "3 + 1000 r + i", "evaluation": [0, 99]}}
    series = _size_series(document, "physics_ood")
    assert list(series) == ["cfc"]  # one LSTM and one GRU size: no line
    assert [(n, r["success_rate"]) for n, r in series["cfc"]] == [(3300, 0.80), (7800, 0.95)]
    _plot_size(document, tmp_path / "size.png")
    assert (tmp_path / "size.png").stat().st_size > 0
    assert "comparison_size.png" in _markdown(document)
    del document["cores"]["cfc_ncp_small"]
    _plot_size(document, tmp_path / "none.png")
    assert not (tmp_path / "none.png").exists() and "comparison_size.png" not in _markdown(document)


def test_compare_trains_each_core_and_seed_on_ray_and_tables_them(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Each (core, seed) a Ray Tune trial on a local Ray: the table holds what each run folder
    says, the seeds' mean and interval, and a rerun only re-reads."""
    train = tiny_config("quad_hover", tmp_path, dagger={"rounds": 0}, evaluation={"episodes": 2})
    config = tmp_path / "compare.yaml"
    cores = {"cfc_ncp": {}, "gru": {"core": {"type": "gru", "wiring": None, "units": 8}}}
    config.write_text(yaml.safe_dump({"train": train.name, "seeds": [0, 1], "cores": cores}))
    out = tmp_path / "out"
    assert main(["compare", "--config", str(config), "--out", str(out), "--quiet", "--cpus-per-trial", "1"]) == 0
    document = json.loads((out / "comparison.json").read_text())
    assert list(document["cores"]) == ["cfc_ncp", "gru"] and document["seeds"]["network"] == [0, 1]
    weights = {}
    for name, row in document["cores"].items():
        assert set(row["seeds"]) == {"0", "1"}
        rates = []
        for seed, run in row["seeds"].items():
            folder = out / name / f"seed{seed}"
            policy = load_checkpoint(folder / "policy")
            weights[name, seed] = next(iter(policy.core.parameters())).detach().clone()
            assert row["parameters"] == sum(p.numel() for p in policy.parameters())
            assert row["core"] == policy.config.core.type == ("cfc" if name == "cfc_ncp" else "gru")
            assert yaml.safe_load((folder / "run.yaml").read_text())["seed"] == int(seed)
            saved = json.loads((folder / "evaluation.json").read_text())
            assert run["scenarios"]["nominal"]["success_rate"] == saved["scenarios"]["nominal"]["success_rate"]
            assert run["updates"] == saved["update"] and run["attempts"] == 1
            rates.append(saved["scenarios"]["nominal"]["success_rate"])
        nominal = row["scenarios"]["nominal"]
        assert nominal["per_seed"] == rates and nominal["success_rate"] == sum(rates) / 2
        pooled = sum(json.loads((out / name / f"seed{s}" / "evaluation.json").read_text())["scenarios"]["nominal"]["successes"]
                     for s in (0, 1))
        assert nominal["ci95"] == list(seed_interval(rates, pooled, 4))
    assert not torch.equal(weights["cfc_ncp", "0"], weights["cfc_ncp", "1"])  # the seeds differ
    table = (out / "comparison.md").read_text()
    assert "| cfc_ncp |" in table and "| gru |" in table and (out / "comparison.png").stat().st_size > 0
    updates = {n: {s: r["updates"] for s, r in row["seeds"].items()} for n, row in document["cores"].items()}
    assert main(["compare", "--config", str(config), "--out", str(out), "--quiet"]) == 0  # re-read
    again = json.loads((out / "comparison.json").read_text())
    assert {n: {s: r["updates"] for s, r in row["seeds"].items()} for n, row in again["cores"].items()} == updates
    assert all(r["attempts"] == 1 for row in again["cores"].values() for r in row["seeds"].values())

    cores["gru"]["core"]["units"] = 9  # a changed entry must not silently reuse the old run
    config.write_text(yaml.safe_dump({"train": train.name, "seeds": [0, 1], "cores": cores}))
    assert main(["compare", "--config", str(config), "--out", str(out), "--quiet"]) == 2
    assert "holds a run of another config than entry 'gru', seed 0" in capsys.readouterr().err


def test_the_seed_interval_is_the_wider_of_students_t_and_the_pooled_wilson() -> None:
    """Against closed forms: t(0.975, 2) = 4.303 over three rates that differ; three seeds that
    agree: Wilson's interval of their 300 episodes; one seed: its Wilson interval."""
    from lnn_control.train.evaluation import wilson_interval

    low, high = seed_interval([0.80, 0.85, 0.90], 255, 300)
    assert high - 0.85 == pytest.approx(0.85 - low) == pytest.approx(4.303 * 0.05 / 3 ** 0.5)
    assert seed_interval([0.95, 1.0, 1.0], 295, 300)[1] == 1.0  # clipped to a rate
    assert seed_interval([0.99, 0.99, 0.99], 297, 300) == wilson_interval(297, 300)
    assert seed_interval([0.37], 37, 100) == wilson_interval(37, 100)


@pytest.mark.parametrize("data, message", [
    ({"train": "x.yaml"}, "has the keys `train`"),
    ({"train": "x.yaml", "cores": {"a": {}}, "seeds": [0, 0]}, "`seeds` must be a list of distinct"),
    ({"train": "x.yaml", "cores": {"a b": {}}}, "must be letters, digits and _"),
    ({"train": "x.yaml", "cores": {"lstm": 3}}, "must map each entry's name to its model overrides"),
])
def test_bad_comparison_configs_say_what_to_fix(data: dict, message: str, tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=message):
        load_compare_config(path)


def test_cpus_per_trial_replaces_the_workers_and_must_fit_a_local_ray(capsys: pytest.CaptureFixture) -> None:
    """A trial asks Ray for ``--cpus-per-trial`` CPUs, else its episode workers; more than this
    machine has would wait for ever on the local Ray, so it is refused with the fix."""
    import os

    from lnn_control.train.trials import trial_resources

    assert trial_resources({"workers": 2}) == {"cpu": 2}
    assert trial_resources({"workers": 0}) == {"cpu": 1}
    assert trial_resources({"workers": 2}, cpus=1) == {"cpu": 1}
    too_many = os.cpu_count() + 1
    with pytest.raises(ConfigError, match=f"asks for {too_many} CPUs .* --cpus-per-trial {os.cpu_count()}"):
        trial_resources({"workers": 1}, cpus=too_many)
    assert trial_resources({"workers": 1}, cpus=too_many, address="127.0.0.1:6379") == {"cpu": too_many}
    with pytest.raises(SystemExit):
        main(["compare", "--config", "c.yaml", "--out", "o", "--cpus-per-trial", "0"])
    assert "'0' is not a whole number of CPUs >= 1" in capsys.readouterr().err


def test_the_plot_takes_perfect_and_zero_success(tmp_path: Path) -> None:
    """The Wilson lower bound at 0% rounds just above 0: the error bars must still be drawn."""
    from lnn_control.train.compare import _plot
    from lnn_control.train.evaluation import wilson_interval

    rows = {name: {"parameters": 1, "scenarios": {"nominal": {"success_rate": k / 100, "ci95": wilson_interval(k, 100)}}}
            for name, k in (("all", 100), ("none", 0), ("some", 37))}
    _plot({"env": "test", "cores": rows}, tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 0
