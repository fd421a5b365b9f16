"""Validation helpers for :mod:`agent.config`: YAML loading, typed readers, redaction rules.

Everything here turns bad input into one :class:`ConfigError` line naming the
file, the dotted key, what was expected and what was given. Nothing here knows
the configuration's sections; :mod:`agent.config` describes those.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, cast
from urllib.parse import unquote, urlsplit

import yaml

EX_CONFIG = 78
"""Exit status for a bad configuration (sysexits.h EX_CONFIG)."""

MISSING: Any = object()
"""Sentinel for a key that is absent from its mapping (distinct from null)."""

# Names (lower-cased) of headers, query parameters and option keys whose values
# are secrets; plus substrings that mark a secret anywhere in a name.
_SECRET_NAMES = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
_SECRET_PARTS = ("token", "key", "secret", "password", "passwd", "credential", "auth")

REDACTED = "***"
"""What a secret is replaced with in printed configurations."""


class ConfigError(Exception):
    """A configuration that cannot be used.

    ``str(err)`` is one line, ``FILE: dotted.key: expected ..., got ...``,
    safe to print (it never contains a secret). ``exit_code`` is 78 (EX_CONFIG).
    """

    exit_code = EX_CONFIG

    def __init__(self, source: str, key: str | None, message: str) -> None:
        self.source = _printable(source)
        self.key = _printable(key) if key is not None else None
        # One line, always: YAML problems and odd values could carry newlines.
        self.message = " ".join(message.split())
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.key:
            return f"{self.source}: {self.key}: {self.message}"
        return f"{self.source}: {self.message}"


def _printable(text: str) -> str:
    """``text`` with control characters escaped, so a key like "a\\nb" stays on one line."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def is_secret_name(name: str) -> bool:
    """True when a header, query parameter or option named ``name`` holds a secret."""
    lowered = name.lower()
    return lowered in _SECRET_NAMES or any(part in lowered for part in _SECRET_PARTS)


def redact_url(url: str) -> str:
    """``url`` with any password and secret-named query parameters replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{REDACTED}@{hostport}" if ":" in userinfo else f"{user}@{hostport}"
    pieces = []
    for piece in parts.query.split("&") if parts.query else []:
        name, eq, _value = piece.partition("=")
        pieces.append(f"{name}={REDACTED}" if eq and is_secret_name(unquote(name)) else piece)
    query = "&".join(pieces)
    out = f"{parts.scheme}://{netloc}{parts.path}"
    if query:
        out += f"?{query}"
    if parts.fragment:
        out += f"#{parts.fragment}"
    return out


def redact_names(value: Any) -> Any:
    """A copy of a free-form mapping with the values of secret-named keys replaced."""
    if isinstance(value, Mapping):
        return {
            k: REDACTED if isinstance(k, str) and is_secret_name(k) else redact_names(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact_names(v) for v in value]
    return value


def describe(value: Any, *, secret: bool = False) -> str:
    """How a given value is shown after ``got``: short, one line, never a secret."""
    if value is MISSING:
        return "nothing"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if secret:
        kind = "a string" if isinstance(value, str) else "a number"
        return f"{kind} (value hidden)"
    if isinstance(value, str):
        text = repr(value)
        return text if len(text) <= 200 else text[:196] + "...'"
    if isinstance(value, int) and abs(value) > 10**30:
        return "a very large number"  # repr() refuses ints beyond 4300 digits
    if isinstance(value, int | float):
        return repr(value)
    return f"a {type(value).__name__}"


def fmt_number(x: float) -> str:
    """A bound as users write it: ``0`` not ``0.0``."""
    return f"{x:g}"


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
            return cast(dict[str, Any], _plain(value, ""))
        except _NotPlain as bad:
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


_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


def range_text(lo: float | None, hi: float | None, lo_open: bool = False) -> str:
    """`` between 0 and 1``, `` greater than 0`` ... (empty without bounds)."""
    if lo is not None and hi is not None:
        if lo_open:
            return f" greater than {fmt_number(lo)} and at most {fmt_number(hi)}"
        return f" between {fmt_number(lo)} and {fmt_number(hi)}"
    if lo is not None:
        return f" greater than {fmt_number(lo)}" if lo_open else f" of at least {fmt_number(lo)}"
    if hi is not None:
        return f" of at most {fmt_number(hi)}"
    return ""


def check_number(
    value: Any,
    fail: Any,
    *,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    optional: bool = False,
    what: str = "a number",
) -> float:
    """Validate one number; ``fail(message)`` raises. Returns it as a float.

    A value of the wrong type is told the plain range ("between 0 and 1");
    one out of range is told the exact bounds ("greater than 0 and at most 1").
    """
    tail = " or null" if optional else ""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not number or (isinstance(value, float) and not math.isfinite(value)):
        loose = (
            range_text(lo, hi) if lo is not None and hi is not None else range_text(lo, hi, lo_open)
        )
        fail(f"expected {what}{loose}{tail}, got {describe(value)}")
    too_low = lo is not None and (value <= lo if lo_open else value < lo)
    if too_low or (hi is not None and value > hi) or abs(value) > 1e300:
        fail(f"expected {what}{range_text(lo, hi, lo_open)}{tail}, got {describe(value)}")
    return float(value)


def file_problem(path: str) -> str | None:
    """Why ``path`` cannot be used as an input file, or None when it can."""
    if not os.path.exists(path):
        return "no such file"
    if os.path.isdir(path):
        return "it is a directory"
    if not os.access(path, os.R_OK):
        return "permission denied"
    return None


class _NotPlain(Exception):
    def __init__(self, where: str, message: str) -> None:
        super().__init__(message)
        self.where = where
        self.message = message


def _plain(value: Any, where: str, depth: int = 0) -> Any:
    """A deep copy made of dicts, lists and JSON scalars (these maps are sent as JSON).

    Copying also means settings never alias the parsed YAML. Refuses YAML-only
    values (dates, binary) and anchors that refer to themselves.
    """
    if depth > 50:
        raise _NotPlain(where, "expected data nested at most 50 levels deep")
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise _NotPlain(f"{where}.{k}", f"expected a key name, got {describe(k)}")
            out[k] = _plain(v, f"{where}.{k}", depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [_plain(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]
    if isinstance(value, float) and not math.isfinite(value):
        raise _NotPlain(where, f"expected a finite number, got {describe(value)}")
    if value is None or isinstance(value, str | int | float):
        return value
    raise _NotPlain(
        where,
        f"expected text, a number, true/false, null, a list or a mapping, got {describe(value)}",
    )
