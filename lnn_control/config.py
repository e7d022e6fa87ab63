"""Dataclass configs loaded from YAML and validated on load, with errors that name the key.

``load_config(PolicyConfig, "config/models/x.yaml")`` builds the dataclass tree from plain YAML
data, checking every key: unknown keys, missing keys and wrong types are reported with their full
path (``streams[1].height must be an int, got 'abc'``), and each dataclass's ``__post_init__``
checks values, its :class:`~lnn_control.errors.ConfigError` prefixed with where it happened. A
required field's ``metadata["missing"]`` says what to put there when the key is missing or null.
YAML is read with ``yaml.safe_load``: a config can never construct Python objects.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar, Union

import yaml

from lnn_control.errors import ConfigError

__all__ = ["config_from_dict", "config_to_dict", "load_config", "merge", "read_yaml"]

T = TypeVar("T")


def read_yaml(path: str | os.PathLike[str]) -> Any:
    """Plain data from a YAML file; a clear :class:`ConfigError` if it is missing or malformed."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"config file {str(file)!r} does not exist")
    try:
        return yaml.safe_load(file.read_text())
    except yaml.YAMLError as error:
        raise ConfigError(f"{file} is not valid plain YAML: {error}") from None


def load_config(cls: type[T], path: str | os.PathLike[str]) -> T:
    """Build dataclass ``cls`` from the YAML file at ``path``, validating every key."""
    try:
        return config_from_dict(cls, read_yaml(path))
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None


def merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` merged in: mappings merge key by key, other values replace."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def config_from_dict(cls: type[T], data: Any, where: str = "") -> T:
    """Build dataclass ``cls`` from nested plain data (mappings, lists, scalars)."""
    name = where or cls.__name__
    if not isinstance(data, Mapping):
        raise ConfigError(f"{name} must be a mapping of keys to values, got {_shown(data)}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"unknown key {_join(where, str(unknown[0]))!r}; valid keys here: {sorted(fields)}"
        )
    hints = typing.get_type_hints(cls)
    values = {}
    for key, field in fields.items():
        hint = field.metadata.get("missing")
        if key in data and (data[key] is not None or not hint):
            values[key] = _convert(hints[key], data[key], _join(where, key))
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            path = _join(where, key)
            said = f"key {path!r} is null" if key in data else f"missing key {path!r}"
            raise ConfigError(said + (f": {hint}" if hint else ""))
    try:
        return cls(**values)
    except ConfigError as error:
        raise ConfigError(f"{name}: {error}" if where else str(error)) from None


def config_to_dict(config: Any) -> Any:
    """Plain data (YAML/JSON-safe) of a dataclass tree; inverse of :func:`config_from_dict`."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return {f.name: config_to_dict(getattr(config, f.name))
                for f in dataclasses.fields(config) if f.init}
    if isinstance(config, (list, tuple)):
        return [config_to_dict(item) for item in config]
    if isinstance(config, Mapping):
        return {key: config_to_dict(value) for key, value in config.items()}
    return config


def _convert(kind: Any, value: Any, where: str) -> Any:
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        errors = []
        for option in options:
            try:
                return _convert(option, value, where)
            except ConfigError as error:
                errors.append(str(error))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{where}: {'; or '.join(errors)}")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where} must be one of {list(args)}, got {_shown(value)}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be a list, got {_shown(value)}")
        item = args[0] if args else Any
        items = [_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where} must be a mapping, got {_shown(value)}")
        return {str(k): _convert(args[1], v, f"{where}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(kind):
        return config_from_dict(kind, value, where)
    if kind is Any:
        return value
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {_shown(value)}")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} must be an int, got {_shown(value)}")
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where} must be a number, got {_shown(value)}")
        return float(value)
    if kind is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string, got {_shown(value)}")
        return value
    raise TypeError(f"config type {kind!r} at {where} is not supported")  # a bug in a dataclass


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
