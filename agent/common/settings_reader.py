"""Validation helpers for :mod:`agent.config`: YAML loading, typed readers, redaction rules.

Everything here turns bad input into one :class:`ConfigError` line naming the
file, the dotted key, what was expected and what was given. Nothing here knows
the configuration's sections; :mod:`agent.config` describes those.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, cast

from agent.common.settings_values import (
    _HEADER_NAME,
    MISSING,
    ConfigError,
    check_number,
    describe,
    file_problem,
    is_secret_name,
    range_text,
)
from agent.common.settings_yaml import NotPlain, plain

# --- typed readers ------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """Where the data came from: the name used in errors and the base for relative paths."""

    source: str
    base_dir: Path
    known_keys: tuple[str, ...]
    """Every dotted key of the schema, for suggesting where a misplaced key belongs."""


class Reader:
    """Reads one mapping of the configuration, reporting errors under its dotted path.

    Unknown keys are refused on construction (with the closest known key as a
    suggestion), so a typo never silently falls back to a default.
    """

    def __init__(self, data: Any, path: str, ctx: Context, known: Iterable[str]) -> None:
        self.prefix = path
        self.ctx = ctx
        if data is None:  # a section written with nothing under it: all defaults
            data = {}
        if not isinstance(data, Mapping):
            self.fail_at(path, f"expected a mapping, got {describe(data)}")
        self.data: Mapping[Any, Any] = data
        known = list(known)
        for key in data:
            if not isinstance(key, str):
                self.fail_at(self.key(str(key)), f"expected a key name, got {describe(key)}")
            if key not in known:
                self.fail_at(self.key(key), "unknown key" + self._suggest(key, known))

    def _suggest(self, key: str, known: list[str]) -> str:
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        if close:
            return f"; did you mean {self.key(close[0])}?"
        # Maybe it belongs in another section (e.g. `threshold` at the top level).
        leaves = {k.rsplit(".", 1)[-1]: k for k in reversed(self.ctx.known_keys)}
        close = difflib.get_close_matches(key, list(leaves), n=1, cutoff=0.8)
        if close:
            return f"; did you mean {leaves[close[0]]}?"
        return f"; known keys here: {', '.join(known)}"

    def key(self, name: str) -> str:
        """The dotted key of ``name`` in this mapping."""
        return f"{self.prefix}.{name}" if self.prefix else name

    def fail_at(self, key: str, message: str) -> NoReturn:
        """Raise a :class:`ConfigError` for the dotted ``key``."""
        raise ConfigError(self.ctx.source, key, message)

    def fail(self, name: str, message: str) -> NoReturn:
        """Raise a :class:`ConfigError` for ``name`` in this mapping."""
        self.fail_at(self.key(name), message)

    def raw(self, name: str) -> Any:
        """The value as written, or :data:`MISSING`."""
        return self.data.get(name, MISSING)

    def given(self, name: str) -> bool:
        """True when ``name`` is present and not null."""
        return self.raw(name) not in (MISSING, None)

    def sub(self, name: str, known: Iterable[str]) -> Reader:
        """A reader for the nested mapping ``name`` (absent or null: empty)."""
        value = self.raw(name)
        return Reader(None if value is MISSING else value, self.key(name), self.ctx, known)

    def boolean(self, name: str, default: bool) -> bool:
        """A true/false value (strings such as ``"yes"`` are refused)."""
        value = self.raw(name)
        if value is MISSING:
            return default
        if not isinstance(value, bool):
            self.fail(name, f"expected true or false, got {describe(value)}")
        return value

    def number(
        self,
        name: str,
        default: float | None,
        *,
        lo: float | None = None,
        hi: float | None = None,
        lo_open: bool = False,
        optional: bool = False,
        what: str = "a number",
    ) -> float | None:
        """A finite int or float within ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``)."""
        value = self.raw(name)
        if value is MISSING:
            return default
        if value is None and optional:
            return None
        return check_number(
            value,
            lambda msg: self.fail(name, msg),
            lo=lo,
            hi=hi,
            lo_open=lo_open,
            optional=optional,
            what=what,
        )

    def duration(self, name: str, default: float) -> float:
        """A positive finite number of seconds."""
        value = self.number(name, default, lo=0, lo_open=True, what="a duration in seconds")
        assert value is not None
        return value

    def integer(
        self,
        name: str,
        default: int | None,
        *,
        lo: int | None = None,
        hi: int | None = None,
        optional: bool = False,
        what: str = "a whole number",
    ) -> int | None:
        """An int (not a bool, not a float) within ``[lo, hi]``."""
        value = self.raw(name)
        if value is MISSING:
            return default
        if value is None and optional:
            return None
        expected = what + range_text(lo, hi) + (" or null" if optional else "")
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(name, f"expected {expected}, got {describe(value)}")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            self.fail(name, f"expected {expected}, got {value}")
        return value

    def choice(self, name: str, default: str, choices: Iterable[str]) -> str:
        """One of a fixed set of strings."""
        value = self.raw(name)
        if value is MISSING:
            return default
        options = list(choices)
        if not isinstance(value, str) or value not in options:
            hint = ""
            if isinstance(value, str):
                close = difflib.get_close_matches(value.lower(), options, n=1, cutoff=0.6)
                hint = f"; did you mean {close[0]}?" if close else ""
            self.fail(name, f"expected one of {', '.join(options)}, got {describe(value)}{hint}")
        return value

    def string(self, name: str, default: str | None, *, secret: bool = False) -> str | None:
        """A non-empty string, or null."""
        value = self.raw(name)
        if value is MISSING:
            return default
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            self.fail(
                name, f"expected a non-empty string or null, got {describe(value, secret=secret)}"
            )
        return value

    def path(self, name: str, *, must_exist: bool = False) -> str | None:
        """A file path (``~`` expanded, relative to the config's directory), or null.

        With ``must_exist`` the file must exist and be readable now, so a typo
        stops the start instead of the first use; the file is not read.
        """
        value = self.string(name, None)
        if value is None:
            return None
        full = self.resolve(value)
        if must_exist:
            problem = file_problem(full)
            if problem:
                self.fail(name, f"expected a readable file, got {describe(value)} ({problem})")
        return full

    def resolve(self, value: str) -> str:
        """An absolute, normalised path for ``value``."""
        return os.path.normpath(os.path.join(self.ctx.base_dir, os.path.expanduser(value)))

    def mapping(self, name: str, *, optional: bool) -> dict[str, Any] | None:
        """A free-form mapping with string keys (copied), or null when ``optional``."""
        value = self.raw(name)
        if value is MISSING or (value is None and optional):
            return None if optional else {}
        if not isinstance(value, Mapping):
            expected = "a mapping or null" if optional else "a mapping"
            self.fail(name, f"expected {expected}, got {describe(value)}")
        try:
            return cast(dict[str, Any], plain(value, ""))
        except NotPlain as bad:
            self.fail(name + bad.where, bad.message)

    def text_map(self, name: str, *, header_names: bool = False) -> dict[str, str]:
        """A mapping of names to text values (numbers are written as text)."""
        data = self.mapping(name, optional=False) or {}
        out: dict[str, str] = {}
        for k, v in data.items():
            secret = is_secret_name(k)
            if header_names and not _HEADER_NAME.match(k):
                self.fail(f"{name}.{k}", "expected a header name (letters, digits, '-')")
            # Numbers are taken as text (userID: 42); bounded so repr() cannot refuse.
            number = isinstance(v, int | float) and not isinstance(v, bool) and abs(v) < 1e30
            if not isinstance(v, str) and not number:
                self.fail(f"{name}.{k}", f"expected text, got {describe(v, secret=secret)}")
            text = v if isinstance(v, str) else repr(v)
            if "\r" in text or "\n" in text:
                self.fail(f"{name}.{k}", "expected text on one line (no line breaks)")
            out[k] = text
        return out


def field_names(cls: type) -> tuple[str, ...]:
    """The keys a settings section may have: the field names of its dataclass."""
    return tuple(f.name for f in dataclasses.fields(cls))
