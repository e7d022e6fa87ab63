"""Training scenarios stay apart from evaluation scenarios (issue 21, item 1).

A training scenario is a file ``config/sim/train_*.yaml``, an evaluation scenario one named
``*_ood``. Their floor pools share no material and no texture (by name, nor by pixels under
another name), every ``physics_ood`` range reaches beyond the training one, ``visual_ood``'s light
and colour ranges reach beyond the training ones, and every training scenario resets and renders
in every env; a training config refuses an evaluation scenario. Nominal's floor is in the training
pool and in ``physics_ood``'s and ``timing_ood``'s (they keep nominal's appearance so that they
shift one thing only), so it counts as nominal's, not as an evaluation pool's.
"""

from __future__ import annotations

import dataclasses
import hashlib

import gymnasium as gym
import mujoco
import numpy as np
import pytest

from lnn_control.config import config_from_dict
from lnn_control.errors import ConfigError
from lnn_control.sim.envs import ENV_IDS
from lnn_control.sim.mjcf import load_scene
from lnn_control.sim.scenarios import TRAINING_PREFIX, Scenario, available_scenarios, evaluation_only, load_scenario
from lnn_control.train.config import EnvConfig, TrainConfig

TRAINING = sorted(name for name in available_scenarios() if name.startswith(TRAINING_PREFIX))
EVALUATION = sorted(name for name in available_scenarios() if evaluation_only(name))
#: the scenes whose floors the scenarios draw from
ROBOTS = ("quadrotor", "arm")


def floor_pool(names: list[str]) -> set[str]:
    """Every floor material the scenarios ``names`` draw from."""
    return {material for name in names for material in load_scenario(name).visual.floor_materials}


def textures(model: mujoco.MjModel, materials: set[str]) -> dict[str, str]:
    """Texture name -> SHA-256 of its pixels, for every texture the ``materials`` use."""
    found = {}
    for material in materials:
        for texture in model.mat_texid[model.material(material).id]:
            if texture >= 0:
                start = model.tex_adr[texture]
                size = model.tex_height[texture] * model.tex_width[texture] * model.tex_nchannel[texture]
                pixels = model.tex_data[start : start + size]
                found[model.texture(texture).name] = hashlib.sha256(pixels).hexdigest()
    return found


def reaches_beyond(evaluation: object, training: object, field: str) -> bool:
    """The evaluation's value of ``field`` covers the training one and reaches past it: a range
    ``[low, high]`` contains the training range and differs from it; a size (gust, jitter) is larger."""
    wide, narrow = getattr(evaluation, field), getattr(training, field)
    if isinstance(wide, tuple):
        return wide[0] <= narrow[0] and narrow[1] <= wide[1] and wide != narrow
    return wide > narrow


def test_the_training_scenarios_ship_and_the_combined_one_is_its_two_parts() -> None:
    assert {"train_physics", "train_visual", "train_randomised"} <= set(TRAINING)
    assert {"timing_ood", "physics_ood", "visual_ood"} <= set(EVALUATION)
    physics, visual, both = (load_scenario(n) for n in ("train_physics", "train_visual", "train_randomised"))
    assert (both.quadrotor, both.arm, both.visual) == (physics.quadrotor, physics.arm, visual.visual)
    nominal = Scenario(name="nominal")
    assert (physics.visual, visual.quadrotor, visual.arm) == (nominal.visual, nominal.quadrotor, nominal.arm)
    for scenario in (physics, visual, both):
        assert (scenario.timing, scenario.imu) == (nominal.timing, nominal.imu)
        assert "TRAINING only" in scenario.description


@pytest.mark.parametrize("robot", ROBOTS)
def test_no_texture_or_material_is_in_both_a_training_and_an_evaluation_pool(robot: str) -> None:
    nominal = floor_pool(["nominal"])
    training = floor_pool(TRAINING)
    evaluation = floor_pool(EVALUATION) - nominal
    assert len(training - nominal) >= 4 and evaluation == floor_pool(["visual_ood"])
    assert not training & evaluation
    model = load_scene(robot)
    trained, evaluated = textures(model, training), textures(model, evaluation)
    assert len(trained) == len(training) and len(evaluated) == len(evaluation)  # one texture each
    assert not set(trained) & set(evaluated)
    assert not set(trained.values()) & set(evaluated.values())  # no copy under another name


