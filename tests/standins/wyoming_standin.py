"""Stand-ins for Wyoming speech servers (ASR like wyoming-faster-whisper, TTS like wyoming-piper).

Written with the ``wyoming`` library's own server classes (``AsyncTcpServer``,
``AsyncEventHandler``) and event classes, so the framing is the reference
library's; on 127.0.0.1, on their own thread and event loop.

- ASR: ``describe`` -> ``info`` (one program, one model; ``streaming`` sets
  ``supports_transcript_streaming``), then ``transcribe``, ``audio-start``,
  ``audio-chunk``* (recorded with the time each arrived), ``audio-stop`` ->
  ``transcript`` with a scripted sentence no skill has (a streaming server
  sends ``transcript-start`` / ``transcript-chunk``* first and
  ``transcript-stop`` after, as the protocol says).
- TTS: ``info`` lists two voices; ``synthesize`` -> ``audio-start`` /
  ``audio-chunk``* / ``audio-stop`` of known PCM at 22,050 Hz (:func:`pcm_for`);
  a streaming server answers each ``synthesize-chunk`` with its audio at once
  and ``synthesize-stop`` with ``synthesize-stopped``, ignoring the
  ``synthesize`` sent for older servers, as wyoming-piper does.

Faults, scripted per connection (:class:`Script`): ``close`` (hang up after
``after`` audio bytes or TTS chunks), ``silent`` (never answer), ``garbage``
(a line that is not a Wyoming event), ``error`` (an ``error`` event). And an ASR
server with its own VAD (``own_vad_after``: the transcript before ``audio-stop``).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from wyoming.asr import Transcript, TranscriptChunk, TranscriptStart, TranscriptStop
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import (
    AsrModel,
    AsrProgram,
    Attribution,
    Describe,
    Info,
    TtsProgram,
    TtsVoice,
    TtsVoiceSpeaker,
)
from wyoming.server import AsyncEventHandler, AsyncServer, AsyncTcpServer, AsyncUnixServer
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
)

TEXT = "Purple elephants dance at midnight."
"""What the ASR stand-in hears (no skill phrase; nothing pocketsphinx would say)."""
PIECES = ("Purple ", "elephants ", "dance at midnight.")
"""Its streamed transcript-chunk texts."""
TTS_RATE = 22050
SAMPLES_PER_CHUNK = 1024  # as wyoming-piper sends them
VOICES = ("en_US-lessac-medium", "en_GB-alba-medium")
ATTRIBUTION = Attribution(name="voice-agent tests", url="https://example.invalid/")


def pcm_for(text: str) -> bytes:
    """The stand-in's speech for ``text``: a tone whose pitch and length depend on it (s16le)."""
    n = int(TTS_RATE * (0.25 + 0.01 * len(text)))
    freq = 180 + 7 * (sum(text.encode()) % 60)
    t = np.arange(n) / TTS_RATE
    wave = 0.3 * np.sin(2 * np.pi * freq * t) * np.minimum(1.0, np.minimum(t, t[::-1]) * 40)
    return np.round(wave * 32767).astype("<i2").tobytes()


@dataclass
class Script:
    """What one connection does."""

    fault: str | None = None
    """None, "close", "silent", "garbage" or "error"."""
    after: int = 0
    """Audio bytes (ASR) or audio chunks sent (TTS) before the fault."""
    text: str = TEXT
    own_vad_after: int = 0
    """ASR: answer after this many audio bytes without waiting for audio-stop (a server
    with its own VAD); 0: at audio-stop."""


@dataclass
class Conn:
    """What one connection to a stand-in did."""

    script: Script | None = None
    events: list[str] = field(default_factory=list)
    transcribe: dict[str, Any] | None = None
    audio_start: dict[str, Any] | None = None
    audio: bytearray = field(default_factory=bytearray)
    chunk_times: list[float] = field(default_factory=list)
    """time.time() when each audio-chunk arrived (ASR)."""
    stopped_at: float | None = None
    transcript_at: float | None = None
    """time.time() just before the transcript was written (ASR)."""
    texts: list[str] = field(default_factory=list)
    """Texts to speak, as received (TTS)."""
    voices: list[dict[str, Any] | None] = field(default_factory=list)
    chunks: int = 0
    """Audio chunks sent (TTS)."""
    first_audio_at: float | None = None
    """time.time() just before the first audio-chunk was written (TTS)."""
    open: bool = True


