"""The gateway with ``stt.engine: assemblyai`` against the v3 stand-in, over real sockets.

The stand-in (tests/standins/v3_standin.py, proven with the vendor's SDK in
test_standins.py) "hears" a sentence no skill has and pocketsphinx would not
produce, so a transcript equal to it shows that the cloud engine answered.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from gateway_support import (
    CHUNK,
    audio_msg,
    open_client,
    read_reply,
    receive,
    silence,
    spoken,
    utterance,
)
from standins.v3_standin import TEXT, Script, V3StandIn

from agent.gateway.in_thread import RunningGateway, serve_in_thread
from agent.gateway.settings import GatewaySettings, SttSettings
from agent.gateway.stt.assemblyai import FRAME_BYTES
from agent.gateway.stt.config import AssemblyAISettings
from agent.link.protocol import GatewayError, SttTranscript


@pytest.fixture(scope="module")
def standin() -> Iterator[V3StandIn]:
    with V3StandIn() as s:
        yield s


@pytest.fixture(scope="module")
def gateway(
    standin: V3StandIn, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    key = tmp_path_factory.mktemp("v3") / "assemblyai.key"
    key.write_text(standin.api_key + "\n")
    settings = GatewaySettings(
        port=0,
        stt=SttSettings(
            engine="assemblyai",
            workers=1,
            assemblyai=AssemblyAISettings(url=standin.url, api_key_file=str(key)),
        ),
    )
    gw = serve_in_thread(settings)
    yield gw
    gw.stop()


@pytest.fixture(autouse=True)
def fresh(standin: V3StandIn) -> Iterator[None]:
    standin.scripts.clear()
    standin.sessions.clear()
    yield
    standin.wait(lambda s: s.open_sessions == 0)  # no test leaves a session open


def speech() -> bytes:
    return spoken("what time is it") + silence(0.3)


def only_session(standin: V3StandIn) -> object:
    standin.wait(lambda s: len(s.sessions) == 1 and not s.sessions[0].open)
    return standin.sessions[0]


def test_the_transcript_is_the_engines_and_the_audio_arrives_whole(
    gateway: RunningGateway, standin: V3StandIn
) -> None:
    standin.next(Script(end_after_ms=None))  # the turn ends at Terminate: all audio is sent
    pcm = speech()[:-1000]  # not a whole number of 50 ms frames
    with open_client(gateway.url) as ws:
        turn = utterance(ws, pcm, tid="t-relay")
    assert turn.transcript.transcript == TEXT  # formatted, as the stand-in sent it
    assert turn.transcript.transcript != "what time is it"
    record = gateway.transaction("t-relay")
    assert record.engine == "assemblyai" and record.transcript == TEXT
    session = only_session(standin)
    # Exactly the device's bytes, in 50 ms frames; the last one padded with silence.
    got = bytes(session.audio)
    assert got[: len(pcm)] == pcm and set(got[len(pcm) :]) <= {0}
    assert len(got) - len(pcm) < FRAME_BYTES
    assert set(session.frames) == {FRAME_BYTES}
    assert session.terminate_received and session.texts[-1] == {"type": "Terminate"}
    assert session.headers["Authorization"] == standin.api_key
    q = session.query
    assert (q["sample_rate"], q["encoding"], q["speech_model"], q["format_turns"]) == (
        "16000", "pcm_s16le", "universal-streaming-english", "true")
    assert "what time is it" in json.loads(q["keyterms_prompt"])


def test_the_engines_end_of_turn_ends_the_utterance_while_the_device_streams(
    gateway: RunningGateway, standin: V3StandIn
) -> None:
    standin.next(Script(end_after_ms=600))
    pcm = spoken("what time is it") + silence(10)
    sent = 0
    with open_client(gateway.url) as ws:
        ws.send(json.dumps({"id": "t-eot", "action": "audio_start"}))
        transcript = None
        for i in range(0, len(pcm), CHUNK):
            ws.send(audio_msg("t-eot", pcm[i : i + CHUNK]))
            sent += CHUNK
            try:
                msg = receive(ws, timeout=0.05)
            except TimeoutError:
                continue
            transcript = msg
            break
        assert isinstance(transcript, SttTranscript), transcript
        assert transcript.transcript == TEXT
        ws.send(json.dumps({"id": "t-eot", "action": "audio_end"}))
        read_reply(ws)
    assert sent < len(pcm)  # the device was still streaming when the engine ended the turn
    record = gateway.transaction("t-eot")
    assert record.end_reason == "gateway"
    assert record.endpoint_sample is not None and 9600 <= record.endpoint_sample < len(pcm) // 2
    assert only_session(standin).terminate_received


def test_a_device_that_leaves_mid_utterance_leaves_no_session_open(
    gateway: RunningGateway, standin: V3StandIn
) -> None:
    standin.next(Script(end_after_ms=None))
    with open_client(gateway.url) as ws:
        ws.send(json.dumps({"id": "t-gone", "action": "audio_start"}))
        for i in range(0, 6 * CHUNK, CHUNK):
            ws.send(audio_msg("t-gone", speech()[i : i + CHUNK]))
        standin.wait(lambda s: s.sessions and len(s.sessions[0].audio) >= 6 * CHUNK)
        ws.close()  # mid-utterance, no audio_end
    session = only_session(standin)
    assert session.terminate_received  # ended with Terminate, not just dropped
    assert standin.open_sessions == 0


FAULTS = [
    ("401", "401"),
    ("close:3005", "3005"),
    ("close:3006", "3006"),
    ("close:3007", "3007"),
    ("close:3008", "3008"),
    ("close:3009", "3009"),
    ("error", "3005"),
    ("drop", "1006"),
    ("no_begin", "no Begin"),
]


@pytest.mark.parametrize(("fault", "said"), FAULTS, ids=[f for f, _ in FAULTS])
def test_each_fault_is_an_error_for_that_transaction_and_the_next_one_works(
    gateway: RunningGateway, standin: V3StandIn, caplog: pytest.LogCaptureFixture,
    fault: str, said: str,
) -> None:
    standin.next(Script(fault=fault, fault_after_ms=200), Script())
    caplog.set_level(logging.WARNING, logger="agent")
    with open_client(gateway.url) as ws:
        bad = utterance(ws, speech(), tid="t-bad")
        error = bad.first(GatewayError)
        assert error.id == "t-bad" and said in error.message, error.message
        assert any(said in r.getMessage() for r in caplog.records)  # logged with its code
        good = utterance(ws, speech(), tid="t-good")
    assert good.transcript.transcript == TEXT
    assert gateway.transaction("t-bad").transcript is None


def test_two_devices_at_once_get_two_sessions(
    gateway: RunningGateway, standin: V3StandIn
) -> None:
    standin.next(Script(end_after_ms=None), Script(end_after_ms=None))
    first, second = spoken("what time is it"), spoken("hello there")
    with open_client(gateway.url) as a, open_client(gateway.url) as b:
        for ws, tid in ((a, "t-a"), (b, "t-b")):
            ws.send(json.dumps({"id": tid, "action": "audio_start"}))
        standin.wait(lambda s: len(s.sessions) == 2)
        for i in range(0, max(len(first), len(second)), CHUNK):
            for ws, tid, pcm in ((a, "t-a", first), (b, "t-b", second)):
                if i < len(pcm):
                    ws.send(audio_msg(tid, pcm[i : i + CHUNK]))
        for ws, tid in ((a, "t-a"), (b, "t-b")):
            ws.send(json.dumps({"id": tid, "action": "audio_end"}))
        replies = [read_reply(a), read_reply(b)]
    assert [r.transcript.id for r in replies] == ["t-a", "t-b"]
    standin.wait(lambda s: s.open_sessions == 0)
    audios = sorted(bytes(s.audio) for s in standin.sessions)
    expected = sorted(p + bytes(-len(p) % FRAME_BYTES) for p in (first, second))
    assert audios == expected  # one session per device, each with its own audio only


def test_a_client_may_pick_a_configured_engine_and_gets_the_default_for_others(
    gateway: RunningGateway, standin: V3StandIn
) -> None:
    with open_client(gateway.url) as ws:
        ws.send(json.dumps({"id": str(uuid.uuid4()), "action": "stt_options",
                            "options": {"engine": "pocketsphinx"}}))
        local = utterance(ws, speech(), tid="t-local")
        other = utterance(ws, speech(), tid="t-watson",
                          options={"stt": {"engine": "watson"}})
    assert local.transcript.transcript == "what time is it"
    assert gateway.transaction("t-local").engine == "pocketsphinx"
    assert other.transcript.transcript == TEXT  # unknown name: stt.engine
    assert len(standin.sessions) == 1


def test_partials_are_logged_at_debug_and_the_key_never(
    gateway: RunningGateway, standin: V3StandIn, caplog: pytest.LogCaptureFixture
) -> None:
    standin.next(Script(end_after_ms=1200))
    caplog.set_level(logging.DEBUG)
    with open_client(gateway.url) as ws:
        utterance(ws, spoken("what time is it") + silence(1.0), tid="t-debug")
    only_session(standin)
    lines = [r.getMessage() for r in caplog.records]
    assert any("partial 'purple" in line for line in lines), lines
    assert not any(standin.api_key in line for line in lines)
    assert any("Authorization" in line for line in lines)  # websockets' handshake, scrubbed


def test_endpointing_off_waits_for_the_clients_audio_end(
    gateway: RunningGateway, standin: V3StandIn
) -> None:
    standin.next(Script(end_after_ms=300))
    pcm = speech() + silence(1.0)
    with open_client(gateway.url.rstrip("/") + "/?endpointing=false") as ws:
        turn = utterance(ws, pcm, tid="t-noep")
    assert turn.transcript.transcript == TEXT
    record = gateway.transaction("t-noep")
    assert record.end_reason == "client" and record.endpoint_sample == len(pcm) // 2


def test_a_missing_key_file_is_exit_78_naming_the_key(tmp_path: Path) -> None:
    from agent.common.settings_values import ConfigError
    from agent.gateway.settings import parse_gateway_settings

    with pytest.raises(ConfigError) as err:
        parse_gateway_settings({"stt": {"engine": "assemblyai", "assemblyai": {
            "api_key_file": str(tmp_path / "missing.key")}}}, "gw.yaml")
    assert err.value.exit_code == 78 and "stt.assemblyai.api_key_file" in str(err.value)
