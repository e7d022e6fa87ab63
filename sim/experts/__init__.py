"""Privileged expert controllers with the policy runtime's contract (``reset``/``on_event``/``command``).

They read privileged streams (``ground_truth``, ``goal``) as events, so the same object can drive
the simulated envs, the ROS nodes (given those topics) and label DAgger data.

=============================  ====================================================================
env id                         expert
=============================  ====================================================================
``lnn_control/QuadHover-v0``   :class:`~.se3.GeometricController` (Lee, Leok, McClamroch 2010)
``lnn_control/QuadTarget-v0``  :class:`~.target_search.TargetSearch` (velocity set-points, search)
``lnn_control/ArmReach-v0``    :class:`~.dls_ik.DampedLeastSquaresIK`
=============================  ====================================================================
"""

from __future__ import annotations

import importlib

from lnn_control.errors import ConfigError
from lnn_control.policy.events import Controller

__all__ = ["EXPERTS", "make_expert"]

#: env id -> "module:Class" of its expert
EXPERTS: dict[str, str] = {
    "lnn_control/QuadHover-v0": "lnn_control.sim.experts.se3:GeometricController",
    "lnn_control/QuadTarget-v0": "lnn_control.sim.experts.target_search:TargetSearch",
    "lnn_control/ArmReach-v0": "lnn_control.sim.experts.dls_ik:DampedLeastSquaresIK",
}


def make_expert(env_id: str) -> Controller:
    """A fresh expert for ``env_id`` (with its default gains)."""
    if env_id not in EXPERTS:
        raise ConfigError(f"no expert for env {env_id!r}: experts exist for {', '.join(EXPERTS)}")
    module, name = EXPERTS[env_id].split(":")
    expert: Controller = getattr(importlib.import_module(module), name)()
    return expert
