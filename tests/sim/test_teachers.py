"""The privileged ``physics`` stream and the teachers that read it (issue 21, item 2).

The stream is checked against the MuJoCo model it describes; the teachers against the nominal
experts on the same ``physics_ood`` episodes, and the flight controller's inverse against its
forward map.
"""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np
import pytest

import lnn_control.sim.envs  # noqa: F401  (registers the envs)
from lnn_control.config import config_from_dict, read_yaml
from lnn_control.errors import ConfigError
from lnn_control.policy.config import PolicyConfig
from lnn_control.resources import config_dirs
from lnn_control.sim.experts import EXPERTS, TEACHERS, make_expert
from lnn_control.sim.mjcf import load_scene
from lnn_control.sim.quadrotor import QuadrotorParams, RateController, read_physics
from lnn_control.sim.rollout import evaluate, run_episode
from lnn_control.train.rollouts import env_spec_for


def _physics(info: dict) -> np.ndarray:
    return next(e.value for e in info["privileged_events"] if e.stream == "physics")


def test_quadrotor_physics_is_the_models_airframe_and_the_applied_wind() -> None:
    env = gym.make("lnn_control/QuadHover-v0", scenario="physics_ood")
    _, info = env.reset(seed=5)
    model, data = env.unwrapped.model, env.unwrapped.data
    body = model.body("quad").id
    airframe, drag, wind = read_physics(_physics(info), env.unwrapped.nominal)
    assert airframe.mass == model.body_mass[body] and airframe.mass != env.unwrapped.nominal.mass
    np.testing.assert_array_equal(airframe.inertia, model.body_inertia[body])
    np.testing.assert_array_equal(airframe.rotor_max_thrust, model.actuator_gainprm[:, 0])
    np.testing.assert_array_equal(airframe.motor_tau, model.actuator_dynprm[0, 0])
    np.testing.assert_array_equal(drag, model.dof_damping[0:3])
    np.testing.assert_array_equal(wind, 0.0)  # nothing has blown yet
    for _ in range(3):
        _, _, _, _, info = env.step(env.action_space.sample() * 0.0)
        _, _, wind = read_physics(_physics(info), env.unwrapped.nominal)
        np.testing.assert_array_equal(wind, data.xfrc_applied[body, :3])  # the force that acted
        assert np.linalg.norm(wind) > 0


def test_quad_target_physics_ends_with_the_autopilots_integral() -> None:
    env = gym.make("lnn_control/QuadTarget-v0", scenario="physics_ood", streams=("imu",))
    env.reset(seed=2)
    for _ in range(20):
        _, _, _, _, info = env.step(np.array([1.0, 0.0, 0.0, 0.0], dtype=np.float32))
    integral = _physics(info)[15:]
    np.testing.assert_array_equal(integral, env.unwrapped.autopilot.integral)
    assert np.linalg.norm(integral) > 0


def test_arm_physics_is_the_links_the_servos_and_no_payload() -> None:
    env = gym.make("lnn_control/ArmReach-v0", scenario="physics_ood", streams=("joints",))
    _, info = env.reset(seed=1)
    model = env.unwrapped.model
    physics = _physics(info)
    links = [model.body(name).id for name in
             ("shoulder_link", "upper_arm_link", "forearm_link", "wrist_1_link", "wrist_2_link", "wrist_3_link")]
    np.testing.assert_array_equal(physics[:6], model.body_mass[links])
    np.testing.assert_array_equal(physics[6:12], model.actuator_gainprm[:, 0])
    assert physics[12] == 0.0
    nominal = load_scene("arm")
    assert not np.allclose(physics[6:12], nominal.actuator_gainprm[:, 0])  # physics_ood drew them


def test_a_policy_cannot_declare_a_privileged_stream() -> None:
    data = read_yaml(config_dirs("models")[0] / "quad_hover_cfc.yaml")
    data["streams"].append({"name": "physics", "kind": "vector", "size": 15})
    config = config_from_dict(PolicyConfig, data)
    with pytest.raises(ConfigError, match="stream 'physics' is privileged"):
        env_spec_for("lnn_control/QuadHover-v0", "train_physics", config).make()


