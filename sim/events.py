"""The sensor events of one control step, as the env hands them out, and feeding them to a controller."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Sequence
from typing import overload

import numpy as np

from lnn_control.policy.events import Controller, SensorEvent

__all__ = ["EventBatch", "feed"]


class EventBatch(Sequence[SensorEvent]):
    """An immutable sequence of :class:`SensorEvent` in stamp order (ties keep their given order).

    Equality compares stream, stamp and value (``np.array_equal``), so two batches from the same
    seeded episode compare equal; a tuple of events cannot, as ``==`` on arrays is elementwise.

    :param events: the events, already in stamp order.
    """

    __slots__ = ("_events",)

    def __init__(self, events: Iterable[SensorEvent] = ()) -> None:
        self._events: tuple[SensorEvent, ...] = tuple(events)

    def __len__(self) -> int:
        return len(self._events)

    @overload
    def __getitem__(self, index: int) -> SensorEvent: ...

    @overload
    def __getitem__(self, index: slice) -> EventBatch: ...

    def __getitem__(self, index: int | slice) -> SensorEvent | EventBatch:
        if isinstance(index, slice):
            return EventBatch(self._events[index])
        return self._events[index]

    def __iter__(self) -> Iterator[SensorEvent]:
        return iter(self._events)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EventBatch):
            return NotImplemented
        return len(self) == len(other) and all(
            a.stream == b.stream and a.stamp_ns == b.stamp_ns and np.array_equal(a.value, b.value)
            for a, b in zip(self._events, other._events)
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        inner = ", ".join(f"{e.stream}@{e.stamp_ns}" for e in self._events)
        return f"EventBatch([{inner}])"


def feed(controller: Controller, *batches: Iterable[SensorEvent]) -> None:
    """Give ``controller`` every event of ``batches`` (each in stamp order), merged in stamp order.

    Use it to drive an expert with a step's sensor and privileged events together:
    ``feed(expert, info["sensor_events"], info["privileged_events"])``.
    """
    for event in heapq.merge(*batches, key=lambda e: e.stamp_ns):
        controller.on_event(event.stream, event.stamp_ns, event.value)
