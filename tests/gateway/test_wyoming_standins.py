"""The Wyoming stand-ins speak the protocol: proven with the reference library's own client.

``wyoming.client.AsyncTcpClient`` (the protocol's reference library, as Home
Assistant uses it) talks to the stand-ins the gateway is tested against, with
no code of this project in between.
"""

from __future__ import annotations

import asyncio

from standins.wyoming_standin import PIECES, TEXT, TTS_RATE, VOICES, WyomingStandIn, pcm_for
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
    SynthesizeVoice,
)


async def _events_until(client: AsyncTcpClient, last: str) -> list[Event]:
    events = []
    while True:
        event = await asyncio.wait_for(client.read_event(), 10)
        assert event is not None
        events.append(event)
        if event.type == last:
            return events


def test_the_asr_stand_in_answers_the_reference_client() -> None:
    async def run(port: int) -> tuple[Info, list[Event]]:
        async with AsyncTcpClient("127.0.0.1", port) as client:
            await client.write_event(Describe().event())
            info = Info.from_event((await _events_until(client, "info"))[-1])
        async with AsyncTcpClient("127.0.0.1", port) as client:
            await client.write_event(Transcribe(language="en").event())
            await client.write_event(AudioStart(rate=16000, width=2, channels=1).event())
            await client.write_event(AudioChunk(rate=16000, width=2, channels=1,
                                                audio=bytes(3200)).event())
            await client.write_event(AudioStop().event())
            events = await _events_until(client, "transcript-stop")
        return info, events

    with WyomingStandIn("asr", streaming=True) as si:
        info, events = asyncio.run(run(si.port))
        assert bytes(si.work()[0].audio) == bytes(3200)
    assert info.asr[0].supports_transcript_streaming and info.asr[0].models[0].name
    kinds = [e.type for e in events]
    assert kinds == ["transcript-start", *["transcript-chunk"] * len(PIECES), "transcript",
                     "transcript-stop"]
    assert Transcript.from_event(events[-2]).text == TEXT


def test_the_tts_stand_in_answers_the_reference_client() -> None:
    async def single(port: int) -> list[Event]:
        async with AsyncTcpClient("127.0.0.1", port) as client:
            await client.write_event(Synthesize(text="Hello.", voice=SynthesizeVoice(
                name=VOICES[0])).event())
            return await _events_until(client, "audio-stop")

    async def streamed(port: int) -> list[Event]:
        async with AsyncTcpClient("127.0.0.1", port) as client:
            await client.write_event(SynthesizeStart().event())
            await client.write_event(SynthesizeChunk(text="Hello.").event())
            await client.write_event(Synthesize(text="Hello.").event())
            await client.write_event(SynthesizeStop().event())
            return await _events_until(client, SynthesizeStopped().event().type)

    with WyomingStandIn("tts") as si:
        one = asyncio.run(single(si.port))
        assert si.work()[0].voices == [{"name": VOICES[0]}]
    with WyomingStandIn("tts", streaming=True) as si:
        many = asyncio.run(streamed(si.port))
        assert si.work()[0].texts == ["Hello."]  # the compatibility synthesize was ignored
    for events in (one, many):
        start = AudioStart.from_event(events[0])
        assert (start.rate, start.width, start.channels) == (TTS_RATE, 2, 1)
        audio = b"".join(AudioChunk.from_event(e).audio for e in events if e.type == "audio-chunk")
        assert audio == pcm_for("Hello.")
    assert [e.type for e in many][-2:] == ["audio-stop", "synthesize-stopped"]
