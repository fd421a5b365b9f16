"""Wyoming speech through the whole gateway: a real device, the pipeline, both stand-ins.

``voice-agent run`` runs as a subprocess (a WAV file paced in real time as its
microphone); the gateway runs here with ``stt.engine: wyoming`` and
``tts.engine: wyoming`` against the stand-ins of tests/standins/wyoming_standin.py.
The reply audio the device gets must be soxr's own conversion of the TTS
stand-in's 22,050 Hz PCM. The language-model agent (issue 21) is not on main
yet, so sentence streaming is shown with a scripted agent in the real
pipeline, one sentence made only after the first one's audio reached the device.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
import soxr
import yaml
from daemon_process import Daemon
from gateway_support import open_client, read_reply, text_turn
from speech import compose
from standins.wyoming_standin import TEXT, TTS_RATE, Script, WyomingStandIn, pcm_for

from agent.gateway.dialog.agent import Peer, ReplyPart, Say, Turn
from agent.gateway.dialog.backend import Utterance
from agent.gateway.dialog.builtin import default_skills
from agent.gateway.dialog.skills_agent import SkillsAgent
from agent.gateway.dialog_settings import DialogSettings
from agent.gateway.in_thread import RunningGateway, serve_in_thread
from agent.gateway.pipeline import Pipeline
from agent.gateway.reply import ReplySender
from agent.gateway.settings import GatewaySettings, ReplySettings, SttSettings, TtsSettings
from agent.gateway.tts.espeak import Espeak
from agent.gateway.tts.factory import create_speaker
from agent.gateway.tts.fallback import FallbackSpeaker
from agent.gateway.wyoming_settings import WyomingSttSettings, WyomingTtsSettings
from agent.link.protocol import GatewayMessage, ReplyAudioData, ReplyAudioEnd, TextReply


def soxr_of(texts: list[str]) -> bytes:
    """soxr's conversion of the stand-in's PCM for each text, one after the other."""
    out = []
    for text in texts:
        pcm = np.frombuffer(pcm_for(text), dtype="<i2").astype(np.float32)
        resampled = soxr.resample(pcm, TTS_RATE, 16000)
        out.append(np.clip(np.round(resampled), -32768, 32767).astype("<i2").tobytes())
    return b"".join(out)


def settings_for(tts_uri: str, stt_uri: str | None = None) -> GatewaySettings:
    tts = TtsSettings(engine="wyoming", wyoming=WyomingTtsSettings(uri=tts_uri, timeout_s=2.0))
    stt = SttSettings(workers=1) if stt_uri is None else SttSettings(
        engine="wyoming", workers=1, wyoming=WyomingSttSettings(uri=stt_uri, timeout_s=5.0))
    # The standard form for every client, as the device gets it (the Node form's
    # replies end with a silent tail: issue 24).
    return GatewaySettings(port=0, stt=stt, tts=tts, reply=ReplySettings(form="standard"))


def sent_audio(gw: RunningGateway, connection: int = 0) -> bytes:
    return b"".join(m.audio for m in gw.connections[connection].sent
                    if isinstance(m, ReplyAudioData))


@pytest.mark.parametrize("streaming", [False, True], ids=["synthesize", "streaming"])
def test_a_real_device_hears_whisper_and_speaks_piper(tmp_path: Path, streaming: bool) -> None:
    audio, _ = compose(tmp_path / "in.wav", [
        ("pause", 1.0), ("say", "hey jarvis"), ("pause", 0.2),
        ("say", "what is the weather like on the moon"), ("pause", 5.0),
    ])
    out = tmp_path / "out.wav"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("NOTIFY_SOCKET", None)
    with WyomingStandIn("asr") as asr, WyomingStandIn("tts", streaming=streaming) as tts, \
            serve_in_thread(settings_for(tts.uri, asr.uri)) as gw:
        cfg = tmp_path / "agent.yaml"
        cfg.write_text(yaml.safe_dump({
            "gateway": {"url": gw.url},
            "audio": {"input": {"file": str(audio), "realtime": True},
                      "output": {"file": str(out), "realtime": True}},
            "wake": {"models": ["hey_jarvis"]},
            "sounds": {"wake": None, "done": None, "error": None},
            "log": {"format": "json"},
        }))
        device = Daemon(cfg, env)
        try:
            device.wait_event("playback_end", timeout=90)
        finally:
            rc = device.stop()
        assert rc == 0
        texts = [t for c in tts.work() for t in c.texts]
        reply_audio = sent_audio(gw)
        speaker = gw.gateway.services.pipeline.speaker  # type: ignore[attr-defined]
    assert [e["text"] for e in device.of("transcript")] == [TEXT]  # heard by "Whisper"
    (said,) = [e["text"] for e in device.of("text")]
    assert " ".join(texts) == said  # every sentence of the reply went to "Piper", in order
    assert reply_audio == soxr_of(texts)  # and the device got its audio, converted by soxr
    assert isinstance(speaker, FallbackSpeaker) and speaker.fallbacks == 0
    assert out.stat().st_size > 44 + len(reply_audio) // 2  # it was played


def test_espeak_speaks_when_the_server_fails_and_the_gateway_carries_on() -> None:
    with WyomingStandIn("tts") as tts, serve_in_thread(settings_for(tts.uri)) as gw:
        tts.next(Script(fault="silent"))
        with open_client(gw.url) as ws:
            bad = text_turn(ws, "what is the weather like on the moon")
            good = text_turn(ws, "what is the weather like on the moon")
        speaker = gw.gateway.services.pipeline.speaker  # type: ignore[attr-defined]
        texts = [t for c in tts.work()[1:] for t in c.texts]
    said = bad.text.text
    espeak = asyncio.run(Espeak().synthesize(said))
    assert bad.reply_audio == espeak  # the user heard the answer, in espeak-ng's voice
    assert isinstance(speaker, FallbackSpeaker) and speaker.fallbacks == 1
    assert good.reply_audio == soxr_of(texts) and " ".join(texts) == good.text.text


def test_two_devices_at_once_each_get_their_own_reply() -> None:
    with WyomingStandIn("tts", streaming=True) as tts, serve_in_thread(settings_for(tts.uri)) as gw:
        with open_client(gw.url) as a, open_client(gw.url) as b:
            for ws, text in ((a, "what time is it"), (b, "why is the sky blue")):
                ws.send(json.dumps({"id": str(uuid.uuid4()), "action": "text", "text": text}))
            replies = [read_reply(a), read_reply(b)]
        assert len(tts.work()) == 2  # a connection each
    for turn in replies:
        said = turn.first(TextReply).text
        assert turn.reply_audio == soxr_of([said])  # the skills say one sentence each here
    assert replies[0].first(TextReply).text != replies[1].first(TextReply).text


class SlowAgent:
    """A remote agent on cue (the language model is not on main): its second sentence is
    made only after the device has had audio of the first."""

    name = "llm"
    free_text = True
    phrases: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.audio_seen = asyncio.Event()

    def connect(self, peer: Peer) -> SlowAgent:
        return self

    def hear(self, tid: str) -> Utterance | None:
        return None

    async def respond(self, turn: Turn) -> AsyncIterator[ReplyPart]:
        yield Say("The moon has no weather at all.")
        await asyncio.wait_for(self.audio_seen.wait(), 10)
        yield Say("Its sky is always black.")

    async def close(self) -> None:
        pass

    async def aclose(self) -> None:
        pass


def test_sentences_stream_to_the_server_as_the_agent_makes_them() -> None:
    async def run(uri: str) -> list[GatewayMessage]:
        skills = default_skills()
        agent = SlowAgent()
        speaker = create_speaker(settings_for(uri))
        pipeline = Pipeline(DialogSettings(engine=("skills", "llm")), skills,
                            {"skills": SkillsAgent(skills), "llm": agent},  # type: ignore[dict-item]
                            speaker)
        talk = pipeline.connect(Peer(1, "kitchen"))
        sent: list[GatewayMessage] = []

        async def send(msg: GatewayMessage) -> None:
            sent.append(msg)
            if isinstance(msg, ReplyAudioData):
                agent.audio_seen.set()

        replies = ReplySender(send, pace=0, chunk_ms=100)
        await talk.reply(Turn("t1", "tell me about the moon"), send, replies, voice=None,
                         prompt_on_audio_end=True)
        await talk.close()
        return sent

    with WyomingStandIn("tts", streaming=True) as tts:
        sent = asyncio.run(run(tts.uri))
        (conn,) = tts.work()
    sentences = ["The moon has no weather at all.", "Its sky is always black."]
    assert conn.texts == sentences  # fed one by one on one connection, as they were made
    assert conn.events[:3] == ["synthesize-start", "synthesize-chunk", "synthesize-chunk"]
    audio = b"".join(m.audio for m in sent if isinstance(m, ReplyAudioData))
    assert audio == soxr_of(sentences)
    assert isinstance(sent[-1], ReplyAudioEnd)
