"""Progress of the long work (reading, replaying, writing a bag, preparing the engine), shown with
``rich``; silent when no ``Progress`` is given."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Optional

from rich.progress import Progress

__all__ = ["EVERY", "stage", "ticker"]

#: loops report their progress once per this many items (keeps the cost off the hot loop)
EVERY = 2048


def ticker(progress: Optional[Progress], description: str, total: int) -> Callable[[int], None]:
    """A function ``done(count)`` that moves a new task of ``progress`` to ``count`` of ``total``
    items. Call it every :data:`EVERY` items and once at the end."""
    if progress is None:
        return lambda count: None
    task = progress.add_task(description, total=total)
    return lambda count: progress.update(task, completed=count)


@contextmanager
def stage(progress: Optional[Progress], description: str) -> Iterator[None]:
    """Show ``description`` with a spinner while the block runs (work of unknown length)."""
    if progress is None:
        yield
        return
    task = progress.add_task(description, total=None)
    try:
        yield
    finally:
        progress.update(task, total=1, completed=1)
