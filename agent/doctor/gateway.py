"""The gateway checks of ``voice-agent doctor``, step by step, each with its own line.

DNS, TCP, TLS, credentials, WebSocket handshake, ping/pong: the first step
that fails ends the chain, so the user sees the lowest layer that is broken.
The TLS context and the credentials come from the same functions the
daemon's :class:`~agent.link.connection.GatewayConnection` uses
(:func:`~agent.link.auth.make_ssl_context`, :func:`~agent.link.auth.auth_from_settings`),
the handshake is websocket-client's with the same headers and options.
Every line is scrubbed by a :class:`~agent.common.redact.Redactor` that knows the
credentials, and the URL is shown with secrets masked.
"""

from __future__ import annotations

import os
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from agent.common.redact import Redactor, is_secret_name
from agent.common.settings_values import is_loopback
from agent.doctor.report import Check
from agent.link.auth import AuthError, auth_from_settings, make_ssl_context
from agent.link.url import build_url, display_url

FIX_AUTH = (
    "check gateway.auth: the token (token / token_file) or the IAM api key the gateway expects"
)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    text = getattr(exc, "strerror", None) or str(exc)
    return text or exc.__class__.__name__


def _ms(t0: float) -> str:
    return f"{(time.perf_counter() - t0) * 1000:.1f} ms"


def _cert_name(cert: dict[str, Any], field: str) -> str:
    for rdn in cert.get(field, ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return "?"


@dataclass
class _Road:
    """What the steps learn on the way to the gateway, and the lines they report."""

    gateway: Any
    timeout_s: float
    redactor: Redactor
    url: str
    shown: str
    host: str
    port: int
    secure: bool
    checks: list[Check] = field(default_factory=list)
    sock: socket.socket | None = None
    context: ssl.SSLContext | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, gateway: Any, timeout_s: float) -> _Road:
        """The road to ``gateway.url`` (with its query), nothing checked yet."""
        url = build_url(gateway.url, gateway.query)
        parts = urlsplit(url)
        redactor = Redactor()
        redactor.add(parts.password)
        secure = parts.scheme == "wss"
        return cls(gateway, timeout_s, redactor, url, display_url(url), parts.hostname or "",
                   parts.port or (443 if secure else 80), secure)

    def add(self, name: str, ok: bool | None, detail: str, fix: str | None = None) -> bool:
        """Report one line, scrubbed of the credentials; True unless it is a FAIL."""
        scrub = self.redactor.scrub
        self.checks.append(
            Check(f"gateway {name}", ok, scrub(detail), scrub(fix) if fix is not None else None)
        )
        return ok is not False

    def close(self) -> None:
        """Close the TCP socket if a step left it open."""
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def check_gateway(gateway: Any, timeout_s: float = 10.0) -> list[Check]:
    """Check the road to the gateway; a list of checks ending at the first FAIL."""
    road = _Road.of(gateway, timeout_s)
    try:
        for step in STEPS:
            if not step(road):
                break
    finally:
        road.close()
    return road.checks


