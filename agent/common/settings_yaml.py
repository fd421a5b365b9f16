"""A strict YAML loader for settings files: duplicate keys, odd tags and anchors refused."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from agent.common.settings_values import ConfigError, describe

# --- YAML ---------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans and no duplicate keys.

    YAML 1.1 reads ``yes``, ``no``, ``on`` and ``off`` as booleans (so a query
    parameter ``language: no`` would become ``False``). Here only true/false are
    booleans; ``yes`` stays a string and is then refused where a bool belongs.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[str] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                if key_node.value in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key_node.value!r}", key_node.start_mark
                    )
                seen.add(key_node.value)
        return super().construct_mapping(node, deep)


_DROPPED_TAGS = ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")
_StrictLoader.yaml_implicit_resolvers = {
    # Dates stay text too: no key takes a date, and a bad one ("2024-13-01")
    # would fail inside the constructor rather than as a YAML error.
    first: [(tag, rx) for tag, rx in resolvers if tag not in _DROPPED_TAGS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def load_yaml_file(path: str | os.PathLike[str]) -> Any:
    """Read and parse a YAML file; every failure becomes a one-line :class:`ConfigError`."""
    source = os.fspath(path)
    try:
        raw = Path(source).read_bytes()
    except FileNotFoundError:
        raise ConfigError(source, None, "cannot read the configuration: no such file") from None
    except IsADirectoryError:
        raise ConfigError(
            source, None, "cannot read the configuration: it is a directory"
        ) from None
    except PermissionError:
        raise ConfigError(
            source, None, "cannot read the configuration: permission denied"
        ) from None
    except OSError as exc:
        raise ConfigError(source, None, f"cannot read the configuration: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            source, None, f"not UTF-8 text (bad byte at offset {exc.start})"
        ) from None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(source, None, f"{where}invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(source, None, f"invalid YAML: {exc}") from None
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        # Explicit tags such as !!timestamp or !!int with a bad value.
        raise ConfigError(source, None, f"invalid YAML value: {exc}") from None


class NotPlain(Exception):
    """A value that is not plain data, and where it is."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(message)
        self.where = where
        self.message = message


def plain(value: Any, where: str, depth: int = 0) -> Any:
    """A deep copy made of dicts, lists and JSON scalars (these maps are sent as JSON).

    Copying also means settings never alias the parsed YAML. Refuses YAML-only
    values (dates, binary) and anchors that refer to themselves.
    """
    if depth > 50:
        raise NotPlain(where, "expected data nested at most 50 levels deep")
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise NotPlain(f"{where}.{k}", f"expected a key name, got {describe(k)}")
            out[k] = plain(v, f"{where}.{k}", depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [plain(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]
    if isinstance(value, float) and not math.isfinite(value):
        raise NotPlain(where, f"expected a finite number, got {describe(value)}")
    if value is None or isinstance(value, str | int | float):
        return value
    raise NotPlain(
        where,
        f"expected text, a number, true/false, null, a list or a mapping, got {describe(value)}",
    )
