"""Parsing the ``gateway`` section: URLs (``ws://`` only to loopback), auth, TLS, reconnect."""

from __future__ import annotations

import os
from typing import Any, cast
from urllib.parse import urlsplit

from agent.common.settings_reader import Reader, field_names
from agent.common.settings_values import MISSING, describe, is_loopback, redact_url
from agent.config.link import AuthSettings, GatewaySettings, ReconnectSettings, TlsSettings

# --- gateway ------------------------------------------------------------------

# Every default comes from the dataclass, so it is written in one place.
_DEFAULT = GatewaySettings(url="ws://127.0.0.1")


def _url(r: Reader, name: str, secure: str, allow_insecure: bool, *, required: bool) -> str | None:
    """A ws(s):// or http(s):// URL; the insecure scheme only to loopback unless allowed."""
    insecure = secure[:-1]  # wss -> ws, https -> http
    expected = f"expected a {insecure}:// or {secure}:// URL"
    value = r.raw(name)
    if value is MISSING or value is None:
        if required:
            r.fail(name, f"{expected}, got nothing (this key is required)")
        return None
    if not isinstance(value, str):
        r.fail(name, f"{expected}, got {describe(value)}")
    shown = describe(redact_url(value))
    try:
        parts = urlsplit(value.strip())
        _ = parts.port  # raises for a bad port
    except ValueError:
        r.fail(name, f"{expected}, got {shown} (not a valid URL)")
    scheme = parts.scheme.lower()
    if scheme not in (insecure, secure):
        r.fail(name, f"{expected}, got {shown}")
    if not parts.hostname:
        r.fail(name, f"{expected} with a host name, got {shown}")
    if parts.username is not None or parts.password is not None:
        r.fail(name, f"{expected} without user or password in it, got {shown}; use gateway.auth")
    if scheme == insecure and not allow_insecure and not is_loopback(parts.hostname):
        r.fail(
            name,
            f"expected {secure}:// for a host that is not loopback (127.0.0.0/8, ::1, localhost), "
            f"got {shown}; set gateway.allow_insecure: true to allow unencrypted {insecure}://",
        )
    return value.strip()


def parse_gateway(r: Reader) -> GatewaySettings:
    """The ``gateway`` section, every value checked."""
    allow_insecure = r.boolean("allow_insecure", _DEFAULT.allow_insecure)
    url = _url(r, "url", "wss", allow_insecure, required=True)
    assert url is not None
    query = r.text_map("query")
    headers = r.text_map("headers", header_names=True)
    auth = _auth(r.sub("auth", field_names(AuthSettings)), allow_insecure)
    if auth.type != "none":
        for name in headers:
            if name.lower() == "authorization":
                r.fail(f"headers.{name}", "conflicts with gateway.auth, which sets it; remove one")
    tls = r.sub("tls", field_names(TlsSettings))
    rc = r.sub("reconnect", field_names(ReconnectSettings))
    initial_s, max_s = (
        rc.duration("initial_s", _DEFAULT.reconnect.initial_s),
        rc.duration("max_s", _DEFAULT.reconnect.max_s),
    )
    if initial_s > max_s:
        rc.fail("initial_s", f"expected at most {rc.key('max_s')} ({max_s:g}), got {initial_s:g}")
    return GatewaySettings(
        url=url,
        allow_insecure=allow_insecure,
        query=query,
        headers=headers,
        auth=auth,
        tls=TlsSettings(
            verify=tls.boolean("verify", _DEFAULT.tls.verify),
            ca_file=tls.path("ca_file", must_exist=True),
        ),
        stt_options=r.mapping("stt_options", optional=True),
        tts_options=r.mapping("tts_options", optional=True),
        audio_start_options=r.mapping("audio_start_options", optional=True),
        ping_interval_s=r.duration("ping_interval_s", _DEFAULT.ping_interval_s),
        ping_timeout_s=r.duration("ping_timeout_s", _DEFAULT.ping_timeout_s),
        reconnect=ReconnectSettings(initial_s=initial_s, max_s=max_s),
    )


_AUTH_KEYS = {
    "none": (),
    "bearer": ("token", "token_file"),
    "iam": ("api_key", "api_key_file", "token_url"),
}


def _auth(r: Reader, allow_insecure: bool) -> AuthSettings:
    kind = r.choice("type", _DEFAULT.auth.type, _AUTH_KEYS)
    for name in ("token", "token_file", "api_key", "api_key_file", "token_url"):
        if r.given(name) and name not in _AUTH_KEYS[kind]:
            owner = "bearer" if name.startswith("token") and name != "token_url" else "iam"
            r.fail(name, f"only used with auth.type: {owner}, but auth.type is {kind}")
    token = _secret(r, "token")
    api_key = _secret(r, "api_key")
    token_file = _secret_file(r, "token_file")
    api_key_file = _secret_file(r, "api_key_file")
    token_url = _url(r, "token_url", "https", allow_insecure, required=False)
    if kind == "bearer":
        _one_of(r, "token", "token_file")
    elif kind == "iam":
        _one_of(r, "api_key", "api_key_file")
        if token_url is None:
            r.fail("token_url", "expected the http(s) URL that exchanges the API key, got nothing")
    return AuthSettings(
        type=cast(Any, kind),
        token=token,
        token_file=token_file,
        api_key=api_key,
        api_key_file=api_key_file,
        token_url=token_url,
    )


def _secret(r: Reader, name: str) -> str | None:
    value = r.string(name, None, secret=True)
    if value is not None and (value != value.strip() or "\n" in value or "\r" in value):
        r.fail(name, "expected a secret without spaces or line breaks around or in it")
    return value


def _secret_file(r: Reader, name: str) -> str | None:
    # Checked now so a typo stops the start; the secret itself is read only
    # when connecting, and never logged.
    path = r.path(name, must_exist=True)
    if path is not None and os.path.getsize(path) == 0:
        r.fail(
            name, f"expected a file holding the secret, got {describe(r.raw(name))} (it is empty)"
        )
    return path


def _one_of(r: Reader, a: str, b: str) -> None:
    if r.given(a) and r.given(b):
        r.fail(b, f"expected either {r.key(a)} or {r.key(b)}, got both")
    if not r.given(a) and not r.given(b):
        kind = r.raw("type")
        r.fail_at(r.prefix, f"expected {a} or {b} with type: {kind}, got neither")
