"""Mid-episode changes (scenario section ``adaptation``, ``config/sim/adaptation_ood.yaml``) and
how the evaluation measures the recovery from them (issue 21, item 4)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import lnn_control.sim.envs  # noqa: F401  (registers the envs)
from lnn_control.errors import ConfigError
from lnn_control.sim.experts import make_expert
from lnn_control.sim.quadrotor import ROTOR_DRAG
from lnn_control.sim.rollout import run_episode
from lnn_control.sim.scenarios import Adaptation, Scenario, load_scenario
from lnn_control.train.evaluation import ScenarioResult, evaluate_episode
from lnn_control.units import NS_PER_S


def _only(change: str) -> Scenario:
    return Scenario(name=f"only_{change}", adaptation=Adaptation(changes=(change,)))


def _flight(scenario: Scenario | str, env_id: str = "lnn_control/QuadHover-v0", seed: int = 3,
            teacher: bool = False) -> tuple[gym.Env, list[tuple[int, np.ndarray, np.ndarray]]]:
    """An episode of the expert: (stamp ns, ground truth, physics) at every control instant."""
    env = gym.make(env_id, scenario=scenario, streams=("joints",) if "Arm" in env_id else None)
    rows: list[tuple[int, np.ndarray, np.ndarray]] = []

    def record(env: gym.Env, observation: object, info: dict) -> None:
        values = {e.stream: e.value for e in info["privileged_events"]}
        rows.append((env.unwrapped.now_ns, values["ground_truth"], values["physics"]))

    run_episode(env, make_expert(env_id, teacher=teacher), seed, on_step=record)
    return env, rows


def test_a_payload_adds_a_quarter_of_the_mass_and_the_episode_is_unchanged_before_it() -> None:
    env, changed = _flight(_only("payload"))
    _, nominal = _flight("nominal")
    change_ns = env.unwrapped.change_ns
    assert env.unwrapped.change == "payload" and 2.0 <= change_ns / NS_PER_S <= 2.5 + 0.01
    body = env.unwrapped.model.body("quad").id
    mass = env.unwrapped.nominal.mass
    assert env.unwrapped.model.body_mass[body] == pytest.approx(1.25 * mass)
    for (stamp, truth, physics), (_, truth_nominal, _) in zip(changed, nominal):
        if stamp <= change_ns:
            np.testing.assert_array_equal(truth, truth_nominal)
            assert physics[0] == mass
        else:
            assert physics[0] == pytest.approx(1.25 * mass)
    assert not np.array_equal(changed[-1][1], nominal[-1][1])


def test_a_wind_step_pushes_with_the_drag_at_its_speed() -> None:
    env, rows = _flight(_only("wind"))
    change_ns = env.unwrapped.change_ns
    for stamp, _, physics in rows:
        force = physics[12:15]
        if stamp <= change_ns:
            np.testing.assert_array_equal(force, 0.0)
        else:  # no gusts: the steady 1.5 m/s times the horizontal drag coefficient
            assert np.linalg.norm(force) == pytest.approx(1.5 * ROTOR_DRAG[0]) and force[2] == 0.0


def test_the_arms_payload_sags_the_expert_and_not_the_teacher() -> None:
    finals = {}
    for teacher in (False, True):
        env, rows = _flight(_only("payload"), "lnn_control/ArmReach-v0", seed=2, teacher=teacher)
        data, links = env.unwrapped.data, env.unwrapped._links
        assert rows[-1][2][12] == 2.0  # the physics stream says 2 kg
        np.testing.assert_allclose(data.xfrc_applied[links[-1], :3], [0.0, 0.0, -2.0 * 9.81], rtol=1e-3)
        position, target = env.unwrapped.task_positions()
        finals[teacher] = float(np.linalg.norm(position - target))
    assert finals[False] > 3e-3 and finals[True] < 1e-3, finals


def test_recovery_is_the_time_until_within_the_radius_for_good() -> None:
    env = gym.make("lnn_control/QuadHover-v0", scenario="adaptation_ood")
    outcome = evaluate_episode(env, make_expert("lnn_control/QuadHover-v0", teacher=True), 4, privileged=True)
    assert outcome.change in ("payload", "wind") and outcome.success
    assert 0.0 < outcome.deviation_m < 0.1 and outcome.recovery_s == 0.0  # the teacher never leaves
    expert = evaluate_episode(env, make_expert("lnn_control/QuadHover-v0"), 4, privileged=True)
    assert expert.deviation_m > 0.1 and 0.0 < expert.recovery_s < 2.0
    summary = ScenarioResult("lnn_control/QuadHover-v0", "adaptation_ood", [outcome, expert]).summary()
    assert summary["adaptation"]["all"]["recovered"] == 2
    assert summary["adaptation"]["all"]["deviation_m_max"] == expert.deviation_m


def test_adaptation_sections_are_checked_and_the_scenario_is_evaluation_only() -> None:
    with pytest.raises(ConfigError, match="unknown change 'earthquake'"):
        Adaptation(changes=("earthquake",))
    with pytest.raises(ConfigError, match="wind_step must be >= 0"):
        Adaptation(wind_step=-1.0)
    scenario = load_scenario("adaptation_ood")
    assert set(scenario.adaptation.changes) == {"payload", "wind"}
    assert load_scenario("nominal").adaptation.changes == ()


def test_the_batched_env_refuses_a_mid_episode_change() -> None:
    from lnn_control.sim.envs.quad_hover_vector import QuadHoverVectorEnv

    with pytest.raises(ConfigError, match="changes the robot mid-episode"):
        QuadHoverVectorEnv(2, scenario="adaptation_ood")
