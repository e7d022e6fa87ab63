"""Gymnasium envs of the simulation suite; importing this module registers them.

========================================  ====================================================
id                                        env
========================================  ====================================================
``lnn_control/QuadHover-v0``              :class:`~.quad_hover.QuadHoverEnv` (500 steps);
                                          batched: :class:`~.quad_hover_vector.QuadHoverVectorEnv`
``lnn_control/QuadTarget-v0``             :class:`~.quad_target.QuadTargetEnv` (800 steps)
``lnn_control/ArmReach-v0``               :class:`~.arm_reach.ArmReachEnv` (100 steps)
========================================  ====================================================

Entry points are strings, so no env module (nor MuJoCo) is imported until an env is made.
An env with a batched class gives it to
``gymnasium.make_vec(id, num_envs=N, vectorization_mode="vector_entry_point")``.
"""

from __future__ import annotations

from typing import NamedTuple

from gymnasium.envs.registration import register, registry

__all__ = ["ENV_IDS"]


class _Registration(NamedTuple):
    """How one env id is registered."""

    #: ``"module:Class"`` of the single env
    entry_point: str
    #: ``"module:Class"`` of its batched :class:`gymnasium.vector.VectorEnv`, or ``None``
    vector_entry_point: str | None
    #: steps per episode (the time limit)
    max_episode_steps: int


#: registered id -> registration
_ENVS: dict[str, _Registration] = {
    "lnn_control/QuadHover-v0": _Registration(
        "lnn_control.sim.envs.quad_hover:QuadHoverEnv",
        "lnn_control.sim.envs.quad_hover_vector:QuadHoverVectorEnv",
        500,
    ),
    "lnn_control/QuadTarget-v0": _Registration("lnn_control.sim.envs.quad_target:QuadTargetEnv", None, 800),
    "lnn_control/ArmReach-v0": _Registration("lnn_control.sim.envs.arm_reach:ArmReachEnv", None, 100),
}
#: every env id this package registers
ENV_IDS: tuple[str, ...] = tuple(_ENVS)

for _id, _registration in _ENVS.items():
    if _id not in registry:
        register(id=_id, **_registration._asdict())
