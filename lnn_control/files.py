"""Results written whole or not at all: a hidden staging folder beside the target, moved into
place at the end, with the permissions a plain ``mkdir`` / ``open`` would have given (a
``tempfile`` folder or file is private to its owner, which would keep a checkpoint from the
user a robot's node runs as)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["open_permissions", "replaced_whole", "staging_folder"]


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def staging_folder(target: Path, tag: str = "") -> Path:
    """A new, empty hidden folder beside ``target`` (``.<name>.<tag>XXXX``), permissions as
    ``mkdir`` gives under the process's umask."""
    target.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f".{target.name}.{tag}", dir=target.parent))
    folder.chmod(0o777 & ~_umask())
    return folder


def open_permissions(path: Path) -> None:
    """Give ``path`` (a file, or a folder and everything in it) the permissions ``open`` and
    ``mkdir`` give under the process's umask."""
    mask = _umask()
    for item in [path, *path.rglob("*")] if path.is_dir() else [path]:
        item.chmod((0o777 if item.is_dir() else 0o666) & ~mask)


@contextmanager
def replaced_whole(target: Path) -> Iterator[Path]:
    """Yield a staging folder beside ``target`` to write into; when the block ends normally it
    gets umask permissions and replaces ``target`` (an existing one is removed first). Whatever
    happens, no half-written folder is left behind."""
    staging = staging_folder(target)
    try:
        yield staging
        open_permissions(staging)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
