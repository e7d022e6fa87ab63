"""Experts as policies: a privileged expert with a policy config, for the policy node.

:func:`quad_hover_expert` is a controller factory for the policy node's ``controller``
parameter (``lnn_control.sim.experts.as_policy:quad_hover_expert``): the SE(3) expert then flies
a simulated or real quadrotor through ROS from ground-truth odometry and a goal, publishing the
same physical commands (collective thrust N, body rates rad/s) a learned policy publishes.
"""

from __future__ import annotations

from lnn_control.policy.config import ControlConfig, CoreConfig, PolicyConfig, StreamSpec
from lnn_control.policy.events import Controller
from lnn_control.sim.experts.se3 import GeometricController
from lnn_control.sim.mjcf import load_scene
from lnn_control.sim.quadrotor import QuadrotorParams

__all__ = ["quad_hover_expert"]


def quad_hover_expert() -> tuple[Controller, PolicyConfig]:
    """The SE(3) expert for the nominal Crazyflie, stepped by ``ground_truth`` odometry and aimed
    at a ``goal`` position (vector (3,), m)."""
    expert = GeometricController(QuadrotorParams.from_model(load_scene("quadrotor")))
    config = PolicyConfig(
        streams=[StreamSpec("ground_truth", "odometry"), StreamSpec("goal", "vector", size=3)],
        core=CoreConfig(),
        actions=expert.actions,
        control=ControlConfig(mode="stream", stream="ground_truth", nominal_dt_s=0.01),
    )
    return expert, config
