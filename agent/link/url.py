"""The gateway URL: configured query parameters merged in, and a form safe to print."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from agent.common.redact import MASK, is_secret_name


def _query_value(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def build_url(url: str, query: Mapping[str, Any] | None) -> str:
    """``url`` with ``query`` merged into its own query string.

    Configured values replace the URL's own parameters of the same name; a
    parameter whose value is ``None`` is not sent at all (never ``null``).
    """
    parts = urlsplit(url)
    extra = {k: _query_value(v) for k, v in (query or {}).items() if v is not None}
    pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in extra]
    pairs.extend(extra.items())
    return urlunsplit(parts._replace(query=urlencode(pairs)))


def display_url(url: str) -> str:
    """``url`` fit for a log line or an event: no userinfo, secret query values masked."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    pairs = [
        (k, MASK if is_secret_name(k) else v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit((parts.scheme, host, parts.path, urlencode(pairs, safe="*"), ""))
