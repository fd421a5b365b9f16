"""Hostile and broken clients: each gets an error or a close, and nobody else notices.

One gateway with small limits (module scope). After every hostile input the
gateway must still answer a normal spoken transaction.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator

import pytest
from gateway_support import (
    CHUNK,
    RATE,
    audio_msg,
    closed_code,
    open_client,
    read_reply,
    receive,
    silence,
    spoken,
    utterance,
)
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection

from agent.gateway.in_thread import RunningGateway, serve_in_thread
from agent.gateway.settings import GatewaySettings, LimitSettings
from agent.link.protocol import GatewayError, SttTranscript

LIMITS = LimitSettings(
    max_connections=6,
    max_message_bytes=64 * 1024,
    max_utterance_s=3.0,
    transaction_timeout_s=1.0,
    idle_timeout_s=3.0,
    max_errors=5,
)


@pytest.fixture(scope="module")
def gateway() -> Iterator[RunningGateway]:
    gw = serve_in_thread(GatewaySettings(port=0, limits=LIMITS))
    yield gw
    gw.stop()


def answers(ws: ClientConnection) -> None:
    """A normal spoken transaction on ``ws`` gets its normal reply."""
    turn = utterance(ws, spoken("what time is it"))
    assert turn.transcript.transcript == "what time is it"
    assert turn.skill == "time"


def still_serving(gw: RunningGateway) -> None:
    with open_client(gw.url) as ws:
        answers(ws)


def expect_error(ws: ClientConnection, contains: str) -> GatewayError:
    msg = receive(ws, 30)
    assert isinstance(msg, GatewayError), msg
    assert contains in msg.message
    return msg


@pytest.mark.parametrize(
    ("frame", "contains"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"id": "x"}', "missing 'action'"),
        ('{"id": "x", "action": 5}', "'action' must be a string"),
        ('{"id": ["x"], "action": "audio_start"}', "'id' must be a string"),
        ('{"id": "x", "action": "audio_data", "data": 42}', "'data' must be"),
        ('{"id": "x", "action": "audio_data", "data": "%%%"}', "not valid base64"),
        ('{"id": "x", "action": "text", "text": {"a": 1}}', "'text' must be a string"),
        ('{"id": "x", "action": "location", "location": {"latitude": "n"}}', "'latitude'"),
        (
            '{"id": "x", "action": "location", "location": {"latitude": 91, "longitude": 0}}',
            "out of range",
        ),
        ('{"id": "x", "action": "stt_options", "options": [1]}', "'options' must be an object"),
    ],
)
def test_malformed_messages_get_an_error_and_the_connection_goes_on(
    gateway: RunningGateway, frame: str, contains: str
) -> None:
    with open_client(gateway.url) as ws:
        ws.send(frame)
        expect_error(ws, contains)
        answers(ws)


def test_audio_data_without_audio_start(gateway: RunningGateway) -> None:
    with open_client(gateway.url) as ws:
        ws.send(audio_msg("nobody", silence(0.1)))
        assert expect_error(ws, "without audio_start").id == "nobody"
        answers(ws)
        # After that transaction closed, more audio for it is refused too.
        ws.send(audio_msg("late", silence(0.1)))
        expect_error(ws, "without audio_start")
        answers(ws)


def test_unknown_actions_and_binary_frames_are_ignored(gateway: RunningGateway) -> None:
    with open_client(gateway.url) as ws:
        ws.send(json.dumps({"id": "u", "action": "dance", "style": "waltz"}))
        ws.send(b"\x00\x01binary")
        tid = str(uuid.uuid4())
        turn = utterance(ws, spoken("what time is it"), tid=tid)
        # Nothing came for the ignored frames: the first message is the transcript.
        assert isinstance(turn.messages[0], SttTranscript)
        assert turn.messages[0].id == tid


def test_a_frame_over_the_size_cap_closes_that_connection_only(gateway: RunningGateway) -> None:
    with open_client(gateway.url) as bystander, open_client(gateway.url) as ws:
        ws.send(audio_msg("big", silence(2.0)))  # 64 KB of audio, 85 KB of base64
        assert closed_code(ws) == 1009
        answers(bystander)
    still_serving(gateway)


def test_a_transaction_without_audio_end_times_out(gateway: RunningGateway) -> None:
    tid = str(uuid.uuid4())
    with open_client(gateway.url) as ws:
        ws.send(json.dumps({"id": tid, "action": "audio_start"}))
        ws.send(audio_msg(tid, silence(0.5)))  # no speech, then the client goes quiet
        err = expect_error(ws, "no audio for 1 s")
        assert err.id == tid
        rec = gateway.transaction(tid)
        assert rec.end_reason == "timeout" and rec.audio == silence(0.5)
        answers(ws)


def test_endless_audio_is_capped_and_answered(gateway: RunningGateway) -> None:
    """A client that never ends (and a gateway told not to endpoint): the cap ends it."""
    tid = str(uuid.uuid4())
    with open_client(gateway.url + "?endpointing=false") as ws:
        ws.send(json.dumps({"id": tid, "action": "audio_start"}))
        sent = 0
        msg = None
        for _ in range(100):  # up to 10 s of audio; the cap is 3 s
            ws.send(audio_msg(tid, silence(0.1)))
            sent += CHUNK
            try:
                msg = receive(ws, 0.05)
                break
            except TimeoutError:
                continue
        assert isinstance(msg, SttTranscript) and msg.transcript == ""
        read_reply(ws)
        ws.send(json.dumps({"id": tid, "action": "audio_end"}))
        rec = gateway.transaction(tid)
    assert rec.end_reason == "cap"
    assert len(rec.audio) == int(LIMITS.max_utterance_s * RATE) * 2 < sent
    still_serving(gateway)


def test_too_many_errors_close_the_connection(gateway: RunningGateway) -> None:
    with open_client(gateway.url) as ws:
        for _ in range(LIMITS.max_errors + 1):
            ws.send("garbage")
        assert closed_code(ws) == 1008
    still_serving(gateway)


def test_idle_connections_are_closed_and_counted(gateway: RunningGateway) -> None:
    """More connections than allowed are refused (503); idle ones are closed; then all is well."""
    with contextlib.ExitStack() as stack:
        idle = [
            stack.enter_context(open_client(gateway.url)) for _ in range(LIMITS.max_connections)
        ]
        with pytest.raises(InvalidStatus) as refused, open_client(gateway.url):
            pass
        assert refused.value.response.status_code == 503
        assert [closed_code(ws) for ws in idle] == [1000] * len(idle)  # idle timeout
    still_serving(gateway)
