"""Gymnasium envs of the simulation suite; importing this module registers them.

========================================  ====================================================
id                                        env
========================================  ====================================================
``lnn_control/QuadHover-v0``              :class:`~.quad_hover.QuadHoverEnv` (500 steps)
``lnn_control/QuadTarget-v0``             :class:`~.quad_target.QuadTargetEnv` (800 steps)
``lnn_control/ArmReach-v0``               :class:`~.arm_reach.ArmReachEnv` (100 steps)
========================================  ====================================================

Entry points are strings, so no env module (nor MuJoCo) is imported until an env is made.
``gymnasium.make_vec("lnn_control/QuadHover-v0", num_envs=N, vectorization_mode="vector_entry_point")``
gives the batched :class:`~lnn_control.sim.vector.QuadHoverVectorEnv`.
"""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

__all__ = ["ENV_IDS"]

#: registered id -> (entry point, steps per episode)
_ENVS: dict[str, tuple[str, int]] = {
    "lnn_control/QuadHover-v0": ("lnn_control.sim.envs.quad_hover:QuadHoverEnv", 500),
    "lnn_control/QuadTarget-v0": ("lnn_control.sim.envs.quad_target:QuadTargetEnv", 800),
    "lnn_control/ArmReach-v0": ("lnn_control.sim.envs.arm_reach:ArmReachEnv", 100),
}
#: every env id this package registers
ENV_IDS: tuple[str, ...] = tuple(_ENVS)

for _id, (_entry_point, _steps) in _ENVS.items():
    if _id not in registry:
        register(
            id=_id,
            entry_point=_entry_point,
            max_episode_steps=_steps,
            vector_entry_point=(
                "lnn_control.sim.vector:QuadHoverVectorEnv" if _id.endswith("QuadHover-v0") else None
            ),
        )
