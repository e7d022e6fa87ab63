"""Experts as policies: a privileged expert with a policy config, commanding in physical units.

:func:`quad_hover_expert` is a controller factory for the policy node's ``controller``
parameter (``lnn_control.sim.experts.as_policy:quad_hover_expert``): the SE(3) expert then flies
a simulated or real quadrotor through ROS from ground-truth odometry and a goal, publishing the
same physical commands (collective thrust N, body rates rad/s) a learned policy publishes.
"""

from __future__ import annotations

import numpy as np

from lnn_control.policy.config import ActionSpec, ControlConfig, CoreConfig, PolicyConfig, StreamSpec
from lnn_control.policy.events import Controller
from lnn_control.sim.actions import to_command
from lnn_control.sim.envs.quadrotor_env import quadrotor_actions
from lnn_control.sim.experts.se3 import GeometricController
from lnn_control.sim.mjcf import load_scene
from lnn_control.sim.quadrotor import QuadrotorParams

__all__ = ["PhysicalCommands", "quad_hover_expert"]


class PhysicalCommands:
    """A controller whose normalised env actions are turned into physical commands.

    :param expert: any controller producing actions in [-1, 1].
    :param spec: the env's action spec (units and limits of the commands).
    """

    def __init__(self, expert: Controller, spec: ActionSpec) -> None:
        self.expert, self.spec = expert, spec

    def reset(self) -> None:
        self.expert.reset()

    def on_event(self, stream: str, stamp_ns: int, value: np.ndarray) -> None:
        self.expert.on_event(stream, stamp_ns, value)

    def command(self, stamp_ns: int) -> np.ndarray:
        return to_command(self.spec, self.expert.command(stamp_ns))


def quad_hover_expert() -> tuple[Controller, PolicyConfig]:
    """The SE(3) expert for the nominal Crazyflie, stepped by ``ground_truth`` odometry and aimed
    at a ``goal`` position (vector (3,), m)."""
    params = QuadrotorParams.from_model(load_scene("quadrotor"))
    actions = quadrotor_actions(params)
    config = PolicyConfig(
        streams=[StreamSpec("ground_truth", "odometry"), StreamSpec("goal", "vector", size=3)],
        core=CoreConfig(),
        actions=actions,
        control=ControlConfig(mode="stream", stream="ground_truth", nominal_dt_s=0.01),
    )
    return PhysicalCommands(GeometricController(params), actions), config
