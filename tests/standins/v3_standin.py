"""A stand-in for AssemblyAI Streaming Speech-to-Text v3, on 127.0.0.1.

Written from the published protocol (the vendor's streaming API reference): a
``websockets`` server at ``/v3/ws`` that checks the raw key in
``Authorization`` and the query (``sample_rate``, ``encoding``, the required
``speech_model``), sends ``Begin``, takes binary PCM frames (closing with
3007 for a frame outside 50-1000 ms, after an ``Error``), sends partial
``Turn`` s as audio arrives and, after ``end_after_ms`` of audio, the end of
turn (raw, then formatted when ``format_turns`` is on), and answers
``Terminate`` with any pending final and ``Termination``.

What it "hears" is scripted (:class:`Script`), a sentence pocketsphinx could
never produce, so a test knows which engine answered. Faults for the error
tests: a refused handshake (401), a close with a code, an ``Error`` message,
a dropped TCP connection, no ``Begin``. Every session is recorded
(:class:`Session`): query, headers, each frame's size, the audio, whether
``Terminate`` came, and whether the socket is still open.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

RATE = 16000
TEXT = "Purple elephants dance at midnight."
"""What the stand-in hears unless told otherwise (no skill phrase; not pocketsphinx's)."""


@dataclass
class Script:
    """What one session does."""

    text: str = TEXT
    end_after_ms: int | None = 600
    """Audio after which the turn ends (None: only Terminate ends it)."""
    fault: str | None = None
    """None, "401", "close:CODE" (Error then close), "error" (an Error message only),
    "drop" (TCP cut), "no_begin"."""
    fault_after_ms: int = 0
    """Audio received before the fault (faults after Begin)."""


@dataclass
class Session:
    """What one connection to the stand-in did."""

    query: dict[str, str]
    headers: dict[str, str]
    script: Script
    frames: list[int] = field(default_factory=list)
    audio: bytearray = field(default_factory=bytearray)
    frame_times: list[tuple[float, int]] = field(default_factory=list)
    """(time.monotonic() at receipt, total bytes so far) per frame."""
    texts: list[dict[str, Any]] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    terminate_received: bool = False
    open: bool = True
    close_code: int | None = None
    final_sent_at: float | None = None

    @property
    def audio_ms(self) -> float:
        return len(self.audio) / 32


def _lower(text: str) -> str:
    return " ".join("".join(c for c in w if c.isalnum() or c == "'") for w in text.lower().split())


class V3StandIn:
    """The stand-in server on its own thread (``with V3StandIn() as s: ... s.url``)."""

    def __init__(self, api_key: str = "v3-test-key-4f1c2a", script: Script | None = None) -> None:
        self.api_key = api_key
        self.default = script or Script()
        self.scripts: deque[Script] = deque()
        self.sessions: list[Session] = []
        self.refused = 0
        self.port = 0
        self._cond = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="v3-standin", daemon=True)

    # ------------------------------------------------------------ test side

    @property
    def url(self) -> str:
        """What ``stt.assemblyai.url`` points at."""
        return f"ws://127.0.0.1:{self.port}/v3/ws"

    @property
    def host(self) -> str:
        """What the SDK's ``api_host`` points at."""
        return f"ws://127.0.0.1:{self.port}"

    def next(self, *scripts: Script) -> None:
        """Scripts for the next sessions, in order (then the default)."""
        with self._cond:
            self.scripts.extend(scripts)

    @property
    def open_sessions(self) -> int:
        with self._cond:
            return sum(s.open for s in self.sessions)

    def wait(self, predicate: Any, timeout: float = 30.0) -> None:
        """Block until ``predicate(self)`` holds (AssertionError after ``timeout``)."""
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(self), timeout):
                raise AssertionError(f"stand-in: condition not met in {timeout} s; "
                                     f"sessions: {[(s.open, s.audio_ms) for s in self.sessions]}")

    def start(self) -> V3StandIn:
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the v3 stand-in did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    def __enter__(self) -> V3StandIn:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ------------------------------------------------------------ server side

    def _main(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with serve(self._handler, "127.0.0.1", 0, process_request=self._check,
                         compression=None) as server:
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stop.wait()
            server.close(close_connections=True)
            await server.wait_closed()

    def _peek(self) -> Script:
        with self._cond:
            return self.scripts[0] if self.scripts else self.default

    def _check(self, conn: ServerConnection, request: Request) -> Response | None:
        parts = urlsplit(request.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if parts.path == "/v3/token":  # temporary tokens: a key check with no session
            if request.headers.get("Authorization") != self.api_key:
                return conn.respond(HTTPStatus.UNAUTHORIZED, "Unauthorized\n")
            return conn.respond(HTTPStatus.OK, json.dumps({"token": uuid.uuid4().hex}))
        if parts.path != "/v3/ws":
            return conn.respond(HTTPStatus.NOT_FOUND, "Not found\n")
        if self._peek().fault == "401" or request.headers.get("Authorization") != self.api_key:
            with self._cond:
                if self.scripts and self.scripts[0].fault == "401":
                    self.scripts.popleft()
                self.refused += 1
                self._cond.notify_all()
            return conn.respond(HTTPStatus.UNAUTHORIZED, "Unauthorized\n")
        if "speech_model" not in query or query.get("sample_rate") != "16000":
            return conn.respond(HTTPStatus.BAD_REQUEST, "speech_model and sample_rate needed\n")
        if query.get("encoding", "pcm_s16le") != "pcm_s16le":
            return conn.respond(HTTPStatus.BAD_REQUEST, "encoding\n")
        return None

    async def _handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        with self._cond:
            script = self.scripts.popleft() if self.scripts else self.default
            query = {k: v[-1] for k, v in parse_qs(urlsplit(ws.request.path).query).items()}
            session = Session(query, dict(ws.request.headers.raw_items()), script)
            self.sessions.append(session)
            self._cond.notify_all()
        try:
            await self._session(ws, session)
        except ConnectionClosed:
            pass
        finally:
            with self._cond:
                session.open = False
                session.close_code = ws.close_code
                self._cond.notify_all()

    async def _send(self, ws: ServerConnection, session: Session, msg: dict[str, Any]) -> None:
        session.sent.append(msg)
        await ws.send(json.dumps(msg))

    async def _session(self, ws: ServerConnection, s: Session) -> None:
        script = s.script
        if script.fault != "no_begin":
            await self._send(ws, s, {"type": "Begin", "id": str(uuid.uuid4()),
                                     "expires_at": int(time.time()) + 10800})
        formatted = s.query.get("format_turns", "false").lower() == "true"
        words = script.text.split()
        ended = False
        async for frame in ws:
            if isinstance(frame, str):
                msg = json.loads(frame)
                s.texts.append(msg)
                if msg.get("type") == "Terminate":
                    s.terminate_received = True
                    if not ended and s.audio and script.end_after_ms is None:
                        await self._end_turn(ws, s, formatted)
                    await self._send(ws, s, {"type": "Termination",
                                             "audio_duration_seconds": int(s.audio_ms / 1000),
                                             "session_duration_seconds": 1})
                    await ws.close(1000)
                    return
                continue
            ms = len(frame) / 32
            with self._cond:
                s.frames.append(len(frame))
                s.audio += frame
                s.frame_times.append((time.monotonic(), len(s.audio)))
                self._cond.notify_all()
            if not 50 <= ms <= 1000:
                await self._send(ws, s, {"type": "Error", "error_code": 3007,
                                         "error": "Input Duration Violation: 50 ms to 1000 ms"})
                await ws.close(3007, "Input duration violation")
                return
            if script.fault and script.fault != "no_begin" and s.audio_ms >= script.fault_after_ms:
                await self._fault(ws, s, script.fault)
                return
            if ended:
                continue
            if script.end_after_ms is not None and s.audio_ms >= script.end_after_ms:
                await self._end_turn(ws, s, formatted)
                ended = True
            elif len(s.frames) % 4 == 0:  # a partial every 200 ms of 50 ms frames
                share = s.audio_ms / (script.end_after_ms or 2000)
                some = words[: max(1, min(len(words), int(len(words) * share)))]
                await self._send(ws, s, _turn(_lower(" ".join(some)), False, False))

    async def _end_turn(self, ws: ServerConnection, s: Session, formatted: bool) -> None:
        await self._send(ws, s, _turn(_lower(s.script.text), True, False))
        if formatted:
            await self._send(ws, s, _turn(s.script.text, True, True))
        s.final_sent_at = time.monotonic()

    async def _fault(self, ws: ServerConnection, s: Session, fault: str) -> None:
        if fault == "drop":
            assert ws.transport is not None
            ws.transport.abort()
            return
        # Keep reading while the client hangs up or answers the close: an unread
        # backlog of audio frames would stop websockets reading the close frame.
        drain = asyncio.create_task(self._drain(ws))
        if fault == "error":
            await self._send(ws, s, {"type": "Error", "error_code": 3005, "error": "stand-in"})
        else:
            code = int(fault.split(":", 1)[1])
            await self._send(ws, s, {"type": "Error", "error_code": code,
                                     "error": f"closing {code}"})
            await ws.close(code, f"stand-in close {code}")
        await drain

    @staticmethod
    async def _drain(ws: ServerConnection) -> None:
        try:
            async for _ in ws:
                pass
        except ConnectionClosed:
            pass


def _turn(text: str, end: bool, formatted: bool) -> dict[str, Any]:
    return {
        "type": "Turn",
        "turn_order": 0,
        "turn_is_formatted": formatted,
        "end_of_turn": end,
        "transcript": text,
        "end_of_turn_confidence": 0.9 if end else 0.1,
        "words": [
            {"start": i * 300, "end": i * 300 + 250, "confidence": 0.95, "text": w,
             "word_is_final": end}
            for i, w in enumerate(text.split())
        ],
    }
