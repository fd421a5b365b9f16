"""The one rule for a remote agent's URL: ``https://`` anywhere, ``http://`` only at home."""

from __future__ import annotations

from urllib.parse import urlsplit

from agent.common.settings_reader import Reader
from agent.common.settings_values import is_lan_host


def read_url(r: Reader, name: str, default: str) -> str:
    """``r.name`` as an http(s) URL; plain http only to loopback or a home-network host."""
    url = r.string(name, default)
    assert url is not None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        r.fail(name, f"expected an http:// or https:// URL, got {url!r}")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        r.fail(name, f"has a bad port: {url!r}")
    if parts.scheme == "http" and not is_lan_host(parts.hostname):
        r.fail(name, f"http:// is allowed only to loopback or a private LAN address; "
                     f"use https:// for {parts.hostname}")
    return url
