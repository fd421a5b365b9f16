"""Loading the device's configuration file, and its printable (redacted) form."""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any, get_type_hints

from agent.common.settings_reader import Context
from agent.common.settings_values import ConfigError
from agent.common.settings_yaml import load_yaml_file
from agent.config.link import redact_gateway
from agent.config.settings import Settings

# --- public API ---------------------------------------------------------------


def load_config(path: str | os.PathLike[str]) -> Settings:
    """Read, parse and validate a YAML configuration file.

    Raises :class:`ConfigError` (one line, exit code 78) for any problem.
    Relative paths inside are taken relative to the file's directory.
    """
    data = load_yaml_file(path)
    base_dir = os.path.dirname(os.path.abspath(os.fspath(path)))
    return parse_config(data, os.fspath(path), base_dir=base_dir)


def parse_config(
    data: Mapping[str, Any] | None,
    source: str,
    *,
    base_dir: str | os.PathLike[str] | None = None,
) -> Settings:
    """Validate already-parsed data; ``source`` names it in errors.

    Relative paths are taken relative to ``base_dir`` (default: the current directory).
    """
    ctx = Context(source, Path(base_dir) if base_dir is not None else Path.cwd(), known_keys())
    if data is None:  # an empty file: only gateway.url is missing
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(
            source,
            None,
            "expected a mapping of sections (gateway, audio, wake, ...) at the top level, "
            f"got {'a list' if isinstance(data, list) else 'a ' + type(data).__name__}",
        )
    # Imported here: agent.config.parse builds the dataclasses defined above.
    from agent.config.parse import parse_settings

    return parse_settings(data, ctx)


def load_or_exit(path: str | os.PathLike[str]) -> Settings:
    """:func:`load_config`, or print the one-line error to stderr and exit with 78."""
    try:
        return load_config(path)
    except ConfigError as err:
        print(err, file=sys.stderr)
        sys.exit(err.exit_code)


def redact(settings: Settings) -> dict[str, Any]:
    """The settings as plain data (dicts, lists, scalars) with every secret replaced by ``***``.

    Secrets: auth.token and auth.api_key, URL passwords, and the values of
    headers, query parameters and option keys whose names mark a secret
    (authorization, cookie, or containing token/key/secret/password/auth).
    Token and key *files* are shown by path; their contents are never read here.
    """
    data = _lists(dataclasses.asdict(settings))
    data["gateway"] = redact_gateway(data["gateway"])
    return data


def _lists(value: Any) -> Any:
    # asdict keeps tuples; YAML's safe dumper and JSON want lists.
    if isinstance(value, dict):
        return {k: _lists(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_lists(v) for v in value]
    return value


@cache
def known_keys() -> tuple[str, ...]:
    """Every dotted key of the schema (``gateway.auth.token``, ``wake.models``, ...)."""
    out: list[str] = []

    def walk(cls: type, prefix: str) -> None:
        hints = get_type_hints(cls)
        for f in dataclasses.fields(cls):
            key = f"{prefix}{f.name}"
            out.append(key)
            nested = [
                t for t in getattr(hints[f.name], "__args__", ()) if dataclasses.is_dataclass(t)
            ]
            target = hints[f.name] if dataclasses.is_dataclass(hints[f.name]) else None
            for t in [target, *nested]:
                if isinstance(t, type):
                    walk(t, key + ".")

    walk(Settings, "")
    return tuple(out)
