"""The gateway with ``stt.engine: wyoming`` against a Wyoming ASR stand-in, over real loopback TCP.

The stand-in (tests/standins/wyoming_standin.py, built on the ``wyoming``
library's own server classes) "hears" a sentence no skill has and
pocketsphinx would not produce, so a transcript equal to it shows that the
Wyoming server answered.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from daemon_process import Daemon
from gateway_support import open_client, silence, spoken, utterance
from speech import compose
from standins.wyoming_standin import TEXT, Script, WyomingStandIn, free_port

from agent.gateway.in_thread import RunningGateway, serve_in_thread
from agent.gateway.settings import GatewaySettings, SttSettings
from agent.gateway.wyoming_settings import WyomingSttSettings
from agent.link.protocol import GatewayError

TIMEOUT_S = 2.0


def settings_for(uri: str, **wyoming: object) -> GatewaySettings:
    w = WyomingSttSettings(uri=uri, timeout_s=TIMEOUT_S, **wyoming)  # type: ignore[arg-type]
    return GatewaySettings(port=0, stt=SttSettings(engine="wyoming", workers=1, wyoming=w))


@pytest.fixture(scope="module")
def standin() -> Iterator[WyomingStandIn]:
    with WyomingStandIn("asr") as s:
        yield s


@pytest.fixture(scope="module")
def gateway(standin: WyomingStandIn) -> Iterator[RunningGateway]:
    with serve_in_thread(settings_for(standin.uri, model="tiny-int8")) as gw:
        yield gw


@pytest.fixture(autouse=True)
def fresh(request: pytest.FixtureRequest) -> Iterator[None]:
    if "standin" in request.fixturenames:
        s: WyomingStandIn = request.getfixturevalue("standin")
        s.scripts.clear()
        s.conns.clear()
    yield


def speech() -> bytes:
    return spoken("what time is it") + silence(0.3)


def test_the_transcript_is_the_servers_and_it_got_the_devices_audio(
    gateway: RunningGateway, standin: WyomingStandIn
) -> None:
    assert standin.describes >= 1  # described at start-up, before any utterance
    pcm = speech()
    with open_client(gateway.url) as ws:
        turn = utterance(ws, pcm, tid="t-relay")
    assert turn.transcript.transcript == TEXT
    record = gateway.transaction("t-relay")
    assert record.engine == "wyoming" and record.transcript == TEXT
    standin.wait(lambda s: len(s.work()) == 1 and not s.work()[0].open)
    conn = standin.work()[0]
    assert conn.events[:2] == ["transcribe", "audio-start"]
    assert conn.events[-1] == "audio-stop" and conn.events.count("audio-stop") == 1
    assert conn.transcribe == {"name": "tiny-int8", "language": "en"}
    assert conn.audio_start is not None
    assert (conn.audio_start["rate"], conn.audio_start["width"], conn.audio_start["channels"]) \
        == (16000, 2, 1)
    # The device's bytes as they came, one chunk per audio_data, up to the endpoint.
    # (The client sent it all at once: the gateway's endpointer, 0.7 s after the speech, ended
    # the utterance for the server while the rest was still queued.)
    got = bytes(conn.audio)
    assert got == pcm[: len(got)]
    assert len(pcm) - len(silence(1.1)) < len(got) < len(pcm)
    assert conn.events.count("audio-chunk") == len(got) // 3200 + bool(len(got) % 3200)


def test_a_streaming_servers_chunks_are_partials_at_debug(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="agent")
    with WyomingStandIn("asr", streaming=True) as si, serve_in_thread(settings_for(si.uri)) as gw:
        with open_client(gw.url) as ws:
            turn = utterance(ws, speech(), tid="t-stream")
        si.wait(lambda s: len(s.work()) == 1)
        assert si.work()[0].transcribe == {"language": "en"}  # no model: the server's default
    assert turn.transcript.transcript == TEXT
    lines = [r.getMessage() for r in caplog.records]
    assert any("partial 'Purple elephants'" in line for line in lines), lines
    assert any("streaming transcripts yes" in line for line in lines)  # info logged


FAULTS = [
    (Script(fault="close", after=9600), "connection"),  # lost (a write) or closed (a read)
    (Script(fault="silent"), f"no transcript within {TIMEOUT_S:g} s"),
    (Script(fault="garbage"), "not a Wyoming event"),
    (Script(fault="error"), "reported an error: the model failed"),
]


@pytest.mark.parametrize(("script", "said"), FAULTS, ids=[s.fault for s, _ in FAULTS])
def test_each_fault_is_an_error_for_that_transaction_and_the_next_one_works(
    gateway: RunningGateway, standin: WyomingStandIn, caplog: pytest.LogCaptureFixture,
    script: Script, said: str,
) -> None:
    standin.next(script)
    caplog.set_level(logging.WARNING, logger="agent")
    with open_client(gateway.url) as ws:
        bad = utterance(ws, speech(), tid="t-bad")
        error = bad.first(GatewayError)
        assert error.id == "t-bad" and said in error.message, error.message
        assert any(said in r.getMessage() for r in caplog.records)  # logged
        good = utterance(ws, speech(), tid="t-good")
    assert good.transcript.transcript == TEXT
    assert gateway.transaction("t-bad").transcript is None
    assert gateway.transaction("t-good").transcript == TEXT


def test_a_server_with_its_own_vad_ends_the_utterance_while_the_device_streams(
    gateway: RunningGateway, standin: WyomingStandIn
) -> None:
    from gateway_support import CHUNK, audio_msg, receive

    standin.next(Script(own_vad_after=8 * CHUNK))
    pcm = speech() + silence(10)
    sent = 0
    with open_client(gateway.url) as ws:
        ws.send(json.dumps({"id": "t-vad", "action": "audio_start"}))
        transcript = None
        for i in range(0, len(pcm), CHUNK):
            ws.send(audio_msg("t-vad", pcm[i : i + CHUNK]))
            sent += CHUNK
            try:
                transcript = receive(ws, timeout=0.05)
            except TimeoutError:
                continue
            break
        assert transcript is not None and getattr(transcript, "transcript", None) == TEXT
        ws.send(json.dumps({"id": "t-vad", "action": "audio_end"}))
    assert sent < len(pcm)  # the device was still streaming
    record = gateway.transaction("t-vad")
    assert record.end_reason == "gateway" and record.transcript == TEXT
    assert "audio-stop" not in standin.work()[0].events  # it did not need one


def test_down_at_start_then_up_and_down_mid_gateway() -> None:
    port = free_port()
    uri = f"tcp://127.0.0.1:{port}"
    with serve_in_thread(settings_for(uri)) as gw:  # nothing listens: the gateway starts anyway
        with open_client(gw.url) as ws:
            down = utterance(ws, speech(), tid="t-down")
            assert "cannot connect" in down.first(GatewayError).message
            with WyomingStandIn("asr", port=port) as si:
                up = utterance(ws, speech(), tid="t-up")
                assert up.transcript.transcript == TEXT
                assert si.conns[0].events == ["describe"]  # described on reconnect, first
                assert si.work()[0].events[0] == "transcribe"
            gone = utterance(ws, speech(), tid="t-gone")  # the server went away mid-gateway
            assert "cannot connect" in gone.first(GatewayError).message
            with WyomingStandIn("asr", port=port) as again:
                back = utterance(ws, speech(), tid="t-back")
                assert back.transcript.transcript == TEXT
                assert again.describes == 1  # described again after the failure


def test_two_devices_at_once_get_a_connection_each(
    gateway: RunningGateway, standin: WyomingStandIn
) -> None:
    first, second = spoken("what time is it"), spoken("hello there")
    with open_client(gateway.url) as a, open_client(gateway.url) as b:
        for ws, tid in ((a, "t-a"), (b, "t-b")):
            ws.send(json.dumps({"id": tid, "action": "audio_start"}))
        from gateway_support import CHUNK, audio_msg, read_reply

        for i in range(0, max(len(first), len(second)), CHUNK):
            for ws, tid, pcm in ((a, "t-a", first), (b, "t-b", second)):
                if i < len(pcm):
                    ws.send(audio_msg(tid, pcm[i : i + CHUNK]))
        for ws, tid in ((a, "t-a"), (b, "t-b")):
            ws.send(json.dumps({"id": tid, "action": "audio_end"}))
        replies = [read_reply(a), read_reply(b)]
    assert [r.transcript.id for r in replies] == ["t-a", "t-b"]
    assert [r.transcript.transcript for r in replies] == [TEXT, TEXT]
    standin.wait(lambda s: len(s.work()) == 2 and not any(c.open for c in s.work()))
    audios = sorted(bytes(c.audio) for c in standin.work())
    expected = sorted((first, second))
    for got, sent in zip(audios, expected, strict=True):  # each only its own device's audio
        assert got == sent[: len(got)] and len(got) > len(sent) // 2


def test_a_bad_uri_is_exit_78_naming_the_key() -> None:
    from agent.common.settings_values import ConfigError
    from agent.gateway.settings import parse_gateway_settings

    for bad in ("http://127.0.0.1:10300", "tcp://127.0.0.1", "unix:relative"):
        with pytest.raises(ConfigError) as err:
            parse_gateway_settings({"stt": {"engine": "wyoming", "wyoming": {"uri": bad}}},
                                   "gw.yaml")
        assert err.value.exit_code == 78 and "stt.wyoming.uri" in str(err.value)
    with pytest.raises(ConfigError) as err:
        parse_gateway_settings({"stt": {"wyoming": {"timeout_s": "soon"}}}, "gw.yaml")
    assert "stt.wyoming.timeout_s" in str(err.value)


def test_a_real_device_is_heard_by_the_wyoming_server_as_it_streams(tmp_path: Path) -> None:
    audio, _ = compose(tmp_path / "in.wav", [
        ("pause", 1.0), ("say", "hey jarvis"), ("pause", 0.2),
        ("say", "what is the weather like on the moon today"), ("pause", 4.0),
    ])
    out = tmp_path / "out.wav"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("NOTIFY_SOCKET", None)
    with WyomingStandIn("asr") as si, serve_in_thread(settings_for(si.uri)) as gw:
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
        record = gw.transactions[0]
        conn = si.work()[0]
    assert [e["text"] for e in device.of("transcript")] == [TEXT]
    got = bytes(conn.audio)
    assert got == record.audio[: len(got)]  # exactly what the device sent, in order ...
    assert len(got) >= len(record.audio) - 6400  # ... up to where one of the endpointers ended it
    ended = device.of("audio_end")[0]["ts"]
    assert conn.chunk_times[0] < ended  # the server heard it while the device streamed ...
    spread = conn.chunk_times[-1] - conn.chunk_times[0]
    assert spread > 0.5 * len(got) / 32000  # ... chunk by chunk, not in one go at the end
