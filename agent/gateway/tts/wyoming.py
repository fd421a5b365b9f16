"""Any Wyoming text-to-speech server (``tts.engine: wyoming``): Piper and the rest.

The server is described (``describe`` -> ``info``) before the first reply and
again after a failure: its voices are logged, and
``supports_synthesize_streaming`` chooses how sentences go out:

- streaming: one connection per reply: ``synthesize-start`` (with the
  voice), a ``synthesize-chunk`` per sentence as the agent makes it, then
  ``synthesize`` with the whole text (for servers that do not stream; a
  streaming one ignores it), ``synthesize-stop``; the server answers
  ``audio-start`` / ``audio-chunk``* / ``audio-stop`` per sentence as each is
  ready, and ``synthesize-stopped`` at the end;
- otherwise one ``synthesize`` per sentence, each on its own connection.

Audio in any rate, width and channel count (Piper: 22,050 Hz, 16-bit, mono)
becomes 16 kHz mono s16le with soxr's streaming resampler
(:class:`~agent.gateway.tts.resample.Resampler`), and each converted chunk is
yielded at once. ``timeout_s`` bounds the connect and every wait for audio
the server owes. The voice is ``tts.wyoming.voice`` (with ``speaker``), or a
client's ``tts_options.voice`` when the server lists it. A failure raises
:class:`~agent.gateway.tts.fallback.PartialFailure`; :func:`create` wraps
the speaker so that espeak-ng says the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator
from typing import TYPE_CHECKING

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncClient
from wyoming.event import Event
from wyoming.info import Info
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
    SynthesizeVoice,
)

from agent.gateway import wyoming_link as link
from agent.gateway.tts.engine import Speaker
from agent.gateway.tts.espeak import MAX_TEXT, Espeak
from agent.gateway.tts.fallback import FallbackSpeaker, PartialFailure
from agent.gateway.tts.resample import Resampler
from agent.gateway.wyoming_link import WyomingFault
from agent.gateway.wyoming_settings import WyomingTtsSettings

if TYPE_CHECKING:
    from agent.gateway.settings import GatewaySettings

log = logging.getLogger(__name__)

MAX_EVENTS = 100_000
"""Events read for one reply at most (a server flooding us is a fault)."""


def create(settings: GatewaySettings) -> Speaker:
    """``tts.engine: wyoming``: the server, with espeak-ng (``tts.voice``, ``tts.speed``) behind."""
    t = settings.tts
    return FallbackSpeaker(WyomingSpeaker(t.wyoming), Espeak(voice=t.voice, speed=t.speed))


class _Reply:
    """How far one reply got: sentences fully spoken, the resampler of the current one."""

    def __init__(self) -> None:
        self.done = 0
        self.conv: Resampler | None = None

    def audio(self, event: Event) -> bytes | None:
        """The converted audio of one event (None: not an audio event)."""
        event_type = str(event.type)
        try:
            if AudioStart.is_type(event_type):
                start = AudioStart.from_event(event)
                self.conv = Resampler(start.rate, width=start.width, channels=start.channels)
                return b""
            if AudioChunk.is_type(event_type):
                chunk = AudioChunk.from_event(event)
                if self.conv is None:  # no audio-start: the chunk says its own format
                    self.conv = Resampler(chunk.rate, width=chunk.width, channels=chunk.channels)
                return self.conv.convert(chunk.audio)
            if AudioStop.is_type(event_type):
                tail = self.conv.convert(b"", last=True) if self.conv is not None else b""
                self.conv = None
                self.done += 1
                return tail
        except (KeyError, TypeError, ValueError):
            raise WyomingFault(f"the server sent a {event_type[:40]!r} event that is not valid "
                               "audio") from None
        return None


class WyomingSpeaker:
    """A Wyoming TTS server as a :class:`~agent.gateway.tts.engine.Speaker`."""

    name = "wyoming"

    def __init__(self, settings: WyomingTtsSettings) -> None:
        self.settings = settings
        self.info: Info | None = None
        """None until described, and again after a failure."""
        self.streaming = False
        self.voices: dict[str, set[str]] = {}
        """The server's voices and their speakers."""

    async def describe(self) -> Info:
        """``describe`` -> ``info``: log the voices, keep the streaming flag."""
        s = self.settings
        info = await link.describe(s.uri, s.timeout_s)
        if not info.tts:
            raise WyomingFault(f"{s.uri} offers no text to speech (its info lists no tts)")
        self.streaming = bool(info.tts[0].supports_synthesize_streaming)
        self.voices = {v.name: {sp.name for sp in v.speakers or []}
                       for p in info.tts for v in p.voices}
        for line in link.tts_lines(info):
            log.info("tts wyoming %s: %s", s.uri, line)
        if s.voice is not None and s.voice not in self.voices:
            log.warning("tts wyoming %s: tts.wyoming.voice %r is not among its voices", s.uri,
                        s.voice)
        self.info = info
        return info

    def voice_for(self, requested: str | None) -> SynthesizeVoice | None:
        """The client's voice when the server has it, else the configured one (None: default)."""
        s = self.settings
        if requested and requested in self.voices and requested != s.voice:
            return SynthesizeVoice(name=requested)
        if s.voice is None:
            return None
        return SynthesizeVoice(name=s.voice, speaker=s.speaker)

    async def speak(self, sentences: AsyncIterable[str], voice: str | None) -> AsyncIterator[bytes]:
        """16 kHz mono s16le of ``sentences``, each chunk as soon as it is converted."""
        reply = _Reply()
        try:
            if self.info is None:
                await self.describe()
            chosen = self.voice_for(voice)
            audio = self._streamed(sentences, chosen, reply) if self.streaming else \
                self._one_by_one(sentences, chosen, reply)
            async with contextlib.aclosing(audio):
                async for pcm in audio:
                    if pcm:
                        yield pcm
        except WyomingFault as exc:
            self.info = None  # describe again before the next reply
            raise PartialFailure(str(exc), reply.done) from None

    async def _one_by_one(
        self, sentences: AsyncIterable[str], voice: SynthesizeVoice | None, reply: _Reply
    ) -> AsyncGenerator[bytes, None]:
        s = self.settings
        async for sentence in sentences:
            text = " ".join(sentence.split())[:MAX_TEXT]
            if not text:
                reply.done += 1
                continue
            client = await link.connect(s.uri, s.timeout_s)
            try:
                await link.write(client, Synthesize(text=text, voice=voice).event())
                stops = reply.done + 1
                for _ in range(MAX_EVENTS):
                    event = await link.read(client, s.timeout_s, "audio")
                    pcm = reply.audio(event)
                    if pcm:
                        yield pcm
                    if reply.done == stops:
                        break
                else:
                    raise WyomingFault(f"more than {MAX_EVENTS} events for one sentence")
            finally:
                await link.close(client)

    async def _streamed(
        self, sentences: AsyncIterable[str], voice: SynthesizeVoice | None, reply: _Reply
    ) -> AsyncGenerator[bytes, None]:
        s = self.settings
        client = await link.connect(s.uri, s.timeout_s)
        sent: list[str] = []
        wake = asyncio.Event()  # a sentence went out: the server owes audio
        feeder = asyncio.create_task(self._feed(client, sentences, voice, sent, wake))
        reading: asyncio.Task[Event] | None = None
        waking: asyncio.Task[bool] | None = None
        try:
            for _ in range(MAX_EVENTS):
                reading = reading or asyncio.create_task(link.read(client, None, "audio"))
                waking = waking or asyncio.create_task(wake.wait())
                owed = feeder.done() or len(sent) > reply.done
                done, _ = await asyncio.wait(
                    {reading, waking} | ({feeder} if not feeder.done() else set()),
                    timeout=s.timeout_s if owed else None,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if not done:
                    raise WyomingFault(f"no audio within {s.timeout_s:g} s")
                if feeder in done:
                    feeder.result()  # a failed write raises here
                if waking in done:
                    wake.clear()
                    waking = None
                if reading in done:
                    event = reading.result()
                    reading = None
                    if SynthesizeStopped.is_type(event.type):
                        reply.done = max(reply.done, len(sent))
                        return
                    pcm = reply.audio(event)
                    if pcm:
                        yield pcm
            raise WyomingFault(f"more than {MAX_EVENTS} events for one reply")
        finally:
            for task in (feeder, reading, waking):
                if task is not None:
                    task.cancel()
            await asyncio.gather(*(t for t in (feeder, reading, waking) if t is not None),
                                 return_exceptions=True)
            await link.close(client)

    async def _feed(self, client: AsyncClient, sentences: AsyncIterable[str],
                    voice: SynthesizeVoice | None, sent: list[str], wake: asyncio.Event) -> None:
        await link.write(client, SynthesizeStart(voice=voice).event())
        async for sentence in sentences:
            text = " ".join(sentence.split())[:MAX_TEXT]
            if text:
                sent.append(text)
                await link.write(client, SynthesizeChunk(text=text).event())
                wake.set()
        if sent:  # for a server that does not stream (a streaming one ignores it)
            await link.write(client, Synthesize(text=" ".join(sent), voice=voice).event())
        await link.write(client, SynthesizeStop().event())
        wake.set()

    async def aclose(self) -> None:
        """Nothing is held between replies."""
