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
from typing import Any
from urllib.parse import urlsplit

from agent.doctor.report import Check

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


def check_gateway(gateway: Any, timeout_s: float = 10.0) -> list[Check]:
    """Check the road to the gateway; a list of checks ending at the first FAIL."""
    import websocket

    from agent.common.redact import Redactor, is_secret_name
    from agent.link.auth import AuthError, auth_from_settings, make_ssl_context
    from agent.link.url import build_url, display_url

    redactor = Redactor()
    url = build_url(gateway.url, gateway.query)
    parts = urlsplit(url)
    redactor.add(parts.password)
    shown = display_url(url)
    host = parts.hostname or ""
    secure = parts.scheme == "wss"
    port = parts.port or (443 if secure else 80)
    checks: list[Check] = []

    def add(name: str, ok: bool | None, detail: str, fix: str | None = None) -> bool:
        scrub = redactor.scrub
        checks.append(
            Check(f"gateway {name}", ok, scrub(detail), scrub(fix) if fix is not None else None)
        )
        return ok is not False

    # DNS
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        add(
            "dns",
            False,
            f"cannot resolve {host!r} (from {shown}): {_reason(exc)}",
            "check the host name in gateway.url and the network/DNS (getent hosts HOST)",
        )
        return checks
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    add("dns", True, f"{host} -> {', '.join(addresses)}")

    # TCP
    t0 = time.perf_counter()
    try:
        sock = socket.create_connection((host, port), timeout=timeout_s)
    except OSError as exc:
        add(
            "tcp",
            False,
            f"cannot connect to {host} port {port}: {_reason(exc)}",
            "is the gateway running and listening on that port? (a firewall in between?)",
        )
        return checks
    peer = sock.getpeername()[0]
    add("tcp", True, f"connected to {peer} port {port} in {_ms(t0)}")

    # TLS
    context: ssl.SSLContext | None = None
    if not secure:
        sock.close()
        loopback = host in ("localhost", "::1") or host.startswith("127.")
        if loopback:
            add("tls", True, "not used (ws:// to this machine)")
        else:
            add(
                "tls",
                None,
                "not used: audio and credentials travel unencrypted (ws://, allow_insecure)",
                "use a wss:// URL",
            )
    else:
        tls = gateway.tls
        try:
            context = make_ssl_context(tls.verify, tls.ca_file)
        except (OSError, ssl.SSLError) as exc:
            sock.close()
            add(
                "tls",
                False,
                f"cannot load gateway.tls.ca_file {tls.ca_file}: {_reason(exc)}",
                "gateway.tls.ca_file must be a PEM file of CA certificates",
            )
            return checks
        if not _check_tls(sock, context, host, tls, timeout_s, add):
            return checks

    # Credentials
    try:
        provider = auth_from_settings(gateway.auth, context, redactor=redactor)
        try:
            auth_headers = provider.connect_headers()
        finally:
            provider.stop()
    except (AuthError, ValueError, OSError) as exc:
        add("auth", False, f"no credentials: {exc}", FIX_AUTH)
        return checks
    auth = gateway.auth
    if auth.type == "bearer":
        source = f"file {auth.token_file} (readable)" if auth.token_file else "gateway.auth.token"
        add("auth", True, f"bearer token from {source}")
    elif auth.type == "iam":
        add("auth", True, f"IAM token fetched from {display_url(auth.token_url)}")
    else:
        add("auth", True, "none configured (gateway.auth.type: none)")

    # WebSocket handshake, as GatewayConnection does it
    overridden = {name.lower() for name in auth_headers}
    headers = {k: str(v) for k, v in gateway.headers.items() if k.lower() not in overridden}
    headers.update(auth_headers)
    for name, value in headers.items():
        if is_secret_name(name):
            redactor.add(value, value.split(" ")[-1])
    ws = websocket.WebSocket(sslopt={"context": context} if context is not None else {})
    t0 = time.perf_counter()
    try:
        ws.connect(
            url,
            header=[f"{k}: {v}" for k, v in headers.items()],
            timeout=timeout_s,
            redirect_limit=0,
        )
    except websocket.WebSocketBadStatusException as exc:
        ws.shutdown()
        status = f"HTTP {exc.status_code} {exc.status_message or ''}".strip()
        if exc.status_code in (401, 403):
            add("websocket", False, f"the gateway refused the credentials ({status})", FIX_AUTH)
        else:
            add(
                "websocket",
                False,
                f"handshake with {shown} refused with {status}",
                "check the path and query of gateway.url (and gateway.headers)",
            )
        return checks
    except (OSError, ValueError, websocket.WebSocketException) as exc:
        ws.shutdown()
        add(
            "websocket",
            False,
            f"handshake with {shown} failed: {exc.__class__.__name__}: {_reason(exc)}",
            "is gateway.url the gateway's WebSocket endpoint?",
        )
        return checks
    add("websocket", True, f"handshake with {shown} accepted in {_ms(t0)}")
    try:
        _check_ping(ws, float(gateway.ping_timeout_s), add)
    finally:
        try:
            ws.close(timeout=1.0)
        except (OSError, websocket.WebSocketException):
            pass
        ws.shutdown()
    return checks


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
