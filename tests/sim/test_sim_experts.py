"""The privileged experts: the policy runtime's Controller contract, and >= 98 % success over 100
seeded episodes per env in the nominal scenario (issue 5, acceptance 2).

Success: QuadHover and QuadTarget, within 0.1 m of the goal for the last 1 s of the episode;
ArmReach, the end effector within 0.02 m of the target for the last 0.5 s. The episodes run
without the camera stream, which the experts do not read and which does not change an episode
(test_sim_envs.test_stream_selection_does_not_change_the_episode); ``lnn-control sim eval`` runs
them with every default stream.
"""

from __future__ import annotations

import numpy as np
import pytest

from lnn_control.policy.events import Controller
from lnn_control.sim.envs import ENV_IDS
from lnn_control.sim.experts import make_expert
from lnn_control.sim.rollout import evaluate

NO_CAMERA = {
    "lnn_control/QuadHover-v0": ("imu", "odom", "goal"),
    "lnn_control/QuadTarget-v0": ("imu",),
    "lnn_control/ArmReach-v0": ("joints",),
}


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_expert_succeeds_in_98_of_100_nominal_episodes(env_id: str) -> None:
    result = evaluate(env_id, make_expert(env_id), episodes=100, streams=NO_CAMERA[env_id])
    summary = result.summary()
    assert summary["success_rate"] >= 0.98, summary
    assert summary["crashes"] == 0, summary


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_experts_follow_the_controller_contract(env_id: str) -> None:
    expert = make_expert(env_id)
    assert isinstance(expert, Controller)
    size = 4 if "Quad" in env_id else 6
    idle = expert.command(0)  # before any event: a safe command
    assert idle.shape == (size,) and idle.dtype == np.float32 and np.all(np.abs(idle) <= 1.0)
    expert.on_event("imu", 0, np.zeros(6))  # streams it does not read are ignored
    expert.reset()
    np.testing.assert_array_equal(expert.command(0), idle)
