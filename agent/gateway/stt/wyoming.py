"""Any Wyoming speech-to-text server (``stt.engine: wyoming``): faster-whisper and the rest.

The server is described (``describe`` -> ``info``) when the gateway starts
and again before the first utterance after a failure (a reconnect): its ASR
programs and models are logged, and its flags read
(``supports_transcript_streaming``, ``requires_external_vad``).

One connection per utterance (wyoming-faster-whisper closes after its
transcript): ``transcribe`` (``language``, and ``name`` when a model is
configured), ``audio-start`` (16 kHz, 16-bit, mono), one ``audio-chunk`` per
``audio_data`` as it arrives, ``audio-stop`` at the end of the utterance,
then events until ``transcript``, waited for at most ``timeout_s``. A
streaming server's ``transcript-start`` / ``transcript-chunk`` are relayed as
partials. The gateway's own endpointer ends the utterance, as with
pocketsphinx, because most Wyoming ASR servers need external VAD; a server
that ends it itself (a ``transcript`` before ``audio-stop``) is taken at its
word. Every fault (down, closed, silent, garbage, an ``error`` event) fails
this utterance only: the device gets an ``error`` and the next one
reconnects. The framing is the ``wyoming`` library's.
"""

from __future__ import annotations

import asyncio
import logging

from wyoming.asr import Transcribe, TranscriptChunk, TranscriptStart
from wyoming.asr import Transcript as WyomingTranscript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncClient
from wyoming.info import Info

from agent.gateway import wyoming_link as link
from agent.gateway.stt.endpoint import Endpointer
from agent.gateway.stt.engine import Transcript
from agent.gateway.stt.stream import StreamBase, StreamContext, StreamFailure, SttListener
from agent.gateway.wyoming_link import WyomingFault
from agent.gateway.wyoming_settings import WyomingSttSettings

log = logging.getLogger(__name__)

RATE, WIDTH, CHANNELS = 16000, 2, 1
MAX_EVENTS = 10_000
"""Events read in one utterance at most (a server flooding us is a fault)."""


class WyomingAsr:
    """The configured server and what its ``info`` said (see the module docs)."""

    def __init__(self, settings: WyomingSttSettings) -> None:
        self.settings = settings
        self.info: Info | None = None
        """None until described, and again after a failure (describe on reconnect)."""
        self.streaming = False
        """The server streams transcripts (``transcript-start`` / ``-chunk``)."""
        self.external_vad = True
        """The server needs the client to end the utterance (most do)."""
        self.describes = 0

    async def describe(self) -> Info:
        """``describe`` -> ``info``: log the programs and models, keep the flags."""
        s = self.settings
        info = await link.describe(s.uri, s.timeout_s)
        if not info.asr:
            raise WyomingFault(f"{s.uri} offers no speech to text (its info lists no asr)")
        self.describes += 1
        program = info.asr[0]
        self.streaming = bool(program.supports_transcript_streaming)
        self.external_vad = bool(program.requires_external_vad)
        for line in link.asr_lines(info):
            log.info("stt wyoming %s: %s", s.uri, line)
        names = {m.name for p in info.asr for m in p.models}
        if s.model is not None and s.model not in names:
            log.warning("stt wyoming %s: stt.wyoming.model %r is not among its models (%s)",
                        s.uri, s.model, ", ".join(sorted(names)) or "none")
        self.info = info
        return info

    def lost(self) -> None:
        """The server failed: describe it again before the next utterance."""
        self.info = None

    def describe_at_start(self) -> None:
        """At start-up, on a worker thread: describe, or say why not (not fatal)."""
        try:
            asyncio.run(self.describe())
        except WyomingFault as exc:
            log.warning("stt wyoming: %s; every utterance tries again (the device gets an "
                        "error until it answers)", exc)


class WyomingStream(StreamBase):
    """One utterance on one connection (see the module docs)."""

    engine = "wyoming"

    def __init__(self, listener: SttListener, context: StreamContext, server: WyomingAsr) -> None:
        self.server = server
        self._endpointer = (
            Endpointer(silence_ms=context.silence_ms) if context.endpointing else None
        )
        self._end: tuple[str | None, int | None] = (None, None)
        super().__init__(listener, context)

    async def _run(self) -> None:
        s = self.server.settings
        client: AsyncClient | None = None
        try:
            if self.server.info is None:
                await self.server.describe()
            client = await link.connect(s.uri, s.timeout_s)
            await self._session(client)
        except WyomingFault as exc:
            self.server.lost()
            raise StreamFailure(str(exc)) from None
        finally:
            if client is not None:
                await link.close(client)

    async def _session(self, client: AsyncClient) -> None:
        s = self.server.settings
        await link.write(client, Transcribe(name=s.model, language=s.language).event())
        await link.write(client, AudioStart(rate=RATE, width=WIDTH, channels=CHANNELS).event())
        reader = asyncio.create_task(self._read(client))
        sender = asyncio.create_task(self._send(client))
        try:
            done, _ = await asyncio.wait({reader, sender}, return_when=asyncio.FIRST_COMPLETED)
            if reader in done and not sender.done():  # the server ended it (or failed) first
                text = reader.result()
                self._answer(text, "gateway")
                return
            sender.result()  # raises when a write failed
            try:
                text = await asyncio.wait_for(asyncio.shield(reader), s.timeout_s)
            except TimeoutError:
                raise WyomingFault(
                    f"no transcript within {s.timeout_s:g} s of audio-stop") from None
            reason, end = self._end
            if end is not None:
                self.samples = end  # the utterance ended there
            self._answer(text, reason)
        finally:
            for task in (reader, sender):
                task.cancel()
            await asyncio.gather(reader, sender, return_exceptions=True)

    async def _send(self, client: AsyncClient) -> None:
        """An ``audio-chunk`` per piece as it comes; ``audio-stop`` at the end of the utterance."""
        while (chunk := await self._take()) is not None:
            chunk_event = AudioChunk(rate=RATE, width=WIDTH, channels=CHANNELS, audio=chunk)
            await link.write(client, chunk_event.event())
            if self._endpointer is not None:
                ended = self._endpointer.feed(chunk)
                self.heard = self._endpointer.speech_start is not None
                if ended is not None:
                    self._end = ("gateway", ended)
                    break
            if self._no_speech_due():
                self._end = ("no_speech", self.samples)
                break
        await link.write(client, AudioStop().event())

    async def _read(self, client: AsyncClient) -> str:
        """Events until ``transcript`` (its text); partials relayed on the way."""
        pieces: list[str] = []
        for _ in range(MAX_EVENTS):
            event = await link.read(client, None, "transcript")
            try:
                if WyomingTranscript.is_type(event.type):
                    return str(WyomingTranscript.from_event(event).text or "").strip()
                if TranscriptStart.is_type(event.type):
                    pieces.clear()
                elif TranscriptChunk.is_type(event.type):
                    pieces.append(str(TranscriptChunk.from_event(event).text))
                    self._partial("".join(pieces).strip())
                else:
                    log.debug("wyoming %s: ignoring a %r event", self.context.label,
                              str(event.type)[:40])
            except (KeyError, TypeError, AttributeError):
                raise WyomingFault(f"the server sent a {str(event.type)[:40]!r} event that is "
                                   "not valid") from None
        raise WyomingFault(f"more than {MAX_EVENTS} events without a transcript")

    def _answer(self, text: str, reason: str | None) -> None:
        # Wyoming gives no confidence: a transcript is taken as heard.
        transcript = Transcript(text, 1.0 if text else 0.0, self.engine, self.samples / RATE,
                                0.0, self.engine)
        self._final(transcript, reason)
