"""Privileged expert controllers with the policy runtime's contract (``reset``/``on_event``/``command``).

They read privileged streams (``ground_truth``, ``goal``) as events and command in physical units,
those of their ``actions`` (the env's :meth:`~lnn_control.sim.envs.base.SensorEnv.action_spec`), as
the policy runtime does; so the same object can drive the simulated envs (whose ``to_action``
turns a command into the env's normalised action), the ROS nodes (given those topics) and label
DAgger data.

=============================  ====================================================================
env id                         expert
=============================  ====================================================================
``lnn_control/QuadHover-v0``   :class:`~.se3.GeometricController` (Lee, Leok, McClamroch 2010)
``lnn_control/QuadTarget-v0``  :class:`~.target_search.TargetSearch` (velocity set-points, search)
``lnn_control/ArmReach-v0``    :class:`~.dls_ik.DampedLeastSquaresIK`
=============================  ====================================================================

:data:`AUXILIARY_LABELS` names, per env, a function of the privileged state ``(ground_truth,
goal) -> (M,)`` whose values a policy's auxiliary heads learn to predict in simulation (QuadTarget:
where the target is in the camera's view, :func:`~.target_search.target_view`; ArmReach: where it
is in each of the two images, :func:`lnn_control.sim.envs.arm_reach.target_in_views`).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any, Optional

import numpy as np

from lnn_control.errors import ConfigError
from lnn_control.policy.events import Controller

__all__ = ["AUXILIARY_LABELS", "EXPERTS", "auxiliary_labels", "make_expert"]

#: env id -> "module:Class" of its expert
EXPERTS: dict[str, str] = {
    "lnn_control/QuadHover-v0": "lnn_control.sim.experts.se3:GeometricController",
    "lnn_control/QuadTarget-v0": "lnn_control.sim.experts.target_search:TargetSearch",
    "lnn_control/ArmReach-v0": "lnn_control.sim.experts.dls_ik:DampedLeastSquaresIK",
}


#: env id -> "module:function" of its auxiliary labels, ``(ground_truth, goal) -> (M,)``
AUXILIARY_LABELS: dict[str, str] = {
    "lnn_control/QuadTarget-v0": "lnn_control.sim.experts.target_search:target_view",
    "lnn_control/ArmReach-v0": "lnn_control.sim.envs.arm_reach:target_in_views",
}


def _load(path: str) -> object:
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


def make_expert(env_id: str, options: Optional[dict[str, Any]] = None) -> Controller:
    """A fresh expert for ``env_id``, built with ``options`` as keyword arguments of its class
    (its gains; default: none, the class's defaults).

    :raises ConfigError: no expert for ``env_id``, or an option its class does not have (named).
    """
    if env_id not in EXPERTS:
        raise ConfigError(f"no expert for env {env_id!r}: experts exist for {', '.join(EXPERTS)}")
    cls: Any = _load(EXPERTS[env_id])
    known = [p for p in inspect.signature(cls).parameters if p != "params"]
    unknown = sorted(set(options or {}) - set(known))
    if unknown:
        raise ConfigError(f"expert: {cls.__name__} has no option {unknown[0]!r}; its options are {known}")
    expert: Controller = cls(**(options or {}))
    return expert


def auxiliary_labels(env_id: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The auxiliary-label function of ``env_id`` (see :data:`AUXILIARY_LABELS`)."""
    if env_id not in AUXILIARY_LABELS:
        raise ConfigError(
            f"env {env_id!r} has no auxiliary labels (only {', '.join(AUXILIARY_LABELS)}): "
            "remove the policy's auxiliary head (auxiliary: 0 on its image stream)"
        )
    labels: Callable[[np.ndarray, np.ndarray], np.ndarray] = _load(AUXILIARY_LABELS[env_id])  # type: ignore[assignment]
    return labels
