"""Offscreen rendering that works on a machine without a display.

MuJoCo picks its OpenGL backend once, when ``mujoco`` is first imported: ``MUJOCO_GL`` if set,
else GLFW, which needs a display. ``lnn_control.sim`` sets ``MUJOCO_GL=egl`` by default, but a
program (or a test session) may have imported ``mujoco`` before it. :func:`offscreen_renderer`
then switches MuJoCo to EGL itself when there is no display and no backend was chosen.
"""

from __future__ import annotations

import importlib
import os

import mujoco

from lnn_control.sim.errors import SimulationError

__all__ = ["offscreen_renderer"]


def _headless_backend() -> None:
    from mujoco.rendering.classic import gl_context

    chosen = getattr(gl_context, "_MUJOCO_GL", "")
    if chosen == "" and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ["MUJOCO_GL"] = "egl"
        importlib.reload(gl_context)  # the Renderer reads gl_context.GLContext when it is made


def offscreen_renderer(model: mujoco.MjModel, width: int, height: int) -> mujoco.Renderer:
    """A :class:`mujoco.Renderer` of ``width`` x ``height`` pixels for ``model``.

    :raises SimulationError: no OpenGL backend could make a context (with what to set).
    """
    _headless_backend()
    try:
        return mujoco.Renderer(model, height=height, width=width)
    except (mujoco.FatalError, ImportError, RuntimeError) as error:
        raise SimulationError(
            f"cannot create an OpenGL context for offscreen rendering ({error}); on a machine "
            "without a display set MUJOCO_GL=egl (or osmesa) before starting Python"
        ) from error