@pytest.mark.parametrize("training", TRAINING)
def test_each_physics_ood_range_reaches_beyond_the_training_range(training: str) -> None:
    ood, scenario = load_scenario("physics_ood"), load_scenario(training)
    for section in ("quadrotor", "arm"):
        wide, narrow = getattr(ood, section), getattr(scenario, section)
        ranges = [f.name for f in dataclasses.fields(wide) if isinstance(getattr(wide, f.name), tuple)]
        assert len(ranges) == {"quadrotor": 6, "arm": 2}[section]
        for field in ranges + (["gust_std"] if section == "quadrotor" else []):
            assert reaches_beyond(wide, narrow, field), (section, field)


@pytest.mark.parametrize("training", TRAINING)
def test_each_visual_ood_light_and_colour_range_reaches_beyond_the_training_range(training: str) -> None:
    ood, visual = load_scenario("visual_ood").visual, load_scenario(training).visual
    shared = [f.name for f in dataclasses.fields(visual) if f.name != "floor_materials"]
    assert shared == ["light_diffuse", "headlight_ambient", "light_direction_jitter", "target_rgb_jitter"]
    for field in shared:
        assert reaches_beyond(ood, visual, field), (field, getattr(ood, field), getattr(visual, field))
    # only training moves the image cameras and adds noise
    assert not load_scenario("visual_ood").cameras.randomised


@pytest.mark.parametrize("scenario", TRAINING)
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_every_env_resets_and_renders_in_every_training_scenario(env_id: str, scenario: str) -> None:
    env = gym.make(env_id, scenario=scenario, render_mode="rgb_array", render_size=48)
    observation, _ = env.reset(seed=0)
    frame = env.render()
    assert frame is not None and frame.shape == (48, 48, 3) and frame.std() > 0
    model = env.unwrapped.model
    assert model.material(model.geom("floor").matid[0]).name in load_scenario(scenario).visual.floor_materials
    for value in observation.values():
        assert np.all(np.isfinite(value))
    env.close()


def test_camera_jitter_moves_the_image_cameras_within_its_bounds_and_nominal_none() -> None:
    mounted = load_scene("arm")
    cameras = load_scenario("train_visual").cameras
    for scenario in ("train_visual", "nominal"):
        env = gym.make("lnn_control/ArmReach-v0", scenario=scenario)
        model = env.unwrapped.model
        for seed in range(4):
            env.reset(seed=seed)
            for name in ("workspace", "side"):
                camera, nominal = model.camera(name), mounted.camera(name)
                moved = np.abs(camera.pos - nominal.pos).max()
                turned = 2 * np.arccos(min(1.0, abs(float(camera.quat @ nominal.quat))))
                if scenario == "nominal":
                    assert moved == 0 and np.array_equal(camera.quat, nominal.quat)  # exactly as mounted
                else:
                    assert 0 < moved <= cameras.position_jitter
                    assert 0 < turned <= cameras.angle_jitter + 1e-9
            render = model.camera(env.unwrapped.RENDER_CAMERA)
            assert np.array_equal(render.pos, mounted.camera(env.unwrapped.RENDER_CAMERA).pos)
        env.close()


def test_image_noise_adds_its_standard_deviation_and_nothing_else() -> None:
    """The same seed with and without noise draws the same scene; the frames then differ by the
    rounded, clipped noise alone."""
    noisy = load_scenario("train_visual")
    quiet = dataclasses.replace(noisy, cameras=dataclasses.replace(noisy.cameras, noise_std=0.0))
    frames = []
    for scenario in (noisy, quiet):
        env = gym.make("lnn_control/QuadTarget-v0", scenario=scenario)
        observation, _ = env.reset(seed=2)
        frames.append(observation["camera"].astype(float))
        env.close()
    difference = frames[0] - frames[1]
    assert abs(difference.mean()) < 0.2
    assert difference.std() == pytest.approx(noisy.cameras.noise_std, rel=0.1)


@pytest.mark.parametrize("scenario", ["physics_ood", "config/sim/visual_ood.yaml"])
def test_a_training_config_refuses_an_evaluation_scenario(scenario: str) -> None:
    data = {"env": {"id": "QuadHover-v0", "scenario": scenario}, "model": "x.yaml"}
    with pytest.raises(ConfigError, match=f"env: scenario '{scenario}' is for evaluation only.*train_randomised"):
        config_from_dict(TrainConfig, data)
    for allowed in ["nominal", *TRAINING]:
        assert EnvConfig("QuadHover-v0", allowed).scenario == allowed
