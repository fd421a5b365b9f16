"""``voice-agent gateway --check``: can the configured engine be reached, and does it take the key?

One line per step, ``OK`` or ``FAIL`` with a fix: DNS, TCP and TLS for each
host the engine uses, then the credentials. The credentials are checked
without opening a billed session: AssemblyAI's temporary-token endpoint
(``GET /v3/token``, which a valid key answers with a token and a bad one with
401), aiOla's own token flow (API key -> token -> jwt). pocketsphinx is
offline: the check says so. A Wyoming server is described
(:mod:`agent.gateway.check_wyoming`). Nothing secret is printed.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from agent.gateway.check_wyoming import check_wyoming
from agent.gateway.settings import GatewaySettings
from agent.gateway.stt.config import read_api_key
from agent.gateway.stt.stream import StreamFailure

TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Line:
    """One step: ``ok`` with what was found, or the problem and its fix."""

    name: str
    ok: bool
    detail: str
    fix: str | None = None

    def __str__(self) -> str:
        text = f"{'OK  ' if self.ok else 'FAIL'} {self.name}: {self.detail}"
        return text + (f" (fix: {self.fix})" if self.fix and not self.ok else "")


def _network(url: str, key: str, add: Callable[[Line], bool]) -> bool:
    """DNS, TCP, TLS for ``url``'s host; False at the first failure."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    secure = parts.scheme in ("wss", "https")
    port = parts.port or (443 if secure else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        return add(Line(f"dns {host}", False, f"cannot resolve: {exc}",
                        f"check the network and DNS, and {key}"))
    add(Line(f"dns {host}", True, ", ".join(sorted({str(i[4][0]) for i in infos}))))
    t0 = time.monotonic()
    try:
        sock = socket.create_connection((host, port), timeout=TIMEOUT_S)
    except OSError as exc:
        return add(Line(f"tcp {host}:{port}", False, f"cannot connect: {exc}",
                        "a firewall or proxy may block outgoing connections to it"))
    add(Line(f"tcp {host}:{port}", True, f"connected in {1000 * (time.monotonic() - t0):.0f} ms"))
    with sock:
        if not secure:
            return add(Line(f"tls {host}", True, "not used (plain, to a loopback host)"))
        try:
            context = ssl.create_default_context()
            with context.wrap_socket(sock, server_hostname=host) as tls:
                version = tls.version()
        except (ssl.SSLError, OSError) as exc:
            return add(Line(f"tls {host}", False, f"handshake failed: {exc}",
                            "is the system's CA store installed (ca-certificates) and the clock "
                            "right?"))
    return add(Line(f"tls {host}", True, f"{version}, certificate verified"))


def _http_url(ws_url: str, path: str) -> str:
    parts = urlsplit(ws_url)
    scheme = {"wss": "https", "ws": "http"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, path, "", ""))


def check_assemblyai(settings: GatewaySettings, source: str) -> list[Line]:
    """DNS/TCP/TLS to the v3 host, then the key against ``/v3/token``."""
    a = settings.stt.assemblyai
    lines: list[Line] = []

    def add(line: Line) -> bool:
        lines.append(line)
        return line.ok

    key = read_api_key("assemblyai", a.api_key_file, source, required=True)  # or exit 78
    assert key is not None
    if not _network(a.url, "stt.assemblyai.url", add):
        return lines
    url = _http_url(a.url, "/v3/token") + "?expires_in_seconds=60"
    request = urllib.request.Request(url, headers={"Authorization": key})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as reply:
            ok = isinstance(json.loads(reply.read()).get("token"), str)
        add(Line("credentials", ok, "the key was accepted" if ok else "no token in the reply",
                 "is stt.assemblyai.url the streaming service?"))
    except urllib.error.HTTPError as exc:
        add(Line("credentials", False, f"the key was refused (HTTP {exc.code})",
                 "put a valid key in stt.assemblyai.api_key_file or ASSEMBLYAI_API_KEY"))
    except (OSError, ValueError) as exc:
        add(Line("credentials", False, f"no answer: {type(exc).__name__}",
                 "is stt.assemblyai.url the streaming service?"))
    return lines


def check_aiola(settings: GatewaySettings, source: str) -> list[Line]:
    """DNS/TCP/TLS to both aiOla hosts, then the key through the token flow."""
    from agent.gateway.stt.aiola_auth import AiolaAuth

    a = settings.stt.aiola
    lines: list[Line] = []

    def add(line: Line) -> bool:
        lines.append(line)
        return line.ok

    key = read_api_key("aiola", a.api_key_file, source, required=True)  # or exit 78
    assert key is not None
    if not _network(a.auth_url, "stt.aiola.auth_url", add):
        return lines
    if urlsplit(a.base_url).netloc != urlsplit(a.auth_url).netloc and not _network(
        a.base_url, "stt.aiola.base_url", add
    ):
        return lines
    try:
        asyncio.run(AiolaAuth(a, key).jwt())
        add(Line("credentials", True, "the key was exchanged for a session jwt"))
    except StreamFailure as exc:
        add(Line("credentials", False, str(exc),
                 "put a valid key in stt.aiola.api_key_file or AIOLA_API_KEY; "
                 "check stt.aiola.workflow_id"))
    return lines


def run_check(settings: GatewaySettings, source: str) -> tuple[list[Line], bool]:
    """The lines for the configured engine, and whether all passed (ConfigError: no key)."""
    engine = settings.stt.engine
    if engine == "assemblyai":
        lines = check_assemblyai(settings, source)
    elif engine == "aiola":
        lines = check_aiola(settings, source)
    elif engine != "wyoming":
        lines = [Line(f"stt.engine {engine}", True, "offline: no network or key needed")]
    else:
        lines = []
    lines += [Line(f.name, f.ok, f.detail, f.fix) for f in check_wyoming(settings)]
    return lines, all(line.ok for line in lines)
