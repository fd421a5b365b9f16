"""The gateway with ``stt.engine: aiola`` against the aiOla stand-in, over real sockets.

The stand-in (tests/standins/aiola_standin.py, proven with the vendor's SDK
in test_standins.py) "hears" a sentence no skill has, so a transcript equal
to it shows that aiOla answered.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from gateway_support import CHUNK, audio_msg, open_client, read_reply, receive, silence, spoken
from gateway_support import utterance as full_utterance
from standins.aiola_standin import TEXT, AiolaStandIn, Script

from agent.gateway.in_thread import RunningGateway, serve_in_thread
from agent.gateway.settings import GatewaySettings, SttSettings
from agent.gateway.stt.config import AiolaSettings
from agent.link.protocol import GatewayError, SttTranscript


@pytest.fixture(scope="module")
def standin() -> Iterator[AiolaStandIn]:
    with AiolaStandIn() as s:
        yield s


@pytest.fixture(scope="module")
def gateway(
    standin: AiolaStandIn, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    key = tmp_path_factory.mktemp("aiola") / "aiola.key"
    key.write_text(standin.api_key + "\n")
    settings = GatewaySettings(
        port=0,
        stt=SttSettings(
            engine="aiola",
            workers=1,
            aiola=AiolaSettings(base_url=standin.url, auth_url=standin.url,
                                api_key_file=str(key), lang_code="de"),
        ),
    )
    gw = serve_in_thread(settings)
    yield gw
    gw.stop()


@pytest.fixture(autouse=True)
def fresh(standin: AiolaStandIn) -> Iterator[None]:
    standin.scripts.clear()
    standin.connections.clear()
    standin.refuse_key = False
    yield
    standin.wait(lambda s: s.open_connections == 0)  # no test leaves a connection open


def speech() -> bytes:
    return spoken("what time is it") + silence(0.3)


def test_the_transcript_is_aiolas_and_the_audio_arrives_whole(
    gateway: RunningGateway, standin: AiolaStandIn
) -> None:
    standin.next(Script(end_after_ms=None))  # no segment closes: all the audio is sent
    pcm = speech()
    with open_client(gateway.url) as ws:
        turn = full_utterance(ws, pcm, tid="a-relay")
    # No transcript came before audio_end: aiOla's answer is "nothing heard".
    assert turn.transcript.transcript == ""
    standin.wait(lambda s: s.connections and not s.connections[0].open)
    conn = standin.connections[0]
    assert bytes(conn.audio) == pcm  # exactly what the device sent, forwarded as it came
    q = conn.query
    assert q["lang_code"] == "de" and q["time_zone"] == "UTC"
    assert conn.headers["Authorization"] == f"Bearer {q['x-aiola-api-token']}"
    assert "what time is it" in json.loads(q["keywords"])
    assert gateway.transaction("a-relay").engine == "aiola"


def test_aiolas_transcript_ends_the_utterance_while_the_device_streams(
    gateway: RunningGateway, standin: AiolaStandIn
) -> None:
    pcm = spoken("what time is it") + silence(10)
    sent = 0
    with open_client(gateway.url) as ws:
        ws.send(json.dumps({"id": "a-eot", "action": "audio_start"}))
        got = None
        for i in range(0, len(pcm), CHUNK):
            ws.send(audio_msg("a-eot", pcm[i : i + CHUNK]))
            sent += CHUNK
            try:
                got = receive(ws, timeout=0.05)
                break
            except TimeoutError:
                continue
        assert isinstance(got, SttTranscript) and got.transcript == TEXT, got
        ws.send(json.dumps({"id": "a-eot", "action": "audio_end"}))
        read_reply(ws)
    assert sent < len(pcm)
    record = gateway.transaction("a-eot")
    assert record.end_reason == "gateway" and record.transcript == TEXT


def test_a_device_that_leaves_leaves_no_connection_open(
    gateway: RunningGateway, standin: AiolaStandIn
) -> None:
    standin.next(Script(end_after_ms=None))
    with open_client(gateway.url) as ws:
        ws.send(json.dumps({"id": "a-gone", "action": "audio_start"}))
        for i in range(0, 5 * CHUNK, CHUNK):
            ws.send(audio_msg("a-gone", speech()[i : i + CHUNK]))
        standin.wait(lambda s: s.connections and len(s.connections[0].audio) >= 5 * CHUNK)
        ws.close()  # mid-utterance, no audio_end
    standin.wait(lambda s: s.open_connections == 0)


FAULTS = ["key", "refuse", "error", "disconnect"]


@pytest.mark.parametrize("fault", FAULTS)
def test_each_fault_is_an_error_and_the_next_transaction_works(
    gateway: RunningGateway, standin: AiolaStandIn, caplog: pytest.LogCaptureFixture, fault: str
) -> None:
    caplog.set_level(logging.WARNING, logger="agent")
    if fault == "key":
        standin.refuse_key = True
        gateway.gateway.services.stt.aiola_auth.invalidate()  # type: ignore[union-attr]
    else:
        standin.next(Script(fault=fault, fault_after_ms=200, end_after_ms=None))
    with open_client(gateway.url) as ws:
        bad = full_utterance(ws, speech(), tid="a-bad")
        error = bad.first(GatewayError)
        assert error.id == "a-bad" and "aiola" in error.message, error.message
        assert any("aiola" in r.getMessage() for r in caplog.records)
        standin.refuse_key = False
        good = full_utterance(ws, spoken("what time is it") + silence(0.6), tid="a-good")
    assert good.transcript.transcript == TEXT
    if fault == "key":
        assert "401" in error.message


def test_two_devices_at_once_get_two_connections(
    gateway: RunningGateway, standin: AiolaStandIn
) -> None:
    standin.next(Script(end_after_ms=None), Script(end_after_ms=None))
    first, second = spoken("what time is it"), spoken("hello there")
    with open_client(gateway.url) as a, open_client(gateway.url) as b:
        for ws, tid in ((a, "a-1"), (b, "a-2")):
            ws.send(json.dumps({"id": tid, "action": "audio_start"}))
        standin.wait(lambda s: len(s.connections) == 2)
        for i in range(0, max(len(first), len(second)), CHUNK):
            for ws, tid, pcm in ((a, "a-1", first), (b, "a-2", second)):
                if i < len(pcm):
                    ws.send(audio_msg(tid, pcm[i : i + CHUNK]))
        for ws, tid in ((a, "a-1"), (b, "a-2")):
            ws.send(json.dumps({"id": tid, "action": "audio_end"}))
        assert [read_reply(a).transcript.id, read_reply(b).transcript.id] == ["a-1", "a-2"]
    standin.wait(lambda s: s.open_connections == 0)
    assert sorted(bytes(c.audio) for c in standin.connections) == sorted([first, second])
    ids = {c.query["execution_id"] for c in standin.connections}
    assert len(ids) == 2


def test_the_jwt_is_reused_until_near_its_expiry_then_refreshed(
    gateway: RunningGateway, standin: AiolaStandIn
) -> None:
    auth = gateway.gateway.services.stt.aiola_auth
    assert auth is not None
    auth.invalidate()
    standin.jwt_lifetime_s = 3600
    with open_client(gateway.url) as ws:
        before = auth.fetches
        for n in range(2):
            full_utterance(ws, spoken("what time is it") + silence(0.6), tid=f"a-jwt{n}")
        assert auth.fetches == before + 1  # one jwt for both
        standin.jwt_lifetime_s = 200  # inside the 5-minute margin: refreshed every time
        auth.invalidate()
        for n in range(2, 4):
            full_utterance(ws, spoken("what time is it") + silence(0.6), tid=f"a-jwt{n}")
        assert auth.fetches == before + 3
    standin.jwt_lifetime_s = 3600
    jwts = [c.query["x-aiola-api-token"] for c in standin.connections]
    assert len(set(jwts[2:])) == 2 and jwts[0] == jwts[1]
