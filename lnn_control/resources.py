"""Where the package's data files are: ``config/`` of the source checkout, or the
``share/lnn_control/config`` that ``pip install`` and ``colcon build`` install."""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["config_dirs", "config_path"]


def config_dirs(relative: str = "") -> list[Path]:
    """The existing folders ``config/<relative>``, in search order: the checkout's, then the
    installed ones under this Python's prefix and under each ``AMENT_PREFIX_PATH`` entry."""
    prefixes = [sys.prefix, *filter(None, os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep))]
    candidates = [Path(__file__).resolve().parents[1] / "config" / relative]
    candidates += [Path(p) / "share" / "lnn_control" / "config" / relative for p in prefixes]
    found: list[Path] = []
    for folder in candidates:
        if folder.is_dir() and folder not in found:
            found.append(folder)
    return found


def config_path(relative: str) -> Path:
    """The first existing ``config/<relative>`` (a file or folder) of :func:`config_dirs`; the
    checkout's path when there is none, so that an error names where it was looked for."""
    parent, name = os.path.split(relative)
    for folder in config_dirs(parent):
        if (folder / name).exists():
            return folder / name
    return Path(__file__).resolve().parents[1] / "config" / relative
