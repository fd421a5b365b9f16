"""A scripted gateway for daemon tests: a real WebSocket server on 127.0.0.1.

Each turn (``audio_start`` ... ``audio_end``) is answered by the next
:class:`Reply` of the script, so a test decides exactly what the daemon hears
back (forms, prompts, errors, silence) without depending on speech
recognition. It records everything the daemon sent, per transaction.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve

from agent.link import protocol as p


@dataclass
class Reply:
    """What the gateway answers to one turn."""

    transcript: str = "hello"
    text: str | None = "Hi there."
    prompt: p.Prompt | None = None
    audio: np.ndarray | None = None  # int16 16 kHz samples of the spoken reply
    prompt_on_text: bool = False  # the old client's form: prompt on text, not audio_end
    buffer_form: bool = False  # reply audio as a Node Buffer object
    error: str | None = None  # answer with an error message instead
    silent: bool = False  # never answer
    drop: bool = False  # close the connection instead of answering
    endpoint_after_s: float | None = None  # send stt_transcript once this much audio arrived
    card: dict[str, Any] | None = None
    card_after_audio: dict[str, Any] | None = None  # a second response, once the audio is sent
    speech_after_s: float = 0.0  # a slow text to speech: the audio starts this long after text
    # Sent as soon as audio_start arrives (the device is mid-turn): (transaction id) -> messages
    on_start: Callable[[str], list[p.Message]] | None = None


@dataclass
class Transaction:
    """What the daemon sent for one transaction."""

    id: str
    options: dict[str, Any] | None
    audio: bytearray = field(default_factory=bytearray)
    ended: bool = False
    ended_after_transcript: bool = False

    @property
    def samples(self) -> np.ndarray:
        """The concatenated audio as int16."""
        return np.frombuffer(bytes(self.audio), dtype="<i2")


class ScriptedGateway:
    """Serve ``script`` (one :class:`Reply` per turn) on a free loopback port."""

    def __init__(self, script: list[Reply] | None = None) -> None:
        self.script = list(script or [])
        self.messages: list[p.ClientMessage | p.Unknown] = []
        self.transactions: list[Transaction] = []
        self.connections = 0
        self.close_codes: list[int | None] = []
        self._cond = threading.Condition()
        self._server = serve(self._handler, "127.0.0.1", 0)
        self.port = self._server.socket.getsockname()[1]
        self.url = f"ws://127.0.0.1:{self.port}/audio"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self._live: list[ServerConnection] = []

    def stop(self) -> None:
        """Shut the server down and close every connection."""
        self._server.shutdown()
        self._thread.join(5)

    def __enter__(self) -> ScriptedGateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 30.0) -> bool:
        """Wait until ``predicate()`` holds (checked whenever something arrives)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.2))
        return True

    def actions(self) -> list[str]:
        """Actions received so far, in order."""
        with self._cond:
            return [m.action for m in self.messages]

    def push(self, messages: list[p.Message]) -> None:
        """Send ``messages`` to every open connection now (announcements)."""
        assert self.wait_for(lambda: bool(self._live), 10), "no connection to push to"
        for ws in list(self._live):
            for m in messages:
                ws.send(p.encode(m))

    def drop_all(self) -> None:
        """Close every open connection (the daemon should reconnect)."""
        for ws in list(self._live):
            ws.close()

    # ------------------------------------------------------------------
    def _handler(self, ws: ServerConnection) -> None:
        with self._cond:
            self._live.append(ws)
            self.connections += 1
            self._cond.notify_all()
        current: Transaction | None = None
        reply: Reply | None = None
        try:
            for raw in ws:
                msg = p.decode_client(raw)
                with self._cond:
                    self.messages.append(msg)
                    self._cond.notify_all()
                if isinstance(msg, p.AudioStart):
                    current = Transaction(msg.id, msg.options)
                    reply = self.script.pop(0) if self.script else Reply()
                    with self._cond:
                        self.transactions.append(current)
                    if reply.on_start is not None:
                        for m in reply.on_start(msg.id):
                            ws.send(p.encode(m))
                elif isinstance(msg, p.AudioData) and current and current.id == msg.id:
                    with self._cond:
                        current.audio += msg.audio
                        self._cond.notify_all()
                    limit = reply.endpoint_after_s if reply else None
                    if limit is not None and len(current.audio) >= limit * 32000:
                        assert reply is not None
                        reply.endpoint_after_s = None
                        ws.send(p.encode(p.SttTranscript(current.id, reply.transcript, 0.9)))
                        current.ended_after_transcript = True
                elif isinstance(msg, p.AudioEnd) and current and current.id == msg.id:
                    with self._cond:
                        current.ended = True
                        self._cond.notify_all()
                    if reply is not None:
                        self._answer(ws, current, reply)
                    current, reply = None, None
        except ConnectionClosed:
            pass
        finally:
            self._live.remove(ws)
            with self._cond:
                self.close_codes.append(ws.close_code)
                self._cond.notify_all()

    def _answer(self, ws: ServerConnection, turn: Transaction, reply: Reply) -> None:
        if reply.silent:
            return
        if reply.drop:
            ws.close()
            return
        if reply.error is not None:
            ws.send(p.encode(p.GatewayError(turn.id, reply.error)))
            return
        if not turn.ended_after_transcript:
            ws.send(p.encode(p.SttTranscript(turn.id, reply.transcript, 0.9, turn.id)))
        data: dict[str, Any] = {"speech": {"text": reply.text}}
        if reply.card:
            data["card"] = reply.card
        ws.send(p.encode(p.Response(turn.id, data)))
        if reply.text is not None:
            prompt = reply.prompt if reply.prompt_on_text else None
            ws.send(p.encode(p.TextReply(turn.id, reply.text, prompt=prompt)))
        if reply.audio is not None:
            if reply.speech_after_s:
                threading.Event().wait(reply.speech_after_s)  # the stand-in's slow speech
            rid = p.new_id()
            ws.send(p.encode(p.ReplyAudioStart(rid)))
            pcm = reply.audio.astype("<i2").tobytes()
            for i in range(0, len(pcm), 3200):
                ws.send(
                    p.encode(
                        p.ReplyAudioData(rid, pcm[i : i + 3200]), buffer_form=reply.buffer_form
                    )
                )
            end_prompt = None if reply.prompt_on_text else reply.prompt
            ws.send(p.encode(p.ReplyAudioEnd(rid, end_prompt)))
        if reply.card_after_audio:
            ws.send(p.encode(p.Response(turn.id, {"card": reply.card_after_audio})))
