"""The words for a service the gateway cannot reach, or that refuses its key.

One vocabulary for ``voice-agent gateway --check`` and for the ``error`` a
device gets when a turn fails the same way, so the two say the same thing:
``cannot resolve streaming.assemblyai.com``, ``cannot connect to
127.0.0.1:9 (connection refused)``, ``the key was refused (HTTP 401): check
stt.assemblyai.api_key_file``. Nothing here is secret: host names, ports,
status codes and the names of settings.
"""

from __future__ import annotations

import asyncio
import errno
import re
import socket
import ssl

_REFUSED = re.compile(r"connection refused|errno 111|\[errno 61\]", re.I)
_NO_NAME = re.compile(
    r"name or service not known|temporary failure in name resolution|nodename nor servname|"
    r"no address associated|getaddrinfo failed|could not contact dns|dns resolution failed",
    re.I,
)
_TIMED_OUT = re.compile(r"timed out|timeout", re.I)


def where(host: str, port: int | None) -> str:
    """``host:port`` (``[v6]:port`` for an IPv6 address), or the host alone."""
    if port is None:
        return host
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def cannot_reach(exc: BaseException, host: str, port: int | None = None) -> str:
    """Why ``host`` could not be reached, from the exception a connection attempt raised."""
    inner = getattr(exc, "os_error", None)  # aiohttp's connector errors wrap the OSError
    if isinstance(inner, BaseException):
        exc = inner
    if isinstance(exc, socket.gaierror | UnicodeError):
        return f"cannot resolve {host}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS with {host} failed: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS with {host} failed: {exc.reason or type(exc).__name__}"
    if isinstance(exc, ConnectionRefusedError) or getattr(exc, "errno", None) == errno.ECONNREFUSED:
        return f"cannot connect to {where(host, port)} (connection refused)"
    if isinstance(exc, TimeoutError):
        return f"cannot connect to {where(host, port)} (timed out)"
    if isinstance(exc, OSError) and exc.strerror:
        return f"cannot connect to {where(host, port)} ({exc.strerror.lower()})"
    return from_text(str(exc) or type(exc).__name__, host, port)


def from_text(detail: str, host: str, port: int | None = None) -> str:
    """The same words from a library that gives only a message (Socket.IO, gRPC)."""
    if _NO_NAME.search(detail):
        return f"cannot resolve {host}"
    if _REFUSED.search(detail):
        return f"cannot connect to {where(host, port)} (connection refused)"
    if _TIMED_OUT.search(detail):
        return f"cannot connect to {where(host, port)} (timed out)"
    return f"cannot connect to {where(host, port)} ({detail})"


def key_refused(status: int | str, key: str) -> str:
    """A credential refused: the HTTP status, and the setting that holds the key."""
    return f"the key was refused (HTTP {status}): check {key}"


def refused(status: int | str) -> str:
    """A handshake refused for another reason than the key."""
    return f"the service refused the connection (HTTP {status})"


async def probe(host: str, port: int, timeout_s: float = 2.0) -> str | None:
    """Why ``host:port`` cannot be reached now (a TCP connect), or None when it can.

    For libraries that report a down service only as a deadline (gRPC waits
    for the channel to be ready): the words ``--check`` would print.
    """
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
    except (OSError, TimeoutError, UnicodeError) as exc:
        return cannot_reach(exc, host, port)
    writer.close()
    return None


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port``) as (host, port); the settings checked the form."""
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)
