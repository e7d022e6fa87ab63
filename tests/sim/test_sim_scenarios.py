"""Scenario YAML: the shipped scenarios say what issue 5 asks, bad input fails with the key named,
and the envs apply the randomisation."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import lnn_control.sim.envs  # noqa: F401  (registers the envs)
from lnn_control.errors import ConfigError
from lnn_control.sim.scenarios import Scenario, VisualRandomisation, available_scenarios, load_scenario


def test_the_four_named_scenarios_ship_and_load() -> None:
    assert {"nominal", "timing_ood", "physics_ood", "visual_ood"} <= set(available_scenarios())
    timing = load_scenario("timing_ood").timing
    assert (timing.rate_scale, timing.jitter, timing.dropout) == ((0.5, 2.0), 0.3, 0.05)
    physics = load_scenario("physics_ood").quadrotor
    assert physics.mass_scale == (0.7, 1.3) and physics.wind_speed[1] > 0 and physics.gust_std > 0
    nominal, visual = load_scenario("nominal").visual, load_scenario("visual_ood").visual
    assert not set(nominal.floor_materials) & set(visual.floor_materials)  # textures never seen
    assert load_scenario("nominal") == Scenario(name="nominal", description=load_scenario("nominal").description)


@pytest.mark.parametrize(
    "text, message",
    [
        ("timing:\n  jiter: 0.3\n", r"unknown key 'timing.jiter'; valid keys here: \['dropout', 'jitter'"),
        ("timing:\n  jitter: 0.9\n", r"timing: jitter must be in \[0, 0.5\]"),
        ("quadrotor:\n  mass_scale: [1.3, 0.7]\n", r"quadrotor: mass_scale must be \[low, high\] with low <= high"),
        ("quadrotor:\n  mass_scale: [0.0, 1.0]\n", r"quadrotor: mass_scale must be > 0.0"),
        ("quadrotor:\n  mass_scale: 1.2\n", r"quadrotor.mass_scale must be a list"),
        ("quadrotor:\n  mass_scale: [1.2]\n", r"quadrotor: mass_scale must be \[low, high\]"),
        ("visual:\n  floor_materials: floor\n", r"visual.floor_materials must be a list"),
        ("wind: 3\n", r"unknown key 'wind'"),
        ("- 1\n- 2\n", r"Scenario must be a mapping"),
        ("timing: [\n", r"not valid plain YAML"),
    ],
)
def test_bad_yaml_names_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as error:
        load_scenario(path)
    assert str(path) in str(error.value)


def test_unknown_scenario_names_the_available_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown scenario 'nominl' \(did you mean 'nominal'\?\).*timing_ood"):
        load_scenario("nominl")


def test_an_env_refuses_a_floor_material_its_scene_lacks() -> None:
    scenario = Scenario(name="bad_floor", visual=VisualRandomisation(floor_materials=("floor_marble",)))
    with pytest.raises(ConfigError, match=r"visual.floor_materials names 'floor_marble'.*floor_checker"):
        gym.make("lnn_control/QuadHover-v0", scenario=scenario)


def test_physics_ood_draws_masses_within_30_percent_and_blows_wind() -> None:
    env = gym.make("lnn_control/QuadHover-v0", scenario="physics_ood")
    unwrapped = env.unwrapped
    masses, pushed = [], 0
    for seed in range(40):
        env.reset(seed=seed)
        masses.append(unwrapped.model.body("quad").mass[0] / unwrapped.nominal.mass)
        env.step(unwrapped.controller.hover_action)
        pushed += bool(np.any(unwrapped.data.xfrc_applied[unwrapped.model.body("quad").id] != 0))
    assert 0.7 <= min(masses) and max(masses) <= 1.3 and np.std(masses) > 0.1
    assert pushed == 40  # gusts blow in every episode


def test_nominal_keeps_the_modelled_airframe() -> None:
    env = gym.make("lnn_control/QuadHover-v0")
    env.reset(seed=0)
    unwrapped = env.unwrapped
    assert unwrapped.model.body("quad").mass[0] == unwrapped.nominal.mass
    env.step(unwrapped.controller.hover_action)
    assert not np.any(unwrapped.data.xfrc_applied)


def test_visual_ood_changes_what_the_camera_sees() -> None:
    images = {}
    for scenario in ("nominal", "visual_ood"):
        env = gym.make("lnn_control/QuadTarget-v0", scenario=scenario)
        observation, _ = env.reset(seed=3)
        images[scenario] = observation["camera"].astype(float)
        floor = env.unwrapped.model.geom("floor").matid[0]
        name = env.unwrapped.model.material(floor).name
        assert name in env.unwrapped.scenario.visual.floor_materials
        env.close()
    assert np.abs(images["nominal"] - images["visual_ood"]).mean() > 10.0  # grey levels of 255