class _Handler(AsyncEventHandler):
    def __init__(self, owner: WyomingStandIn, *args: Any) -> None:
        super().__init__(*args)
        self.owner = owner
        self.conn = owner._new_conn()
        self.streaming_request = False

    async def disconnect(self) -> None:
        self.owner._changed(lambda: setattr(self.conn, "open", False))

    async def handle_event(self, event: Event) -> bool:
        c, o = self.conn, self.owner
        o._changed(lambda: c.events.append(event.type))
        if Describe.is_type(event.type):
            await self.write_event(o.info().event())
            return True
        if c.script is None:  # scripts go to connections that do work, not to describe
            c.script = o._next_script()
        if o.kind == "asr":
            return await self._asr(event)
        return await self._tts(event)

    async def _fault(self) -> bool:
        """Act out the script's fault; False: hang up."""
        assert self.conn.script is not None
        fault = self.conn.script.fault
        if fault == "close":
            return False
        if fault == "silent":
            await asyncio.sleep(3600)  # cancelled when the server stops
        if fault == "garbage":
            self.writer.write(b"this is not { a wyoming event\n")
            await self.writer.drain()
            return True
        if fault == "error":
            await self.write_event(Error(text="the model failed", code="test-fault").event())
            return True
        return True

    async def _asr(self, event: Event) -> bool:
        c, o = self.conn, self.owner
        assert c.script is not None
        if event.type == "transcribe":
            o._changed(lambda: setattr(c, "transcribe", dict(event.data)))
        elif AudioStart.is_type(event.type):
            o._changed(lambda: setattr(c, "audio_start", dict(event.data)))
        elif AudioChunk.is_type(event.type):
            chunk = AudioChunk.from_event(event)

            def add() -> None:
                c.audio += chunk.audio
                c.chunk_times.append(time.time())

            o._changed(add)
            if c.script.fault and len(c.audio) >= c.script.after and c.script.after > 0:
                return await self._fault()
            if 0 < c.script.own_vad_after <= len(c.audio) and c.transcript_at is None:
                return await self._transcript()
        elif AudioStop.is_type(event.type):
            o._changed(lambda: setattr(c, "stopped_at", time.time()))
            if c.script.fault:
                return await self._fault()
            if c.transcript_at is None:
                return await self._transcript()
        return True

    async def _transcript(self) -> bool:
        c, o = self.conn, self.owner
        assert c.script is not None
        if o.streaming:
            await self.write_event(TranscriptStart(language="en").event())
            for piece in PIECES:
                await self.write_event(TranscriptChunk(text=piece).event())
        c.transcript_at = time.time()
        await self.write_event(Transcript(text=c.script.text, language="en").event())
        if o.streaming:
            await self.write_event(TranscriptStop().event())
        return False  # one transcript per connection, as wyoming-faster-whisper does

    async def _tts(self, event: Event) -> bool:
        c, o = self.conn, self.owner
        if SynthesizeStart.is_type(event.type) and o.streaming:
            self.streaming_request = True
            o._changed(lambda: c.voices.append(event.data.get("voice")))
        elif SynthesizeChunk.is_type(event.type) and self.streaming_request:
            text = SynthesizeChunk.from_event(event).text
            o._changed(lambda: c.texts.append(text))
            return await self._speak(text)
        elif Synthesize.is_type(event.type) and not self.streaming_request:
            request = Synthesize.from_event(event)

            def note() -> None:
                c.texts.append(request.text)
                c.voices.append(event.data.get("voice"))

            o._changed(note)
            return await self._speak(request.text)
        elif SynthesizeStop.is_type(event.type) and self.streaming_request:
            await self.write_event(SynthesizeStopped().event())
        return True

    async def _speak(self, text: str) -> bool:
        c = self.conn
        assert c.script is not None
        if c.script.fault and c.script.after == 0:
            return await self._fault()
        pcm = pcm_for(text)
        await self.write_event(AudioStart(rate=TTS_RATE, width=2, channels=1).event())
        step = 2 * SAMPLES_PER_CHUNK
        for i in range(0, len(pcm), step):
            if c.first_audio_at is None:
                c.first_audio_at = time.time()
            await self.write_event(AudioChunk(rate=TTS_RATE, width=2, channels=1,
                                              audio=pcm[i : i + step]).event())
            c.chunks += 1
            if c.script.fault and c.chunks >= c.script.after > 0:
                return await self._fault()
        await self.write_event(AudioStop().event())
        return True


