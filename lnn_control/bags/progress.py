"""Progress of the long loops (reading, replaying, writing a bag), shown with ``rich``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Optional

from rich.progress import Progress

__all__ = ["EVERY", "ticker"]

#: loops report their progress once per this many items (keeps the cost off the hot loop)
EVERY = 2048


def ticker(progress: Optional[Progress], description: str, total: int) -> Callable[[int], None]:
    """A function ``done(count)`` that moves a new task of ``progress`` to ``count`` of ``total``
    items; it does nothing when ``progress`` is ``None``. Call it every :data:`EVERY` items and
    once at the end."""
    if progress is None:
        return lambda count: None
    task = progress.add_task(description, total=total)
    return lambda count: progress.update(task, completed=count)
