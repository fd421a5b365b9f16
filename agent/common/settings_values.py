"""Settings errors and value checks.

:class:`ConfigError` (exit 78, one line naming the key), how given values are
described in errors, number ranges, file checks, loopback hosts, and the names
of secrets.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

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
    """``url`` as written, with any password and secret-named query values replaced by ``***``.

    Edited in place rather than rebuilt from its parts, so a value that is not
    quite a URL (``host:8765``, no scheme) is still quoted the way it was written.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    out = url
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    if ":" in userinfo:
        user = userinfo.split(":", 1)[0]
        out = out.replace(f"{userinfo}@", f"{user}:{REDACTED}@", 1)
    head, question, tail = out.partition("?")
    if question:
        query, hash_, fragment = tail.partition("#")
        pieces = []
        for piece in query.split("&"):
            name, eq, _value = piece.partition("=")
            secret = eq and is_secret_name(unquote(name))
            pieces.append(f"{name}={REDACTED}" if secret else piece)
        out = f"{head}?{'&'.join(pieces)}{hash_}{fragment}"
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


def is_loopback(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1 (also IPv4-mapped, and ``[::1]`` as in URLs)."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


LAN_SUFFIXES = (".local", ".lan", ".home.arpa", ".internal", ".localdomain")
"""Host name suffixes of a home network (mDNS ``.local`` is where Home Assistant lives)."""


def is_lan_host(host: str) -> bool:
    """True for loopback, a private or link-local address, or a home-network host name.

    A home-network name is one with a :data:`LAN_SUFFIXES` suffix or a single
    label (``ollama``, ``homeassistant``): names no public DNS answers. Used
    where plain ``http://`` is allowed only inside the home.
    """
    name = host.lower().rstrip(".")
    if is_loopback(host) or name.endswith(LAN_SUFFIXES) or (name and "." not in name
                                                              and ":" not in name):
        return True
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_private or ip.is_link_local


def file_problem(path: str) -> str | None:
    """Why ``path`` cannot be used as an input file, or None when it can."""
    if not os.path.exists(path):
        return "no such file"
    if os.path.isdir(path):
        return "it is a directory"
    if not os.access(path, os.R_OK):
        return "permission denied"
    return None
