"""A stand-in for aiOla's streaming speech to text, on 127.0.0.1.

Written from the published protocol (the vendor's streaming API reference): one
aiohttp server holding the two auth endpoints (``POST /voip-auth/apiKey2Token``,
``POST /voip-auth/session``, which hands out a three-part jwt with ``exp``)
and a python-socketio server at ``/api/voice-streaming/socket.io``, namespace
``/events``. A connection must carry ``Authorization: Bearer <jwt>`` and the
same jwt as ``x-aiola-api-token`` in the query, with ``execution_id``,
``flow_id`` and ``time_zone``. It takes ``binary_data`` events of PCM and,
after ``end_after_ms`` of audio, emits one ``transcript`` (its VAD closed the
segment). Faults: the API key refused (401), the connection refused, an
``error`` event, a server-side disconnect, silence (no transcript ever).
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import socketio
from aiohttp import web

TEXT = "Turquoise giraffes juggle quietly."
"""What the stand-in hears unless told otherwise."""
PATH = "/api/voice-streaming/socket.io"
NAMESPACE = "/events"


def make_jwt(lifetime_s: float = 3600.0) -> str:
    """A three-part jwt (unsigned: the stand-in only checks that it issued it)."""

    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    claims = {"exp": int(time.time() + lifetime_s), "sub": uuid.uuid4().hex}
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.{uuid.uuid4().hex}"


@dataclass
class Script:
    """What one connection does."""

    text: str = TEXT
    end_after_ms: int | None = 600
    """Audio after which the transcript comes (None: never)."""
    fault: str | None = None
    """None, "refuse" (connect refused), "error" (an error event), "disconnect"."""
    fault_after_ms: int = 0


@dataclass
class Connection:
    """What one Socket.IO connection did."""

    sid: str
    query: dict[str, str]
    headers: dict[str, str]
    script: Script
    chunks: list[int] = field(default_factory=list)
    audio: bytearray = field(default_factory=bytearray)
    chunk_times: list[tuple[float, int]] = field(default_factory=list)
    open: bool = True
    transcript_sent_at: float | None = None

    @property
    def audio_ms(self) -> float:
        return len(self.audio) / 32


class AiolaStandIn:
    """The stand-in on its own thread (``with AiolaStandIn() as s: ... s.url``)."""

    def __init__(self, api_key: str = "aiola-test-key-93b7", script: Script | None = None) -> None:
        self.api_key = api_key
        self.default = script or Script()
        self.scripts: deque[Script] = deque()
        self.connections: list[Connection] = []
        self.refuse_key = False
        self.token_requests = 0
        self.session_requests: list[dict[str, Any]] = []
        self.jwt_lifetime_s = 3600.0
        self._tokens: set[str] = set()
        self._jwts: set[str] = set()
        self._by_sid: dict[str, Connection] = {}
        self._cond = threading.Condition()
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()),
                                        name="aiola-standin", daemon=True)

    @property
    def url(self) -> str:
        """``base_url`` and ``auth_url`` (one server holds both)."""
        return f"http://127.0.0.1:{self.port}"

    def next(self, *scripts: Script) -> None:
        with self._cond:
            self.scripts.extend(scripts)

    @property
    def open_connections(self) -> int:
        with self._cond:
            return sum(c.open for c in self.connections)

    def wait(self, predicate: Any, timeout: float = 30.0) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(self), timeout):
                raise AssertionError(f"aiola stand-in: condition not met in {timeout} s; "
                                     f"{[(c.open, c.audio_ms) for c in self.connections]}")

    def start(self) -> AiolaStandIn:
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the aiola stand-in did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    def __enter__(self) -> AiolaStandIn:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ------------------------------------------------------------ server side

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        sio = socketio.AsyncServer(async_mode="aiohttp", namespaces=[NAMESPACE])
        self._sio = sio
        app = web.Application()
        sio.attach(app, socketio_path=PATH)
        app.router.add_post("/voip-auth/apiKey2Token", self._token)
        app.router.add_post("/voip-auth/session", self._session)
        sio.on("connect", self._connect, namespace=NAMESPACE)
        sio.on("binary_data", self._audio, namespace=NAMESPACE)
        sio.on("disconnect", self._disconnect, namespace=NAMESPACE)
        runner = web.AppRunner(app, shutdown_timeout=1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    def _bearer(self, request: web.Request) -> str:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        return value if scheme == "Bearer" else ""

    async def _token(self, request: web.Request) -> web.Response:
        with self._cond:
            self.token_requests += 1
        if self.refuse_key or self._bearer(request) != self.api_key:
            return web.json_response({"error": "invalid api key"}, status=401)
        token = uuid.uuid4().hex
        self._tokens.add(token)
        return web.json_response({"context": {"token": token}})

    async def _session(self, request: web.Request) -> web.Response:
        if self._bearer(request) not in self._tokens:
            return web.json_response({"error": "invalid token"}, status=401)
        body = await request.json()
        with self._cond:
            self.session_requests.append(body)
        if not isinstance(body, dict) or not body.get("workflow_id"):
            return web.json_response({"error": "workflow_id"}, status=400)
        jwt = make_jwt(self.jwt_lifetime_s)
        self._jwts.add(jwt)
        return web.json_response({"jwt": jwt, "sessionId": uuid.uuid4().hex})

    async def _connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        headers = {k[5:].replace("_", "-").title(): v for k, v in environ.items()
                   if k.startswith("HTTP_")}
        with self._cond:
            script = self.scripts.popleft() if self.scripts else self.default
        jwt = query.get("x-aiola-api-token", "")
        if (script.fault == "refuse" or jwt not in self._jwts
                or headers.get("Authorization") != f"Bearer {jwt}"
                or not {"execution_id", "flow_id", "time_zone"} <= set(query)):
            raise socketio.exceptions.ConnectionRefusedError("unauthorized")
        conn = Connection(sid, query, headers, script)
        with self._cond:
            self.connections.append(conn)
            self._by_sid[sid] = conn
            self._cond.notify_all()

    async def _audio(self, sid: str, data: Any) -> None:
        conn = self._by_sid.get(sid)
        if conn is None or not isinstance(data, bytes):
            return
        with self._cond:
            conn.chunks.append(len(data))
            conn.audio += data
            conn.chunk_times.append((time.monotonic(), len(conn.audio)))
            self._cond.notify_all()
        script = conn.script
        if script.fault in ("error", "disconnect") and conn.audio_ms >= script.fault_after_ms:
            script.fault, fault = None, script.fault  # once
            if fault == "error":
                await self._sio.emit("error", {"code": 500, "message": "stand-in failure"},
                                     to=sid, namespace=NAMESPACE)
            else:
                await self._sio.disconnect(sid, namespace=NAMESPACE)
            return
        if (script.end_after_ms is not None and conn.transcript_sent_at is None
                and conn.audio_ms >= script.end_after_ms):
            conn.transcript_sent_at = time.monotonic()
            await self._sio.emit("transcript", {"transcript": script.text}, to=sid,
                                 namespace=NAMESPACE)

    async def _disconnect(self, sid: str, reason: Any = None) -> None:
        conn = self._by_sid.pop(sid, None)
        if conn is not None:
            with self._cond:
                conn.open = False
                self._cond.notify_all()
