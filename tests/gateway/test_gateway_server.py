"""The reference gateway over real sockets: recognition, replies, dialogs, endpointing.

One gateway (module scope) on 127.0.0.1; speech from the shared recordings
and from espeak-ng (en-us and en-gb voices). It sends the standard form
(base64, prompt on ``audio_end`` too) and unpaced replies, which these tests
read; the default (``reply.form: auto``, ``reply.pace: 1.5``) and IBM-style
clients are tested in ``test_gateway_replies.py``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from gateway_support import (
    CHUNK,
    RATE,
    audio_msg,
    open_client,
    read_reply,
    recording,
    silence,
    spoken,
    text_turn,
    utterance,
    utterance_until_transcript,
)

from agent.gateway.in_thread import RunningGateway, serve_in_thread
from agent.gateway.settings import GatewaySettings, ReplySettings
from agent.link.protocol import ReplyAudioData, ReplyAudioEnd, ReplyAudioStart, decode_gateway


@pytest.fixture(scope="module")
def gateway() -> Iterator[RunningGateway]:
    gw = serve_in_thread(GatewaySettings(port=0, reply=ReplySettings(form="standard", pace=0)))
    yield gw
    gw.stop()


REPLY_ACTIONS = ["stt_transcript", "response", "text", "audio_start", "audio_data", "audio_end"]


@pytest.mark.parametrize(
    ("name", "skill", "heard"),
    [
        ("speech_hi", "greeting", {"hi", "hello"}),
        ("speech_do_you_have_a_pool", "pool", {"do you have a pool"}),
        ("speech_do_you_have_a_pool_2", "pool", {"do you have a pool"}),
    ],
)
def test_shared_recordings_are_recognised(
    gateway: RunningGateway, name: str, skill: str, heard: set[str]
) -> None:
    with open_client(gateway.url) as ws:
        turn = utterance(ws, recording(name))
    assert turn.transcript.transcript in heard
    assert turn.skill == skill
    assert turn.actions == REPLY_ACTIONS
    if skill == "pool":
        assert "pool on the roof" in turn.text.text
        assert turn.text.prompt is False
    else:  # the greeting asks what the user wants: listen again
        assert turn.text.prompt is True


COMMANDS = [
    ("what time is it", "time"),
    ("what is the date", "date"),
    ("set a timer for ten minutes", "timer"),
    ("set a timer for five seconds", "timer"),
    ("set a timer for two hours", "timer"),
    ("how much time is left", "timer_left"),
    ("cancel the timer", "timer_cancel"),
    ("say hello world", "echo"),
    ("do you have a pool", "pool"),
    ("where am i", "location"),
    ("turn the volume up", "device"),
    ("what can you do", "help"),
]


@pytest.mark.parametrize("voice", ["en-us", "en-gb"])
@pytest.mark.parametrize(("text", "skill"), COMMANDS)
def test_espeak_commands_are_recognised(
    gateway: RunningGateway, voice: str, text: str, skill: str
) -> None:
    with open_client(gateway.url) as ws:
        turn = utterance(ws, spoken(text, voice))
    assert turn.transcript.transcript == text
    assert turn.skill == skill
    assert 0.5 <= turn.transcript.confidence <= 1.0
    if skill == "echo":
        assert turn.text.text == "hello world"
    if skill == "device":
        assert turn.response.card is not None
        assert (turn.response.card.feature, turn.response.card.action) == ("volume", "increase")


def test_reply_messages_in_order_with_fresh_reply_id(gateway: RunningGateway) -> None:
    tid = str(uuid.uuid4())
    with open_client(gateway.url) as ws:
        turn = utterance(ws, spoken("do you have a pool"), tid=tid)
    assert turn.actions == REPLY_ACTIONS
    assert turn.transcript.id == tid and turn.transcript.transaction_id == tid
    assert turn.response.speech_text == turn.text.text
    start = turn.first(ReplyAudioStart)
    assert start.id != tid and uuid.UUID(start.id).version == 4
    assert start.content_type == "audio/l16; rate=16000; channels=1"
    chunks = [m for m in turn.messages if isinstance(m, ReplyAudioData)]
    assert all(m.id == start.id for m in chunks)
    assert all(len(m.audio) == CHUNK for m in chunks[:-1])  # 100 ms per message
    assert 0 < len(chunks[-1].audio) <= CHUNK and len(turn.reply_audio) % 2 == 0
    end = turn.first(ReplyAudioEnd)
    assert end.id == start.id and end.prompt is False
    # About as long as the sentence takes to say: speech, not a click.
    assert len(turn.reply_audio) / 2 / RATE > 2.0


@pytest.mark.parametrize("voice", ["en-us", "en-gb"])
def test_timer_dialog_asks_back_and_confirms(gateway: RunningGateway, voice: str) -> None:
    with open_client(gateway.url) as ws:
        first = utterance(ws, spoken("set a timer", voice))
        assert first.transcript.transcript == "set a timer"
        assert first.skill == "timer"
        assert first.text.text == "For how long?"
        assert first.text.prompt is True and first.first(ReplyAudioEnd).prompt is True
        second = utterance(ws, spoken("five minutes", voice))
        assert second.transcript.transcript == "five minutes"
        assert second.skill == "timer"
        assert "five minutes" in second.text.text
        assert second.text.prompt is False and second.first(ReplyAudioEnd).prompt is False
        # The dialog is over: the same words now mean nothing.
        third = text_turn(ws, "five minutes")
        assert third.skill == "fallback"


def test_dialog_state_is_per_connection(gateway: RunningGateway) -> None:
    with open_client(gateway.url) as a, open_client(gateway.url) as b:
        assert text_turn(a, "set a timer").text.prompt is True
        assert text_turn(b, "five minutes").skill == "fallback"  # b asked nothing
        assert "five minutes" in text_turn(a, "five minutes").text.text


def test_gateway_ends_the_utterance_on_silence(gateway: RunningGateway) -> None:
    """Like the old client: speech, then silence until stt_transcript, only then audio_end."""
    speech = spoken("what time is it", trail_s=0.0)
    tid = str(uuid.uuid4())
    with open_client(gateway.url) as ws:
        turn, sent = utterance_until_transcript(ws, speech, tid=tid)
    assert turn.actions == REPLY_ACTIONS
    assert turn.transcript.transcript == "what time is it"
    rec = gateway.transaction(tid)
    assert rec.end_reason == "gateway"
    # Everything we sent, byte for byte, including the silence after the end.
    assert len(rec.audio) == sent and rec.audio[: len(speech)] == speech
    assert rec.audio[len(speech) :] == bytes(sent - len(speech))
    # Ended 700 ms (audio time) after the speech stopped, not at our audio_end.
    speech_end = len(speech) // 2
    assert speech_end < rec.endpoint_sample <= speech_end + int(0.72 * RATE)
    assert rec.endpoint_sample < sent // 2


def test_client_ends_the_utterance_when_gateway_endpointing_is_off(
    gateway: RunningGateway,
) -> None:
    pcm = spoken("what time is it", trail_s=3.0)  # long silence the gateway would end on
    tid = str(uuid.uuid4())
    with open_client(gateway.url + "?endpointing=false") as ws:
        turn = utterance(ws, pcm, tid=tid)
    assert turn.transcript.transcript == "what time is it"
    rec = gateway.transaction(tid)
    assert rec.end_reason == "client"
    assert rec.endpoint_sample == len(pcm) // 2 and rec.audio == pcm


def test_received_audio_is_exact_in_odd_chunks(gateway: RunningGateway) -> None:
    pcm = recording("speech_hi")
    tid = str(uuid.uuid4())
    with open_client(gateway.url) as ws:
        ws.send(json.dumps({"id": tid, "action": "audio_start"}))
        for i in range(0, len(pcm), 999):  # samples split across messages
            ws.send(audio_msg(tid, pcm[i : i + 999]))
        ws.send(json.dumps({"id": tid, "action": "audio_end"}))
        turn = read_reply(ws)
    assert turn.skill == "greeting"
    assert gateway.transaction(tid).audio == pcm


def test_node_buffer_form_puts_prompt_on_text_only(gateway: RunningGateway) -> None:
    with open_client(gateway.url + "?reply_form=node") as ws:
        ws.send(json.dumps({"id": "t1", "action": "text", "text": "set a timer"}))
        raw = []
        while True:
            frame = json.loads(ws.recv(timeout=30))
            raw.append(frame)
            if frame["action"] == "audio_end":
                break
    by_action = {f["action"]: f for f in raw}
    assert by_action["text"]["prompt"] is True
    assert "prompt" not in by_action["audio_end"]
    data = [f for f in raw if f["action"] == "audio_data"]
    assert data and all(f["data"]["type"] == "Buffer" for f in data)
    node_audio = b"".join(decode_gateway(json.dumps(f)).audio for f in data)  # type: ignore[union-attr]
    with open_client(gateway.url) as ws:
        standard = text_turn(ws, "set a timer")
    # Same speech, other wrapping; the Node form's ends with its silent tail (issue 24).
    tail = bytes(2 * GatewaySettings().reply.legacy_tail_ms * 16000 // 1000)
    assert node_audio == standard.reply_audio + tail
    assert standard.first(ReplyAudioEnd).prompt is True


def test_text_input_location_and_options(gateway: RunningGateway) -> None:
    with open_client(gateway.url) as ws:
        ws.send(
            json.dumps(
                {
                    "id": "o1",
                    "action": "stt_options",
                    "options": {"engine": "watson", "smart_formatting": True},
                }
            )
        )
        ws.send(
            json.dumps(
                {
                    "id": "o2",
                    "action": "tts_options",
                    "options": {"voice": "en-gb", "accept": "audio/l16; rate=16000"},
                }
            )
        )
        ws.send(
            json.dumps(
                {
                    "id": "o3",
                    "action": "location",
                    "location": {"latitude": 45.408032, "longitude": -123.0083655},
                }
            )
        )
        typed = text_turn(ws, "Where am I?")
        assert typed.actions == ["response", "text", "audio_start", "audio_data", "audio_end"]
        assert "latitude 45.41, longitude -123.01" in typed.text.text
        # An unknown engine name (the old client's "watson") uses the built-in one.
        spoken_turn = utterance(ws, spoken("what is the date"))
        assert spoken_turn.skill == "date"


def test_silence_only_ends_as_no_speech(gateway: RunningGateway) -> None:
    tid = str(uuid.uuid4())
    with open_client(gateway.url) as ws:
        ws.send(
            json.dumps({"id": "o", "action": "stt_options", "options": {"inactivity_timeout": 1}})
        )
        turn, sent = utterance_until_transcript(ws, silence(0.2), tid=tid)
    assert turn.transcript.transcript == ""
    assert turn.skill == "fallback" and "didn't hear" in turn.text.text
    rec = gateway.transaction(tid)
    assert rec.end_reason == "no_speech" and rec.endpoint_sample == RATE
    assert len(rec.audio) == sent


def test_a_new_audio_start_replaces_an_unfinished_transaction(gateway: RunningGateway) -> None:
    old, new = str(uuid.uuid4()), str(uuid.uuid4())
    half = spoken("do you have a pool", trail_s=0.0)[: 16000 * 2]  # cut mid-sentence
    with open_client(gateway.url) as ws:
        ws.send(json.dumps({"id": old, "action": "audio_start"}))
        ws.send(audio_msg(old, half))
        turn = utterance(ws, spoken("what time is it"), tid=new)
        assert turn.transcript.id == new and turn.skill == "time"
    rec = gateway.transaction(old)
    assert rec.end_reason == "replaced" and rec.audio == half and rec.transcript is None
