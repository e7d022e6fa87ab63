"""The MJCF scenes shipped with the package: where they are, loading them, MuJoCo's warnings.

One ``scene.xml`` per robot under ``models/<robot>/`` includes the robot's own file, as MuJoCo
Menagerie lays models out.
"""

from __future__ import annotations

from pathlib import Path

import mujoco

from lnn_control.sim.errors import SimulationError

__all__ = ["MODELS_DIR", "ROBOTS", "check_warnings", "load_scene", "scene_path", "warning_counts"]

#: folder of the MJCF files (installed with the package)
MODELS_DIR = Path(__file__).resolve().parent / "models"
#: robots that have a scene: name -> folder under :data:`MODELS_DIR`
ROBOTS: tuple[str, ...] = ("quadrotor", "arm")


def scene_path(robot: str) -> Path:
    """Path of ``models/<robot>/scene.xml``; raises :class:`SimulationError` for an unknown robot."""
    if robot not in ROBOTS:
        raise SimulationError(f"unknown robot {robot!r}: the scenes are {', '.join(ROBOTS)}")
    return MODELS_DIR / robot / "scene.xml"


def load_scene(robot: str) -> mujoco.MjModel:
    """Compile ``models/<robot>/scene.xml`` into a fresh :class:`mujoco.MjModel`."""
    path = scene_path(robot)
    try:
        return mujoco.MjModel.from_xml_path(str(path))
    except ValueError as error:
        raise SimulationError(f"{path}: MuJoCo could not compile the scene: {error}") from error


def warning_counts(data: mujoco.MjData) -> dict[str, int]:
    """MuJoCo warnings raised so far in ``data``: warning name (``mjWARN_...``) -> count, non-zero only."""
    return {
        name: int(data.warning[int(warning)].number)
        for name, warning in mujoco.mjtWarning.__members__.items()
        if name != "mjNWARNING" and data.warning[int(warning)].number > 0
    }


def check_warnings(data: mujoco.MjData, what: str) -> None:
    """Raise :class:`SimulationError` naming ``what`` if MuJoCo raised any warning in ``data``."""
    counts = warning_counts(data)
    if counts:
        found = ", ".join(f"{name} x{count}" for name, count in counts.items())
        raise SimulationError(
            f"{what}: MuJoCo warned ({found}) at t={data.time:.4f} s; the simulation is unstable or "
            "ill-posed: check the model's time step, masses and actuator limits"
        )