def test_action_for_inverts_the_flight_controllers_motor_commands() -> None:
    nominal = QuadrotorParams.from_model(load_scene("quadrotor"))
    rng = np.random.default_rng(0)
    for params in (nominal, dataclasses.replace(nominal, mass=0.03, rotor_max_thrust=np.array([0.14, 0.15, 0.16, 0.13]))):
        controller = RateController(params)
        action, rates = rng.uniform(-1, 1, (50, 4)), rng.uniform(-5, 5, (50, 3))
        commands = controller.motor_commands(action, rates)
        np.testing.assert_allclose(controller.action_for(commands, rates), action, atol=1e-12)


@pytest.mark.parametrize("env_id", list(TEACHERS))
def test_every_env_has_a_teacher_with_the_experts_options(env_id: str) -> None:
    teacher, expert = make_expert(env_id, teacher=True), make_expert(env_id)
    assert type(expert).__name__ == EXPERTS[env_id].split(":")[1]
    assert isinstance(teacher, type(expert))  # the expert, told more
    assert teacher.actions == expert.actions
    with pytest.raises(ConfigError, match="has no option 'gain'"):
        make_expert(env_id, {"gain": 1.0}, teacher=True)


#: the teacher's options in the QuadHover student's training config (a position integral)
STUDENT_TEACHER = read_yaml(config_dirs("train")[0] / "quad_hover_teacher.yaml")["expert"]


@pytest.fixture(scope="module")
def quad_hover_expert_physics_ood() -> float:
    """The nominal-belief QuadHover expert's success rate on the first 10 physics_ood seeds."""
    env_id = "lnn_control/QuadHover-v0"
    return evaluate(env_id, make_expert(env_id), 10, "physics_ood").summary()["success_rate"]


@pytest.mark.parametrize("options", [{}, STUDENT_TEACHER], ids=["default", "student_config"])
def test_the_quad_hover_teacher_holds_physics_ood_episodes_the_expert_loses(
    options: dict, quad_hover_expert_physics_ood: float
) -> None:
    """The first 10 physics_ood seeds: the nominal-belief expert loses most, the teacher none,
    with its default options and with those its student is trained with."""
    env_id = "lnn_control/QuadHover-v0"
    expert = quad_hover_expert_physics_ood
    teacher = evaluate(env_id, make_expert(env_id, options, teacher=True), 10, "physics_ood").summary()["success_rate"]
    assert teacher == 1.0 and expert <= 0.5, (expert, teacher)


def test_the_quad_target_teacher_holds_more_physics_ood_episodes_than_the_expert() -> None:
    """Seeds 0..19 of physics_ood (measured: expert 11, teacher 15); strong wind still beats both."""
    env_id = "lnn_control/QuadTarget-v0"
    rates = [
        evaluate(env_id, make_expert(env_id, teacher=teacher), 20, "physics_ood", streams=("attitude", "imu"))
        .summary()["success_rate"]
        for teacher in (False, True)
    ]
    assert rates[1] >= rates[0] + 0.15, rates


@pytest.mark.parametrize("max_tilt, held", [(0.5, False), (0.8, True)])
def test_the_quad_target_teacher_loses_strong_wind_seeds_to_the_autopilots_tilt_limit(
    max_tilt: float, held: bool
) -> None:
    """The physics_ood seeds below 40 that the teacher loses in a 1.7-1.9 m/s wind (1, 7, 13, 19,
    34) it loses at the autopilot's 0.5 rad tilt limit and holds, every one, when the same
    autopilot (the env's and the teacher's model of it) may tilt 0.8 rad (about PX4's default 45
    deg): the velocity mode's tilt limit, not the teacher, loses them (docs/results.md)."""
    env_id = "lnn_control/QuadTarget-v0"
    env = gym.make(env_id, scenario="physics_ood", streams=("attitude", "imu"))
    env.unwrapped.autopilot.max_tilt = max_tilt
    outcomes = []
    for seed in (1, 7, 13, 19, 34):
        teacher = make_expert(env_id, teacher=True)
        teacher._autopilot.max_tilt = max_tilt
        outcomes.append(run_episode(env, teacher, seed).success)
    env.close()
    assert outcomes == [held] * 5, outcomes
