"""aiOla streaming speech to text, over Socket.IO with python-socketio's asyncio client.

One Socket.IO connection per utterance, to ``{base_url}`` with
``socketio_path`` ``/api/voice-streaming/socket.io``, namespace ``/events``,
``Authorization: Bearer <jwt>`` and the query ``execution_id`` (a fresh
UUID), ``flow_id``, ``time_zone``, ``x-aiola-api-token``, ``lang_code`` and
``keywords`` (JSON, the skills' phrases). Audio is emitted as it arrives as
``binary_data`` events of PCM; the first ``transcript`` event is the end of
the turn (aiOla's own VAD closes a segment: there is no other end-of-turn
message). An ``error`` event or a disconnect fails the utterance. The
connection is closed on every path.

Why python-socketio and not the vendor SDK (``aiola`` 0.4.0): the SDK's
token flow is synchronous httpx (it would block the gateway's loop), and its
Socket.IO client reconnects by itself three times with the same
``execution_id``, where the gateway wants a failed utterance to be an error
for that transaction and the next one to start afresh. python-socketio is
what the SDK uses underneath; the tests run the SDK against the stand-in.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from typing import Any
from urllib.parse import urlencode, urlsplit

from agent.common.redact import REDACTOR
from agent.gateway.reach import from_text, key_refused
from agent.gateway.stt.aiola_auth import AiolaAuth
from agent.gateway.stt.engine import Transcript
from agent.gateway.stt.stream import StreamBase, StreamContext, StreamFailure, SttListener

log = logging.getLogger(__name__)

RATE = 16000
SOCKETIO_PATH = "/api/voice-streaming/socket.io"
NAMESPACE = "/events"
CONNECT_TIMEOUT_S = 10.0
FINAL_WAIT_S = 2.0
"""After the client's audio_end: how long to wait for the segment's transcript."""
MAX_KEYWORDS = 100


def keywords(phrases: tuple[str, ...]) -> dict[str, str]:
    """The skills' phrases as aiOla keywords (spoken form -> written form)."""
    out: dict[str, str] = {}
    for p in phrases:
        p = " ".join(p.split())
        if p and len(out) < MAX_KEYWORDS:
            out.setdefault(p, p)
    return out


class AiolaStream(StreamBase):
    """One Socket.IO connection for one utterance (see the module docs)."""

    engine = "aiola"

    def __init__(self, listener: SttListener, context: StreamContext, auth: AiolaAuth) -> None:
        self.auth = auth
        self.execution_id = str(uuid.uuid4())
        self._events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._texts: list[str] = []
        super().__init__(listener, context)

    def url(self, jwt: str) -> str:
        """The streaming URL with this utterance's query."""
        query = {
            "execution_id": self.execution_id,
            "flow_id": self.auth.workflow_id,
            "time_zone": "UTC",
            "x-aiola-api-token": jwt,
            "lang_code": self.auth.settings.lang_code,
        }
        words = keywords(self.context.phrases)
        if words:
            query["keywords"] = json.dumps(words)
        return f"{self.auth.settings.base_url}?{urlencode(query)}"

    async def _run(self) -> None:
        import socketio  # the aiola extra

        jwt = await self.auth.jwt()
        # reconnection=False: a lost connection fails this utterance; the next one starts afresh.
        sio = socketio.AsyncClient(reconnection=False, handle_sigint=False)
        for event in ("transcript", "error", "disconnect"):
            sio.on(event, self._handler(event), namespace=NAMESPACE)
        try:
            await asyncio.wait_for(
                sio.connect(
                    self.url(jwt),
                    headers={"Authorization": f"Bearer {jwt}"},
                    transports=["polling", "websocket"],
                    namespaces=[NAMESPACE],
                    socketio_path=SOCKETIO_PATH,
                    wait_timeout=CONNECT_TIMEOUT_S,
                ),
                CONNECT_TIMEOUT_S + 1,
            )
        except (socketio.exceptions.ConnectionError, TimeoutError) as exc:
            with contextlib.suppress(Exception):
                await sio.disconnect()
            detail = REDACTOR.scrub(str(exc))[:120] or type(exc).__name__
            if "401" in detail or "403" in detail:
                self.auth.invalidate()
                status = "401" if "401" in detail else "403"
                raise StreamFailure(key_refused(status, "stt.aiola.api_key_file")) from None
            # The words of `gateway --check` (agent.gateway.reach).
            parts = urlsplit(self.auth.settings.base_url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
            raise StreamFailure(from_text(detail, parts.hostname or "", port)) from None
        sender = asyncio.create_task(self._send(sio))
        try:
            await self._receive()
            await sender
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
            with contextlib.suppress(Exception):
                await sio.disconnect()

    def _handler(self, event: str) -> Any:
        async def handle(*args: Any) -> None:
            self._events.put_nowait((event, args[0] if args else None))

        return handle

    async def _send(self, sio: Any) -> None:
        while (chunk := await self._take()) is not None and not self.answered:
            await sio.emit("binary_data", chunk, namespace=NAMESPACE)
            if self._no_speech_due():
                self._final(self._transcript(""), "no_speech")
        self._events.put_nowait(("sent", None))

    async def _receive(self) -> None:
        """Events until the turn's transcript (or, after finish, a short wait)."""
        deadline: float | None = None
        loop = asyncio.get_running_loop()
        while not self.answered:
            timeout = None if deadline is None else max(0.0, deadline - loop.time())
            try:
                kind, payload = await asyncio.wait_for(self._events.get(), timeout)
            except TimeoutError:
                break
            if kind == "sent":
                deadline = loop.time() + FINAL_WAIT_S
            elif kind == "transcript":
                text = _text(payload)
                if not text:
                    continue
                if self.context.endpointing and not self.finished:
                    self._final(self._transcript(text), "gateway")
                    self._audio.put_nowait(None)  # wakes the sender: this utterance is over
                    continue
                self._texts.append(text)
                if self.context.endpointing:  # the client ended first: this segment is it
                    break
            elif kind == "error":
                detail = REDACTOR.scrub(json.dumps(payload, default=str))[:200]
                code = payload.get("code") if isinstance(payload, dict) else None
                raise StreamFailure(f"the service reported an error: {detail}", code)
            elif kind == "disconnect":
                raise StreamFailure("the service disconnected", str(payload or "") or None)
        if not self.answered:
            self._final(self._transcript(" ".join(self._texts)), None)

    def _transcript(self, text: str) -> Transcript:
        # aiOla's transcript events carry no confidence: 1.0 for words, 0 for nothing.
        return Transcript(text, 1.0 if text else 0.0, self.engine, self.samples / RATE, 0.0,
                          self.engine)


def _text(payload: Any) -> str:
    if isinstance(payload, dict):
        payload = payload.get("transcript", "")
    return " ".join(str(payload).split()) if isinstance(payload, str) else ""