class WyomingStandIn:
    """A stand-in server on its own thread: ``with WyomingStandIn("asr") as s: ... s.uri``."""

    def __init__(self, kind: str, *, streaming: bool = False, port: int = 0,
                 unix: str | None = None) -> None:
        assert kind in ("asr", "tts")
        self.kind = kind
        self.streaming = streaming
        self.unix = unix
        """A Unix socket path to listen on instead of TCP."""
        self.port = port or free_port()
        self.scripts: deque[Script] = deque()
        self.conns: list[Conn] = []
        self.describes = 0
        self._cond = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: AsyncTcpServer | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name=f"wyoming-{kind}", daemon=True)

    @property
    def uri(self) -> str:
        return f"unix://{self.unix}" if self.unix else f"tcp://127.0.0.1:{self.port}"

    def info(self) -> Info:
        """What ``describe`` answers."""
        with self._cond:
            self.describes += 1
        if self.kind == "asr":
            model = AsrModel(name="tiny-int8", attribution=ATTRIBUTION, installed=True,
                             description="a stand-in", version="1", languages=["en", "de"])
            return Info(asr=[AsrProgram(
                name="standin-asr", attribution=ATTRIBUTION, installed=True,
                description="stand-in ASR", version="1.0", models=[model],
                supports_transcript_streaming=self.streaming, requires_external_vad=True)])
        voices = [TtsVoice(name=v, attribution=ATTRIBUTION, installed=True, description=None,
                           version=None, languages=[v.split("-")[0]],
                           speakers=[TtsVoiceSpeaker(name="p1"), TtsVoiceSpeaker(name="p2")]
                           if i else None) for i, v in enumerate(VOICES)]
        return Info(tts=[TtsProgram(
            name="standin-tts", attribution=ATTRIBUTION, installed=True,
            description="stand-in TTS", version="1.0", voices=voices,
            supports_synthesize_streaming=self.streaming)])

    def next(self, *scripts: Script) -> None:
        """Scripts for the next connections, in order (then no fault)."""
        with self._cond:
            self.scripts.extend(scripts)

    def wait(self, predicate: Any, timeout: float = 30.0) -> None:
        """Block until ``predicate(self)`` holds (AssertionError after ``timeout``)."""
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(self), timeout):
                raise AssertionError(f"wyoming stand-in: condition not met in {timeout} s; "
                                     f"connections: {[c.events[:6] for c in self.conns]}")

    def work(self) -> list[Conn]:
        """Connections that did more than describe."""
        with self._cond:
            return [c for c in self.conns if any(e != "describe" for e in c.events)]

    def _new_conn(self) -> Conn:
        with self._cond:
            conn = Conn()
            self.conns.append(conn)
            self._cond.notify_all()
            return conn

    def _next_script(self) -> Script:
        with self._cond:
            return self.scripts.popleft() if self.scripts else Script()

    def _changed(self, change: Any) -> None:
        with self._cond:
            change()
            self._cond.notify_all()

    # ---------------------------------------------------------------- lifetime

    def start(self) -> WyomingStandIn:
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the Wyoming stand-in did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    def __enter__(self) -> WyomingStandIn:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _main(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server: AsyncServer = AsyncUnixServer(self.unix) if self.unix else \
            AsyncTcpServer("127.0.0.1", self.port)
        await server.start(lambda r, w: _Handler(self, r, w))
        self._ready.set()
        await self._stop.wait()
        await server.stop()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def free_port() -> int:
    """A TCP port nothing listens on now (for a server that is down, or starts later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
