"""Nested plain data (as :meth:`lnn_control.policy.messages.commands.CommandMessages.build` and
:func:`lnn_control.policy.messages.building.stream_message` return it) to a message object of a
``rosbags`` typestore, ready to serialize."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from rosbags.interfaces import Nodetype
from rosbags.typesys.store import Typestore

__all__ = ["build_message"]

#: numpy dtype of each ROS base type stored in arrays and sequences
DTYPES = {"bool": np.bool_, "byte": np.uint8, "char": np.uint8, "int8": np.int8,
          "uint8": np.uint8, "int16": np.int16, "uint16": np.uint16, "int32": np.int32,
          "uint32": np.uint32, "int64": np.int64, "uint64": np.uint64, "float32": np.float32,
          "float64": np.float64}


def build_message(typestore: Typestore, msgtype: str, data: Mapping[str, Any]) -> Any:
    """The ``msgtype`` object of ``typestore`` holding ``data`` (a mapping of every field;
    nested messages as mappings, numeric arrays as sequences of numbers).

    :raises KeyError: a field of ``msgtype`` is missing from ``data``.
    """
    _, fields = typestore.fielddefs[msgtype]
    missing = [name for name, _ in fields if name not in data]
    if missing:
        raise KeyError(f"{msgtype} data lacks the fields {missing}")
    values = {name: _field(typestore, desc, data[name]) for name, desc in fields}
    return typestore.types[msgtype](**values)


def _field(typestore: Typestore, desc: tuple[Any, Any], value: Any) -> Any:
    kind, detail = desc
    if kind == Nodetype.BASE:
        return value
    if kind == Nodetype.NAME:
        return build_message(typestore, detail, value)
    (inner_kind, inner_detail), _ = detail  # ARRAY or SEQUENCE: (element, length)
    if inner_kind == Nodetype.BASE and inner_detail[0] in DTYPES:
        if isinstance(value, (bytes, bytearray)):  # image data, as rclpy takes it
            return np.frombuffer(value, dtype=DTYPES[inner_detail[0]])
        return np.asarray(value, dtype=DTYPES[inner_detail[0]])
    return [_field(typestore, (inner_kind, inner_detail), item) for item in value]