def _dns(road: _Road) -> bool:
    """The gateway's host name resolves."""
    try:
        infos = socket.getaddrinfo(road.host, road.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        return road.add(
            "dns",
            False,
            f"cannot resolve {road.host!r} (from {road.shown}): {_reason(exc)}",
            "check the host name in gateway.url and the network/DNS (getent hosts HOST)",
        )
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    return road.add("dns", True, f"{road.host} -> {', '.join(addresses)}")


def _tcp(road: _Road) -> bool:
    """A TCP connection to its port."""
    t0 = time.perf_counter()
    try:
        road.sock = socket.create_connection((road.host, road.port), timeout=road.timeout_s)
    except OSError as exc:
        return road.add(
            "tcp",
            False,
            f"cannot connect to {road.host} port {road.port}: {_reason(exc)}",
            "is the gateway running and listening on that port? (a firewall in between?)",
        )
    peer = road.sock.getpeername()[0]
    return road.add("tcp", True, f"connected to {peer} port {road.port} in {_ms(t0)}")


def _tls(road: _Road) -> bool:
    """TLS with the configured verification, or why going without it is (not) fine."""
    if not road.secure:
        road.close()
        if is_loopback(road.host):
            return road.add("tls", True, "not used (ws:// to this machine)")
        return road.add(
            "tls",
            None,
            "not used: audio and credentials travel unencrypted (ws://, allow_insecure)",
            "use a wss:// URL",
        )
    tls = road.gateway.tls
    try:
        road.context = make_ssl_context(tls.verify, tls.ca_file)
    except (OSError, ssl.SSLError) as exc:
        return road.add(
            "tls",
            False,
            f"cannot load gateway.tls.ca_file {tls.ca_file}: {_reason(exc)}",
            "gateway.tls.ca_file must be a PEM file of CA certificates",
        )
    sock, road.sock = road.sock, None  # _check_tls closes it
    assert sock is not None
    return _check_tls(sock, road.context, road.host, tls, road.timeout_s, road.add)


def _auth(road: _Road) -> bool:
    """The credentials can be had (a token file read, an IAM token fetched)."""
    try:
        provider = auth_from_settings(road.gateway.auth, road.context, redactor=road.redactor)
        try:
            auth_headers = provider.connect_headers()
        finally:
            provider.stop()
    except (AuthError, ValueError, OSError) as exc:
        return road.add("auth", False, f"no credentials: {exc}", FIX_AUTH)
    # The handshake's headers, as GatewayConnection sends them.
    overridden = {name.lower() for name in auth_headers}
    road.headers = {
        k: str(v) for k, v in road.gateway.headers.items() if k.lower() not in overridden
    }
    road.headers.update(auth_headers)
    for name, value in road.headers.items():
        if is_secret_name(name):
            road.redactor.add(value, value.split(" ")[-1])
    auth = road.gateway.auth
    if auth.type == "bearer":
        source = f"file {auth.token_file} (readable)" if auth.token_file else "gateway.auth.token"
        return road.add("auth", True, f"bearer token from {source}")
    if auth.type == "iam":
        return road.add("auth", True, f"IAM token fetched from {display_url(auth.token_url)}")
    return road.add("auth", True, "none configured (gateway.auth.type: none)")


def _websocket(road: _Road) -> bool:
    """The WebSocket handshake, as GatewayConnection does it, then one ping."""
    import websocket

    context = road.context
    ws = websocket.WebSocket(sslopt={"context": context} if context is not None else {})
    t0 = time.perf_counter()
    try:
        ws.connect(
            road.url,
            header=[f"{k}: {v}" for k, v in road.headers.items()],
            timeout=road.timeout_s,
            redirect_limit=0,
        )
    except websocket.WebSocketBadStatusException as exc:
        ws.shutdown()
        status = f"HTTP {exc.status_code} {exc.status_message or ''}".strip()
        if exc.status_code in (401, 403):
            return road.add(
                "websocket", False, f"the gateway refused the credentials ({status})", FIX_AUTH
            )
        return road.add(
            "websocket",
            False,
            f"handshake with {road.shown} refused with {status}",
            "check the path and query of gateway.url (and gateway.headers)",
        )
    except (OSError, ValueError, websocket.WebSocketException) as exc:
        ws.shutdown()
        return road.add(
            "websocket",
            False,
            f"handshake with {road.shown} failed: {exc.__class__.__name__}: {_reason(exc)}",
            "is gateway.url the gateway's WebSocket endpoint?",
        )
    road.add("websocket", True, f"handshake with {road.shown} accepted in {_ms(t0)}")
    try:
        _check_ping(ws, float(road.gateway.ping_timeout_s), road.add)
    finally:
        try:
            ws.close(timeout=1.0)
        except (OSError, websocket.WebSocketException):
            pass
        ws.shutdown()
    return True


# The road, lowest layer first; the first FAIL ends it.
STEPS: tuple[Callable[[_Road], bool], ...] = (_dns, _tcp, _tls, _auth, _websocket)


def _check_tls(
    sock: socket.socket,
    context: ssl.SSLContext,
    host: str,
    tls: Any,
    timeout_s: float,
    add: Any,
) -> bool:
    """TLS handshake on ``sock`` with the configured verification; closes the socket."""
    sock.settimeout(timeout_s)
    try:
        with context.wrap_socket(sock, server_hostname=host) as tsock:
            version = tsock.version()
            cert = tsock.getpeercert() or {}
    except ssl.SSLCertVerificationError as exc:
        sock.close()
        trusted = f"gateway.tls.ca_file {tls.ca_file}" if tls.ca_file else "the system's CAs"
        if "hostname" in str(exc.verify_message).lower():
            fix = "gateway.url must name a host the certificate is issued for"
        else:
            fix = (
                "set gateway.tls.ca_file to the PEM certificate of the CA that signed the "
                "gateway's certificate (or, only for a test, gateway.tls.verify: false)"
            )
        add(
            "tls",
            False,
            f"certificate error: {exc.verify_message} (verified against {trusted})",
            fix,
        )
        return False
    except (ssl.SSLError, OSError) as exc:
        sock.close()
        add(
            "tls",
            False,
            f"TLS handshake failed: {_reason(exc)}",
            "is this a TLS (wss://) endpoint? for a plain one use ws://",
        )
        return False
    if not tls.verify:
        add(
            "tls",
            None,
            f"{version}, certificate NOT verified (gateway.tls.verify: false)",
            "set gateway.tls.verify: true (with gateway.tls.ca_file for a private CA)",
        )
        return True
    add(
        "tls",
        True,
        f"{version}, certificate of {_cert_name(cert, 'subject')} "
        f"(issued by {_cert_name(cert, 'issuer')}) verified for {host}",
    )
    return True


def _check_ping(ws: Any, timeout_s: float, add: Any) -> None:
    """One ping with a random payload; waits for its pong, skipping other frames."""
    import websocket
    from websocket import ABNF

    payload = os.urandom(8).hex().encode("ascii")
    t0 = time.perf_counter()
    deadline = time.monotonic() + timeout_s
    try:
        ws.ping(payload)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise websocket.WebSocketTimeoutException("no pong")
            ws.settimeout(remaining)
            frame = ws.recv_frame()
            if frame.opcode == ABNF.OPCODE_PONG and frame.data == payload:
                break
            if frame.opcode == ABNF.OPCODE_CLOSE:
                raise websocket.WebSocketConnectionClosedException("closed by the gateway")
    except websocket.WebSocketTimeoutException:
        add(
            "ping",
            False,
            f"no pong within {timeout_s:g} s (gateway.ping_timeout_s)",
            "the gateway (or a proxy in between) does not answer WebSocket pings",
        )
        return
    except (OSError, websocket.WebSocketException) as exc:
        add("ping", False, f"connection lost: {_reason(exc)}", "see the gateway's log")
        return
    add("ping", True, f"pong in {_ms(t0)}")
