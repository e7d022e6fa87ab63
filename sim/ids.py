"""The env ids of the simulation suite and the short names users may type for them.

One resolution for every command and parameter file (``lnn-control sim``, ``evaluate``,
``record``, training and RL configs, ``sim_node``'s ``env``): ``QuadHover-v0`` and
``lnn_control/QuadHover-v0`` name the same env. Imports nothing heavy: the envs themselves
register with Gymnasium in :mod:`lnn_control.sim.envs` (a test checks that the two lists agree).
"""

from __future__ import annotations

from lnn_control.errors import ConfigError

__all__ = ["ENV_IDS", "SHORT_NAMES", "env_id"]

#: the namespace of every registered id
NAMESPACE = "lnn_control"
#: every env id this package registers
ENV_IDS: tuple[str, ...] = (
    "lnn_control/QuadHover-v0",
    "lnn_control/QuadTarget-v0",
    "lnn_control/ArmReach-v0",
)
#: the ids without their namespace, as accepted by :func:`env_id`
SHORT_NAMES: tuple[str, ...] = tuple(full.split("/", 1)[1] for full in ENV_IDS)


def env_id(name: str) -> str:
    """The registered id for ``name``, a full id (``lnn_control/QuadHover-v0``) or a short name
    (``QuadHover-v0``).

    :raises ConfigError: ``name`` is neither, with the names that are.
    """
    full = name if name.startswith(f"{NAMESPACE}/") else f"{NAMESPACE}/{name}"
    if full not in ENV_IDS:
        raise ConfigError(f"unknown env {name!r}: choose one of {', '.join(ENV_IDS)} "
                          f"(or the short name: {', '.join(SHORT_NAMES)})")
    return full
