"""The ``gateway`` section of the device's settings: URL, auth, TLS, reconnect, pings."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from agent.common.settings_values import REDACTED, redact_names, redact_url

# --- gateway ------------------------------------------------------------------


@dataclass(frozen=True)
class AuthSettings:
    """How the agent authenticates to the gateway (``gateway.auth``)."""

    type: Literal["none", "bearer", "iam"] = "none"
    """none | bearer (a fixed token) | iam (an API key exchanged for short-lived tokens)."""

    token: str | None = field(default=None, repr=False)
    """bearer: the token itself (prefer token_file)."""

    token_file: str | None = None
    """bearer: absolute path of a file holding the token (read at each connect)."""

    api_key: str | None = field(default=None, repr=False)
    """iam: the API key (prefer api_key_file)."""

    api_key_file: str | None = None
    """iam: absolute path of a file holding the API key."""

    token_url: str | None = None
    """iam: the http(s) URL where the API key is exchanged for a token."""

    def bearer_token(self) -> str | None:
        """The bearer token (from ``token`` or, freshly read, ``token_file``), or None."""
        if self.token is not None:
            return self.token
        if self.token_file is not None:
            return Path(self.token_file).read_text(encoding="utf-8").strip()
        return None

    def iam_api_key(self) -> str | None:
        """The IAM API key (from ``api_key`` or, freshly read, ``api_key_file``), or None."""
        if self.api_key is not None:
            return self.api_key
        if self.api_key_file is not None:
            return Path(self.api_key_file).read_text(encoding="utf-8").strip()
        return None


@dataclass(frozen=True)
class TlsSettings:
    """TLS for ``wss://`` (``gateway.tls``)."""

    verify: bool = True
    """Verify the gateway's certificate and host name."""

    ca_file: str | None = None
    """Absolute path of a PEM file of CA certificates to trust instead of the system's."""


@dataclass(frozen=True)
class ReconnectSettings:
    """Backoff between reconnect attempts (``gateway.reconnect``)."""

    initial_s: float = 0.5
    """Upper bound of the first delay (seconds); doubles per failure, full jitter."""

    max_s: float = 30.0
    """Largest upper bound of the delay (seconds)."""


@dataclass(frozen=True, repr=False)
class GatewaySettings:
    """The audio gateway and how to talk to it (``gateway``)."""

    url: str
    """ws:// or wss:// URL of the gateway (ws:// only to loopback unless allow_insecure)."""

    allow_insecure: bool = False
    """Allow unencrypted ws:// (and http:// token_url) to hosts that are not loopback."""

    query: dict[str, str] = field(default_factory=dict)
    """Extra query parameters added to the URL (skillset, userID, language, ...)."""

    headers: dict[str, str] = field(default_factory=dict)
    """Extra HTTP headers of the WebSocket handshake (tenantid, ...)."""

    auth: AuthSettings = field(default_factory=AuthSettings)
    """Authentication."""

    tls: TlsSettings = field(default_factory=TlsSettings)
    """TLS options for wss://."""

    stt_options: dict[str, Any] | None = None
    """Sent as a stt_options message after every connect, when set."""

    tts_options: dict[str, Any] | None = None
    """Sent as a tts_options message after every connect, when set."""

    audio_start_options: dict[str, Any] | None = None
    """The "options" object of each audio_start, when set."""

    ping_interval_s: float = 5.0
    """Seconds between WebSocket pings."""

    ping_timeout_s: float = 10.0
    """Seconds without a pong before the connection counts as lost."""

    reconnect: ReconnectSettings = field(default_factory=ReconnectSettings)
    """Reconnect backoff."""

    def __repr__(self) -> str:
        # The URL, query, headers and options may carry credentials.
        return f"GatewaySettings({redact_gateway(dataclasses.asdict(self))!r})"


def redact_gateway(gateway: dict[str, Any]) -> dict[str, Any]:
    """The ``gateway`` section as a mapping, with every credential replaced by ``***``."""
    out = dict(gateway)
    out["url"] = redact_url(out["url"])
    auth = dict(out["auth"])
    for secret in ("token", "api_key"):
        if auth.get(secret) is not None:
            auth[secret] = REDACTED
    if auth.get("token_url"):
        auth["token_url"] = redact_url(auth["token_url"])
    out["auth"] = auth
    for name in ("query", "headers", "stt_options", "tts_options", "audio_start_options"):
        out[name] = redact_names(out[name])
    return out
