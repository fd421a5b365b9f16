"""The stand-ins speak what the vendors' own clients speak.

Each test runs the vendor's SDK (a test extra: ``assemblyai`` 1.8.x,
``aiola`` 0.4.0), unmodified, against the stand-in on 127.0.0.1: if the
stand-in got the protocol wrong, the vendor's client would fail here, and the
gateway's tests against the stand-in would prove nothing.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from gateway_support import silence, spoken
from standins.v3_standin import TEXT, V3StandIn


@pytest.mark.filterwarnings("ignore:connect\\(\\) must be used:DeprecationWarning")
def test_assemblyai_sdk_streams_to_the_v3_standin() -> None:
    from assemblyai.streaming.v3 import (
        StreamingClient,
        StreamingClientOptions,
        StreamingEvents,
        StreamingParameters,
    )

    pcm = spoken("hello there") + silence(0.5)
    pcm = pcm[: len(pcm) - len(pcm) % 1600]
    events: list[tuple[str, Any]] = []
    terminated = threading.Event()
    with V3StandIn() as standin:
        client = StreamingClient(StreamingClientOptions(api_key=standin.api_key,
                                                        api_host=standin.host))
        client.on(StreamingEvents.Begin, lambda _c, e: events.append(("begin", e)))
        client.on(StreamingEvents.Turn, lambda _c, e: events.append(("turn", e)))
        client.on(StreamingEvents.Error, lambda _c, e: events.append(("error", e)))

        def on_termination(_c: Any, e: Any) -> None:
            events.append(("termination", e))
            terminated.set()

        client.on(StreamingEvents.Termination, on_termination)
        client.connect(StreamingParameters(sample_rate=16000, format_turns=True,
                                           speech_model="universal-streaming-english",
                                           keyterms_prompt=["hello there"]))
        client.stream(pcm[i : i + 1600] for i in range(0, len(pcm), 1600))
        standin.wait(lambda s: s.sessions and len(s.sessions[0].audio) == len(pcm))
        client.disconnect(terminate=True)
        assert terminated.wait(10)
        standin.wait(lambda s: s.open_sessions == 0)
        session = standin.sessions[0]

    kinds = [k for k, _ in events]
    assert "error" not in kinds, events
    assert kinds[0] == "begin" and kinds[-1] == "termination"
    turns = [e for k, e in events if k == "turn"]
    assert any(not t.end_of_turn for t in turns)  # partials came first
    finals = [t for t in turns if t.end_of_turn and t.turn_is_formatted]
    assert [t.transcript for t in finals] == [TEXT]
    # What the SDK sent is what the stand-in received, and how.
    assert bytes(session.audio) == pcm
    assert set(session.frames) == {1600}
    assert session.terminate_received
    assert session.headers["Authorization"] == standin.api_key  # the raw key, no "Bearer"
    assert session.query["sample_rate"] == "16000"
    assert session.query["speech_model"] == "universal-streaming-english"
    assert session.query["format_turns"].lower() == "true"
    assert session.query["keyterms_prompt"] == '["hello there"]'


def test_assemblyai_sdk_sees_a_wrong_key_refused_at_the_handshake() -> None:
    from assemblyai.streaming.v3 import (
        StreamingClient,
        StreamingClientOptions,
        StreamingEvents,
        StreamingParameters,
    )

    errors: list[Any] = []
    with V3StandIn() as standin:
        client = StreamingClient(StreamingClientOptions(api_key="wrong", api_host=standin.host))
        client.on(StreamingEvents.Error, lambda _c, e: errors.append(e))
        client.connect(StreamingParameters(sample_rate=16000,
                                           speech_model="universal-streaming-english"))
        client.disconnect()
        assert standin.refused == 1 and not standin.sessions
    assert [e.code for e in errors] == [401]


def test_aiola_sdk_streams_to_the_aiola_standin() -> None:
    from aiola import AiolaClient
    from aiola.types import LiveEvents
    from standins.aiola_standin import TEXT as AIOLA_TEXT
    from standins.aiola_standin import AiolaStandIn

    pcm = spoken("hello there") + silence(0.5)
    transcripts: list[Any] = []
    heard = threading.Event()
    with AiolaStandIn() as standin:
        client = AiolaClient(api_key=standin.api_key, base_url=standin.url,
                             auth_base_url=standin.url)
        connection = client.stt.stream(lang_code="en", keywords={"hello there": "hello there"})

        def on_transcript(data: Any) -> None:
            transcripts.append(data)
            heard.set()

        connection.on(LiveEvents.Transcript, on_transcript)
        connection.connect()
        for i in range(0, len(pcm), 4096):  # the SDK's mic helper's block size
            connection.send(pcm[i : i + 4096])
        assert heard.wait(10)
        standin.wait(lambda s: len(s.connections[0].audio) == len(pcm))
        connection.disconnect()
        standin.wait(lambda s: s.open_connections == 0)
        conn = standin.connections[0]
    assert transcripts == [{"transcript": AIOLA_TEXT}]
    assert bytes(conn.audio) == pcm
    jwt = conn.query["x-aiola-api-token"]
    assert conn.headers["Authorization"] == f"Bearer {jwt}" and jwt.count(".") == 2
    assert conn.query["lang_code"] == "en" and conn.query["time_zone"] == "UTC"
    assert json.loads(conn.query["keywords"]) == {"hello there": "hello there"}
    assert standin.token_requests == 1 and standin.session_requests[0]["workflow_id"]
