"""Helpers for the reference gateway's tests: a plain protocol client over real sockets.

Speech comes from ``tests/speech.py`` (espeak-ng, cached per session) and from
the shared recordings. Messages from the gateway are parsed with the project's
own :func:`agent.link.protocol.decode_gateway`, so the tests also check that what
the gateway sends is what the device side accepts.
"""

from __future__ import annotations

import base64
import json
import uuid
import wave
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from recordings import AUDIO
from speech import say
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from agent.link.protocol import (
    GatewayError,
    GatewayMessage,
    ReplyAudioData,
    ReplyAudioEnd,
    ReplyAudioStart,
    Response,
    SttTranscript,
    TextReply,
    Unknown,
    decode_gateway,
)

AUDIO_DIR = AUDIO
RATE = 16000
CHUNK = 3200  # 100 ms of s16le


def recording(name: str) -> bytes:
    """PCM of a shared recording (16 kHz mono s16le WAV)."""
    with wave.open(str(AUDIO_DIR / f"{name}.wav")) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (RATE, 1, 2)
        return w.readframes(w.getnframes())


def silence(seconds: float) -> bytes:
    """Digital silence."""
    return bytes(2 * int(seconds * RATE))


def spoken(text: str, voice: str = "en-us", *, lead_s: float = 0.5, trail_s: float = 0.8) -> bytes:
    """espeak-ng speech of ``text`` with silence around it, as PCM."""
    speech = np.asarray(say(text, voice, 150), dtype="<i2").tobytes()
    return silence(lead_s) + speech + silence(trail_s)


def audio_msg(tid: str, pcm: bytes) -> str:
    """One client audio_data frame."""
    data = base64.b64encode(pcm).decode()
    return json.dumps({"id": tid, "action": "audio_data", "encoding": "base64", "data": data})


@dataclass
class Turn:
    """Everything the gateway sent for one turn."""

    messages: list[GatewayMessage | Unknown] = field(default_factory=list)

    def first(self, kind: type) -> Any:
        """The first message of ``kind`` (AssertionError when none)."""
        for m in self.messages:
            if isinstance(m, kind):
                return m
        raise AssertionError(f"no {kind.__name__} in {[type(m).__name__ for m in self.messages]}")

    @property
    def transcript(self) -> SttTranscript:
        return self.first(SttTranscript)

    @property
    def response(self) -> Response:
        return self.first(Response)

    @property
    def text(self) -> TextReply:
        return self.first(TextReply)

    @property
    def skill(self) -> str:
        return str(self.response.data.get("skill"))

    @property
    def reply_audio(self) -> bytes:
        return b"".join(m.audio for m in self.messages if isinstance(m, ReplyAudioData))

    @property
    def actions(self) -> list[str]:
        """Message kinds in order, audio_data collapsed to one entry."""
        out: list[str] = []
        for m in self.messages:
            if not (out and out[-1] == "audio_data" and m.action == "audio_data"):
                out.append(m.action)
        return out


def receive(ws: ClientConnection, timeout: float = 30.0) -> GatewayMessage | Unknown:
    """The next message from the gateway, decoded."""
    return decode_gateway(ws.recv(timeout=timeout))


def read_reply(ws: ClientConnection, turn: Turn | None = None, timeout: float = 30.0) -> Turn:
    """Messages up to the end of the spoken reply (or an error)."""
    turn = turn or Turn()
    while True:
        msg = receive(ws, timeout)
        turn.messages.append(msg)
        if isinstance(msg, ReplyAudioEnd | GatewayError):
            return turn


def utterance(
    ws: ClientConnection,
    pcm: bytes,
    *,
    tid: str | None = None,
    options: dict[str, Any] | None = None,
) -> Turn:
    """Stream ``pcm`` and end it ourselves with audio_end; returns the reply."""
    tid = tid or str(uuid.uuid4())
    start: dict[str, Any] = {"id": tid, "action": "audio_start"}
    if options is not None:
        start["options"] = options
    ws.send(json.dumps(start))
    for i in range(0, len(pcm), CHUNK):
        ws.send(audio_msg(tid, pcm[i : i + CHUNK]))
    ws.send(json.dumps({"id": tid, "action": "audio_end"}))
    return read_reply(ws)


def utterance_until_transcript(
    ws: ClientConnection, pcm: bytes, *, tid: str | None = None, max_silence_s: float = 20.0
) -> tuple[Turn, int]:
    """The old client's way: stream speech, then silence until stt_transcript, then audio_end.

    Returns the reply and how many bytes were sent in all.
    """
    tid = tid or str(uuid.uuid4())
    ws.send(json.dumps({"id": tid, "action": "audio_start"}))
    sent = 0
    for i in range(0, len(pcm), CHUNK):
        ws.send(audio_msg(tid, pcm[i : i + CHUNK]))
        sent += len(pcm[i : i + CHUNK])
    turn = Turn()
    quiet = silence(0.1)
    for _ in range(int(max_silence_s * 10)):
        try:  # paced like a microphone: 100 ms of silence per 100 ms of waiting
            msg = decode_gateway(ws.recv(timeout=0.1))
        except TimeoutError:
            ws.send(audio_msg(tid, quiet))
            sent += len(quiet)
            continue
        turn.messages.append(msg)
        if isinstance(msg, SttTranscript):
            break
    else:
        raise AssertionError("the gateway never ended the utterance")
    ws.send(json.dumps({"id": tid, "action": "audio_end"}))
    return read_reply(ws, turn), sent


def text_turn(ws: ClientConnection, text: str) -> Turn:
    """Typed input."""
    ws.send(json.dumps({"id": str(uuid.uuid4()), "action": "text", "text": text}))
    return read_reply(ws)


def open_client(url: str, **kwargs: Any) -> ClientConnection:
    """A connection to the gateway."""
    return connect(url, open_timeout=30, close_timeout=5, **kwargs)


def closed_code(ws: ClientConnection, timeout: float = 30.0) -> int | None:
    """Wait until the gateway closes ``ws``; its close code (messages before are skipped)."""
    try:
        while True:
            ws.recv(timeout=timeout)
    except ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd is not None else None


def first_reply_start(turn: Turn) -> ReplyAudioStart:
    """The reply's audio_start."""
    return turn.first(ReplyAudioStart)
