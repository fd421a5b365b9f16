"""``tts.engine: wyoming``: the speaker against a Wyoming TTS stand-in, over real loopback TCP.

The stand-in (tests/standins/wyoming_standin.py, on the ``wyoming`` library's
own server classes) speaks known PCM at 22,050 Hz (``pcm_for(text)``) in
1,024-sample chunks; what the speaker yields must be soxr's own streaming
conversion of exactly those chunks. espeak-ng is real (the fallback).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import numpy as np
import pytest
import soxr
from standins.wyoming_standin import (
    TTS_RATE,
    VOICES,
    Script,
    WyomingStandIn,
    free_port,
    pcm_for,
)

from agent.gateway.settings import GatewaySettings, TtsSettings
from agent.gateway.tts.espeak import Espeak
from agent.gateway.tts.factory import create_speaker
from agent.gateway.tts.fallback import FallbackSpeaker
from agent.gateway.tts.wyoming import WyomingSpeaker
from agent.gateway.wyoming_settings import WyomingTtsSettings

SENTENCES = ["The weather on the moon is dry.", "Bring a coat anyway."]


def soxr_of(text: str) -> bytes:
    """soxr's own conversion of the stand-in's whole PCM for ``text`` to 16 kHz (one call)."""
    pcm = np.frombuffer(pcm_for(text), dtype="<i2").astype(np.float32)
    out = soxr.resample(pcm, TTS_RATE, 16000)
    return np.clip(np.round(out), -32768, 32767).astype("<i2").tobytes()


def speaker_for(uri: str, **wyoming: object) -> FallbackSpeaker:
    w = WyomingTtsSettings(uri=uri, timeout_s=2.0, **wyoming)  # type: ignore[arg-type]
    speaker = create_speaker(GatewaySettings(tts=TtsSettings(engine="wyoming", wyoming=w)))
    assert isinstance(speaker, FallbackSpeaker) and isinstance(speaker.primary, WyomingSpeaker)
    return speaker


async def feed(sentences: list[str]) -> AsyncIterator[str]:
    for s in sentences:
        yield s


def speak(speaker: FallbackSpeaker, sentences: list[str], voice: str | None = None) -> bytes:
    async def run() -> bytes:
        return b"".join([pcm async for pcm in speaker.speak(feed(sentences), voice)])

    return asyncio.run(run())


@pytest.fixture(params=[False, True], ids=["synthesize", "streaming"])
def standin(request: pytest.FixtureRequest) -> Iterator[WyomingStandIn]:
    with WyomingStandIn("tts", streaming=request.param) as s:
        yield s


def test_the_reply_is_soxrs_conversion_of_the_servers_pcm(standin: WyomingStandIn) -> None:
    speaker = speaker_for(standin.uri, voice=VOICES[1], speaker="p2")
    audio = speak(speaker, SENTENCES)
    assert audio == b"".join(soxr_of(s) for s in SENTENCES)
    assert speaker.fallbacks == 0
    work = standin.work()
    assert [t for c in work for t in c.texts] == SENTENCES
    assert all(v == {"name": VOICES[1], "speaker": "p2"} for c in work for v in c.voices)
    if standin.streaming:  # one connection, the sentences as chunks, the whole for old servers
        assert len(work) == 1
        assert work[0].events == ["synthesize-start", "synthesize-chunk", "synthesize-chunk",
                                  "synthesize", "synthesize-stop"]
    else:  # one synthesize per sentence
        assert [c.events for c in work] == [["synthesize"], ["synthesize"]]


def test_the_first_audio_comes_before_the_next_sentence_exists(standin: WyomingStandIn) -> None:
    # The second sentence is made only once the first one's audio has reached us: a speaker
    # that waited for the whole reply (or for a sentence's last chunk) would never finish.
    async def run() -> tuple[bytes, bytes]:
        first_audio = asyncio.Event()

        async def sentences() -> AsyncIterator[str]:
            yield SENTENCES[0]
            await asyncio.wait_for(first_audio.wait(), 10)
            yield SENTENCES[1]

        got: list[bytes] = []
        speaker = speaker_for(standin.uri)
        async for pcm in speaker.speak(sentences(), None):
            got.append(pcm)
            first_audio.set()
        return got[0], b"".join(got)

    first, audio = asyncio.run(run())
    assert 0 < len(first) < len(soxr_of(SENTENCES[0]))  # one chunk, not the whole sentence
    assert audio == b"".join(soxr_of(s) for s in SENTENCES)


def test_a_clients_voice_goes_to_the_server_only_when_it_lists_it(
    standin: WyomingStandIn,
) -> None:
    speaker = speaker_for(standin.uri, voice=VOICES[0])
    speak(speaker, SENTENCES[:1], VOICES[1])
    speak(speaker, SENTENCES[:1], "en-gb")  # espeak-ng's name: not the server's
    voices = [v for c in standin.work() for v in c.voices]
    assert voices == [{"name": VOICES[1]}, {"name": VOICES[0]}]


FAULTS = [
    Script(fault="silent"),
    Script(fault="garbage"),
    Script(fault="error"),
    Script(fault="close"),
]


@pytest.mark.parametrize("script", FAULTS, ids=[s.fault for s in FAULTS])
def test_a_failing_server_is_replaced_by_espeak_and_counted(
    standin: WyomingStandIn, script: Script, caplog: pytest.LogCaptureFixture
) -> None:
    standin.next(script)
    speaker = speaker_for(standin.uri)
    audio = speak(speaker, SENTENCES)
    espeak = asyncio.run(Espeak().synthesize(SENTENCES[0])) + asyncio.run(
        Espeak().synthesize(SENTENCES[1]))
    assert audio == espeak  # the whole reply, heard in espeak-ng's voice
    assert speaker.fallbacks == 1
    assert any("spoken by espeak" in r.getMessage() for r in caplog.records)
    again = speak(speaker, SENTENCES)  # the next reply is the server's again
    assert again == b"".join(soxr_of(s) for s in SENTENCES)
    assert speaker.fallbacks == 1


def test_a_server_that_fails_mid_reply_leaves_the_rest_to_espeak() -> None:
    with WyomingStandIn("tts") as si:
        si.next(Script(), Script(fault="close", after=2))  # the 2nd sentence breaks off
        speaker = speaker_for(si.uri)
        audio = speak(speaker, SENTENCES)
    first = soxr_of(SENTENCES[0])
    assert audio.startswith(first)
    rest = audio[len(first):]
    espeak = asyncio.run(Espeak().synthesize(SENTENCES[1]))
    assert rest.endswith(espeak)  # the unfinished sentence again, whole, from espeak-ng
    assert len(rest) > len(espeak)  # after what the server had sent of it
    assert speaker.fallbacks == 1


def test_a_server_that_is_down_then_up() -> None:
    port = free_port()
    speaker = speaker_for(f"tcp://127.0.0.1:{port}")
    down = speak(speaker, SENTENCES[:1])
    assert down == asyncio.run(Espeak().synthesize(SENTENCES[0]))
    with WyomingStandIn("tts", port=port) as si:
        up = speak(speaker, SENTENCES[:1])
        assert si.conns[0].events == ["describe"]  # described when it came back
    assert up == soxr_of(SENTENCES[0])
    assert speaker.fallbacks == 1


def test_tts_settings_are_checked() -> None:
    from agent.common.settings_values import ConfigError
    from agent.gateway.settings import parse_gateway_settings

    s = parse_gateway_settings({"tts": {"engine": "wyoming", "wyoming": {
        "uri": "unix:///run/piper.sock", "voice": "en_US-lessac-medium", "speaker": "0"}}})
    assert s.tts.engine == "wyoming" and s.tts.wyoming.voice == "en_US-lessac-medium"
    assert s.tts.voice == "en-us"  # espeak-ng's, for the fallback
    for bad, key in (({"engine": "piper"}, "tts.engine"),
                     ({"wyoming": {"uri": "tcp://host"}}, "tts.wyoming.uri"),
                     ({"wyoming": {"timeout_s": -1}}, "tts.wyoming.timeout_s"),
                     ({"wyoming": {"voice": ""}}, "tts.wyoming.voice")):
        with pytest.raises(ConfigError) as err:
            parse_gateway_settings({"tts": bad}, "gw.yaml")
        assert err.value.exit_code == 78 and key in str(err.value), str(err.value)


def test_a_slow_agent_is_not_a_slow_server(standin: WyomingStandIn) -> None:
    # 3 s between sentences, over timeout_s (2 s): the server owes nothing while it waits.
    async def run() -> bytes:
        async def sentences() -> AsyncIterator[str]:
            yield SENTENCES[0]
            await asyncio.sleep(3)
            yield SENTENCES[1]

        speaker = speaker_for(standin.uri)
        audio = b"".join([pcm async for pcm in speaker.speak(sentences(), None)])
        assert speaker.fallbacks == 0
        return audio

    assert asyncio.run(run()) == b"".join(soxr_of(s) for s in SENTENCES)


def test_a_reply_cut_off_closes_the_servers_connection(standin: WyomingStandIn) -> None:
    # Barge-in: the pipeline closes the speaker's generator after the first audio.
    async def run() -> None:
        async def sentences() -> AsyncIterator[str]:
            yield SENTENCES[0]
            await asyncio.sleep(30)  # the agent is still thinking when the user speaks
            yield SENTENCES[1]

        audio = speaker_for(standin.uri).speak(sentences(), None)
        assert await anext(audio)
        await audio.aclose()  # type: ignore[attr-defined]

    asyncio.run(asyncio.wait_for(run(), 20))
    standin.wait(lambda s: s.work() and not any(c.open for c in s.work()))
    assert [t for c in standin.work() for t in c.texts] == SENTENCES[:1]


def test_a_server_on_a_unix_socket(tmp_path: Path) -> None:
    with WyomingStandIn("tts", unix=str(tmp_path / "piper.sock")) as si:
        assert si.uri.startswith("unix:///")
        speaker = speaker_for(si.uri)
        assert speak(speaker, SENTENCES[:1]) == soxr_of(SENTENCES[0])
        assert speaker.fallbacks == 0
