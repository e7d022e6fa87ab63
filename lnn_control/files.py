"""Results written whole or not at all: a hidden staging folder beside the target, moved into
place at the end, with the permissions a plain ``mkdir`` / ``open`` would have given (a
``tempfile`` folder or file is private to its owner, which would keep a checkpoint from the
user a robot's node runs as). And :func:`check_output_path`, which tells before any work
starts whether an output path can be written at all."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal, Optional

from lnn_control.errors import OutputPathError

__all__ = ["OutputKind", "check_output_path", "open_permissions", "output_path_problem",
           "replaced_whole", "staging_folder"]

#: what an output path names: a file to write, or a folder to create or fill
OutputKind = Literal["file", "folder"]


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


def output_path_problem(path: str | os.PathLike[str], kind: OutputKind) -> Optional[str]:
    """Why ``path`` cannot be written as a ``kind`` (``None`` if nothing stands in the way).

    Looks at the file system only and writes nothing: ``path`` itself, if it exists, must be of
    the right kind and writable, and the nearest existing folder above it must be a folder this
    process may write into (not a file, not a broken link; results are staged beside their
    target). Whether an existing output may be replaced is for the command to decide.
    """
    target = Path(path)
    if target.exists():
        if kind == "file" and target.is_dir():
            return f"{target} is a folder, not a file"
        if kind == "folder" and not target.is_dir():
            return f"{target} is a file, not a folder"
        if not os.access(target, os.W_OK | (os.X_OK if kind == "folder" else 0)):
            return f"{target} is not writable by this user"
    elif target.is_symlink():
        return f"{target} is a link to {os.readlink(target)}, which does not exist"
    for folder in target.parents:
        if folder.exists():
            if not folder.is_dir():
                return f"{folder} is a file, not a folder"
            if not os.access(folder, os.W_OK | os.X_OK):
                return f"the folder {folder} is not writable by this user"
            return None
        if folder.is_symlink():
            return f"{folder} is a link to {os.readlink(folder)}, which does not exist"
    return None


def check_output_path(path: str | os.PathLike[str], kind: OutputKind, option: str) -> None:
    """Raise if ``path`` (given with the command-line ``option``) cannot be written as a ``kind``.

    :raises OutputPathError: e.g. ``cannot write out/x.json: out is a file, not a folder;
        choose another --json path``.
    """
    problem = output_path_problem(path, kind)
    if problem is not None:
        raise OutputPathError(f"cannot write {path}: {problem}; choose another {option} path")
