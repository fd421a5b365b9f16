"""Where and how the device connects: the URL, headers and TLS context, and the handshake.

Built once from ``settings.gateway``; every secret it finds on the way (a URL
password, a secret-named query parameter, an ``Authorization`` header) is
handed to the redactor before anything could log it.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import websocket

from agent.common.redact import Redactor, is_secret_name
from agent.link.auth import make_ssl_context
from agent.link.url import build_url, display_url


def _user_agent() -> str:
    try:
        version = metadata.version("voice-agent")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        version = "0"
    return f"voice-agent/{version}"


USER_AGENT = _user_agent()
"""What the device announces at every handshake (``voice-agent/VERSION``).

The reference gateway sends base64 reply audio to clients that announce this
product, and the Node Buffer form to every other one (``agent.gateway.forms``).
A ``User-Agent`` in ``gateway.headers`` replaces it."""


@dataclass(frozen=True)
class Endpoint:
    """The gateway's address and what every handshake sends."""

    url: str
    """The full URL with the configured query (secrets included: never log it)."""
    display_url: str
    """The URL with secrets masked, for logs and events."""
    ssl_context: ssl.SSLContext | None
    """The TLS context for ``wss://`` (verification as configured)."""
    headers: dict[str, str] = field(default_factory=dict)
    """``User-Agent`` and the configured extra headers (``None`` values left out)."""

    @classmethod
    def from_settings(cls, gateway: Any, redactor: Redactor) -> Endpoint:
        """Build from ``settings.gateway``, registering every secret with ``redactor``."""
        url = build_url(gateway.url, getattr(gateway, "query", None))
        split = urlsplit(url)
        redactor.add(split.password)
        redactor.add(*(v for k, v in parse_qsl(split.query) if is_secret_name(k)))
        configured = getattr(gateway, "headers", None) or {}
        headers: dict[str, str] = {}
        if not any(str(name).lower() == "user-agent" for name in configured):
            headers["User-Agent"] = USER_AGENT
        for name, value in configured.items():
            if value is None:
                continue
            headers[str(name)] = str(value)
            if is_secret_name(str(name)) or str(name).lower() == "authorization":
                redactor.add(str(value), str(value).split(" ")[-1])
        tls = getattr(gateway, "tls", None)
        context = make_ssl_context(getattr(tls, "verify", True), getattr(tls, "ca_file", None))
        return cls(url, display_url(url), context, headers)

    def handshake_headers(self, auth_headers: dict[str, str]) -> list[str]:
        """The header lines of one handshake: the configured ones, auth's taking precedence."""
        overridden = {name.lower() for name in auth_headers}
        headers = {k: v for k, v in self.headers.items() if k.lower() not in overridden}
        headers.update(auth_headers)
        return [f"{name}: {value}" for name, value in headers.items()]


@dataclass(frozen=True)
class HandshakeFailure:
    """Why a handshake failed, one line; ``refused`` for HTTP 401 or 403."""

    reason: str
    refused: bool = False


def handshake(
    ws: websocket.WebSocket, endpoint: Endpoint, auth_headers: dict[str, str], timeout_s: float
) -> HandshakeFailure | None:
    """Open ``ws`` to the endpoint; None when it is open, else why not (``ws`` shut down)."""
    try:
        ws.connect(
            endpoint.url,
            header=endpoint.handshake_headers(auth_headers),
            timeout=timeout_s,
            redirect_limit=0,  # a redirect would carry our credentials elsewhere
        )
    except websocket.WebSocketBadStatusException as exc:
        ws.shutdown()
        status = f"{exc.status_code} {exc.status_message or ''}".strip()
        return HandshakeFailure(
            f"handshake refused with HTTP {status}", refused=exc.status_code in (401, 403)
        )
    except (OSError, ValueError, websocket.WebSocketException) as exc:
        ws.shutdown()
        return HandshakeFailure(f"cannot connect: {exc.__class__.__name__}: {exc}")
    return None
