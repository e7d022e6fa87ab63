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

:data:`TEACHERS` names each env's privileged teacher (:mod:`~.teachers`): the expert told the
episode's hidden physics (the privileged ``physics`` stream), which it compensates for.

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

__all__ = ["AUXILIARY_LABELS", "EXPERTS", "TEACHERS", "auxiliary_labels", "make_expert"]

#: env id -> "module:Class" of its expert
EXPERTS: dict[str, str] = {
    "lnn_control/QuadHover-v0": "lnn_control.sim.experts.se3:GeometricController",
    "lnn_control/QuadTarget-v0": "lnn_control.sim.experts.target_search:TargetSearch",
    "lnn_control/ArmReach-v0": "lnn_control.sim.experts.dls_ik:DampedLeastSquaresIK",
}

#: env id -> "module:Class" of its privileged teacher
TEACHERS: dict[str, str] = {
    "lnn_control/QuadHover-v0": "lnn_control.sim.experts.teachers:AirframeTeacher",
    "lnn_control/QuadTarget-v0": "lnn_control.sim.experts.teachers:TargetTeacher",
    "lnn_control/ArmReach-v0": "lnn_control.sim.experts.teachers:PayloadTeacher",
}

#: env id -> "module:function" of its auxiliary labels, ``(ground_truth, goal) -> (M,)``
AUXILIARY_LABELS: dict[str, str] = {
    "lnn_control/QuadTarget-v0": "lnn_control.sim.experts.target_search:target_view",
    "lnn_control/ArmReach-v0": "lnn_control.sim.envs.arm_reach:target_in_views",
}


def _load(path: str) -> object:
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


def make_expert(env_id: str, options: Optional[dict[str, Any]] = None, teacher: bool = False) -> Controller:
    """A fresh expert for ``env_id`` (its privileged teacher if ``teacher``), built with ``options``
    as keyword arguments of its class (its gains; default: none, the class's defaults).

    :raises ConfigError: no expert for ``env_id``, or an option its class does not have (named).
    """
    table = TEACHERS if teacher else EXPERTS
    if env_id not in table:
        raise ConfigError(f"no expert for env {env_id!r}: experts exist for {', '.join(table)}")
    cls: Any = _load(table[env_id])
    known = _options(cls)
    unknown = sorted(set(options or {}) - set(known))
    if unknown:
        raise ConfigError(f"expert: {cls.__name__} has no option {unknown[0]!r}; its options are {known}")
    expert: Controller = cls(**(options or {}))
    return expert


def _options(cls: type) -> list[str]:
    """The keyword options of ``cls``: its constructor's, and those its ``**options`` pass on to
    the base classes' constructors (``params`` is not an option)."""
    known: list[str] = []
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        parameters = list(inspect.signature(klass.__init__).parameters.values())[1:]
        known += [p.name for p in parameters if p.kind is p.POSITIONAL_OR_KEYWORD and p.name not in known]
        if not any(p.kind is p.VAR_KEYWORD for p in parameters):
            break
    return [name for name in known if name != "params"]


def auxiliary_labels(env_id: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The auxiliary-label function of ``env_id`` (see :data:`AUXILIARY_LABELS`)."""
    if env_id not in AUXILIARY_LABELS:
        raise ConfigError(
            f"env {env_id!r} has no auxiliary labels (only {', '.join(AUXILIARY_LABELS)}): "
            "remove the policy's auxiliary head (auxiliary: 0 on its image stream)"
        )
    labels: Callable[[np.ndarray, np.ndarray], np.ndarray] = _load(AUXILIARY_LABELS[env_id])  # type: ignore[assignment]
    return labels
