"""The pieces of ``gateway --check``: a line per step, one service's steps, the network probe.

A service's steps run in order; after a FAIL the steps that depended on it
are still printed, as SKIP, so the output always shows every step. The
network probe (DNS, TCP, TLS) is shared by every service that has a host.
"""

from __future__ import annotations

import socket
import ssl
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from agent.gateway.reach import cannot_reach, where

TIMEOUT_S = 10.0
AFTER_FAILURE = "not run: an earlier step failed"


@dataclass(frozen=True)
class Line:
    """One step of one service: OK (``ok`` True), FAIL (False, with a fix) or SKIP (None)."""

    service: str
    name: str
    ok: bool | None
    detail: str
    fix: str | None = None

    def __str__(self) -> str:
        mark = {True: "OK  ", False: "FAIL", None: "SKIP"}[self.ok]
        step = f" {self.name}" if self.name else ""
        text = f"{mark} {self.service}{step}: {self.detail}"
        return text + (f" (fix: {self.fix})" if self.fix and self.ok is False else "")


@dataclass
class Steps:
    """The lines of one service (``stt.assemblyai``, ``dialog.diatheke`` ...)."""

    service: str
    lines: list[Line] = field(default_factory=list)

    def add(self, name: str, ok: bool, detail: str, fix: str | None = None) -> bool:
        """One step's result; True unless it failed."""
        self.lines.append(Line(self.service, name, ok, detail, fix))
        return ok

    def skip(self, name: str, why: str) -> None:
        """A step that was not run, and why."""
        self.lines.append(Line(self.service, name, None, why))

    def skip_rest(self, names: list[str], why: str = AFTER_FAILURE) -> None:
        """Show the steps of ``names`` not reported yet as skipped."""
        done = {line.name for line in self.lines}
        for name in names:
            if name not in done:
                self.skip(name, why)

    @property
    def ok(self) -> bool:
        """No step failed."""
        return all(line.ok is not False for line in self.lines)


def endpoint(url: str) -> tuple[str, int, bool]:
    """(host, port, TLS?) of a ws(s):// or http(s):// URL."""
    parts = urlsplit(url)
    secure = parts.scheme in ("wss", "https")
    return parts.hostname or "", parts.port or (443 if secure else 80), secure


def network_names(host: str, port: int, tls: bool = True) -> list[str]:
    """The names of the network steps for ``host:port``."""
    return [f"dns {host}", f"tcp {where(host, port)}", *([f"tls {host}"] if tls else [])]


def network(steps: Steps, host: str, port: int, secure: bool, key: str) -> bool:
    """DNS, TCP and (``secure``) TLS to ``host:port``; False at the first failure."""
    dns, tcp, *tls = network_names(host, port)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        return steps.add(dns, False, cannot_reach(exc, host, port),
                         f"check the network and DNS, and {key}")
    steps.add(dns, True, ", ".join(sorted({str(i[4][0]) for i in infos})))
    t0 = time.monotonic()
    try:
        sock = socket.create_connection((host, port), timeout=TIMEOUT_S)
    except OSError as exc:
        return steps.add(tcp, False, cannot_reach(exc, host, port),
                         f"is the service running there? a firewall or proxy may block it; {key}")
    steps.add(tcp, True, f"connected in {1000 * (time.monotonic() - t0):.0f} ms")
    with sock:
        if not secure:
            return steps.add(tls[0], True, "not used (plain, to a loopback host)")
        try:
            context = ssl.create_default_context()
            with context.wrap_socket(sock, server_hostname=host) as wrapped:
                version = wrapped.version()
        except (ssl.SSLError, OSError) as exc:
            return steps.add(tls[0], False, cannot_reach(exc, host, port),
                             "is the system's CA store installed (ca-certificates) and the "
                             "clock right?")
    return steps.add(tls[0], True, f"{version}, certificate verified")
