"""The sans-I/O protocol: round trips in both directions, every compatibility
form of gateway-protocol.md, and a fuzz test of the decoders."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.link import protocol as p

TID = "0b7c3a52-4a55-4c39-9d6b-0b7d6f2b9a11"
PCM = bytes(range(256)) * 3


def test_new_id_is_uuid4() -> None:
    ids = {p.new_id() for _ in range(100)}
    assert len(ids) == 100
    for value in ids:
        assert uuid.UUID(value).version == 4


CLIENT_MESSAGES = [
    p.AudioStart(TID),
    p.AudioStart(TID, {"stt": {"language": "en-US"}, "tts": {"voice": "x"}}),
    p.AudioData(TID, PCM),
    p.AudioData(TID, b""),
    p.AudioEnd(TID),
    p.SttOptions(TID, {"engine": "pocketsphinx", "inactivity_timeout": -1}),
    p.TtsOptions(TID, {"accept": "audio/l16; rate=16000; channels=1"}),
    p.TtsOptions(TID, {"voice": "en-us"}, audio="http://x/y"),
    p.TextInput(TID, "what time is it"),
    p.Location(TID, 45.408032, -123.0083655),
    p.Announce(TID, "Dinner is ready."),
    p.Announce(TID, "The post is here.", "porch"),
]


@pytest.mark.parametrize("msg", CLIENT_MESSAGES, ids=lambda m: type(m).__name__)
def test_client_round_trip(msg: p.ClientMessage) -> None:
    text = p.encode(msg)
    assert json.loads(text)["action"] == msg.action
    assert p.decode_client(text) == msg


GATEWAY_MESSAGES = [
    p.SttTranscript(TID, "do you have a pool", 0.82, TID),
    p.SttTranscript(TID, "", None, TID),
    p.Response(TID, {"speech": {"text": "Yes."}}),
    p.TextReply(TID, "For how long?", prompt=True),
    p.TextReply(TID, "Ok", prompt=False),
    p.TextReply(TID, "Which city?", voice="http://v", prompt={"language": "en-GB"}),
    p.ReplyAudioStart("r1"),
    p.ReplyAudioData("r1", PCM),
    p.ReplyAudioEnd("r1", prompt=True),
    p.ReplyAudioEnd("r1"),
    p.GatewayError(TID, "stt failed"),
]


@pytest.mark.parametrize("msg", GATEWAY_MESSAGES, ids=lambda m: type(m).__name__)
def test_gateway_round_trip(msg: p.GatewayMessage) -> None:
    assert p.decode_gateway(p.encode(msg)) == msg


def test_audio_data_wire_form_is_base64_with_encoding() -> None:
    obj = json.loads(p.encode(p.AudioData(TID, PCM)))
    assert obj == {
        "id": TID,
        "action": "audio_data",
        "encoding": "base64",
        "data": base64.b64encode(PCM).decode(),
    }


def test_reply_audio_buffer_form_round_trip() -> None:
    text = p.encode(p.ReplyAudioData("r1", PCM), buffer_form=True)
    obj = json.loads(text)
    assert obj["data"] == {"type": "Buffer", "data": list(PCM)}
    assert p.decode_gateway(text) == p.ReplyAudioData("r1", PCM)


def test_buffer_form_from_node() -> None:
    text = '{"id":"r","action":"audio_data","data":{"type":"Buffer","data":[12,0,250,255]}}'
    assert p.decode_gateway(text) == p.ReplyAudioData("r", bytes([12, 0, 250, 255]))


@pytest.mark.parametrize(
    "data",
    [
        {"type": "Buffer", "data": [256]},
        {"type": "Buffer", "data": [-1]},
        {"type": "Buffer", "data": [1.5]},
        {"type": "Buffer", "data": [True]},
        {"type": "Buffer", "data": "abc"},
        {"type": "Other", "data": []},
        "not base64!",
        12,
    ],
)
def test_bad_audio_data_is_protocol_error(data: object) -> None:
    text = json.dumps({"id": "r", "action": "audio_data", "data": data})
    with pytest.raises(p.ProtocolError):
        p.decode_gateway(text)


def test_prompt_on_text_message_and_on_audio_end() -> None:
    text = p.decode_gateway('{"id":"a","action":"text","text":"How long?","prompt":true}')
    assert isinstance(text, p.TextReply) and text.prompt is True
    end = p.decode_gateway('{"id":"a","action":"audio_end","prompt":{"language":"fr-FR"}}')
    assert isinstance(end, p.ReplyAudioEnd) and end.prompt == {"language": "fr-FR"}
    none = p.decode_gateway('{"id":"a","action":"audio_end"}')
    assert isinstance(none, p.ReplyAudioEnd) and none.prompt is None
    with pytest.raises(p.ProtocolError):
        p.decode_gateway('{"id":"a","action":"audio_end","prompt":"yes"}')


def test_text_or_speech_field() -> None:
    a = p.decode_gateway('{"id":"a","action":"text","speech":"hello"}')
    assert isinstance(a, p.TextReply) and a.text == "hello"
    # Sent with both: IBM's client reads only `speech`, the protocol names either.
    sent = json.loads(p.encode(p.TextReply("a", "For how long?", prompt=True)))
    assert sent["text"] == sent["speech"] == "For how long?" and sent["prompt"] is True
    with pytest.raises(p.ProtocolError):
        p.decode_gateway('{"id":"a","action":"text"}')


def test_error_as_object_or_string() -> None:
    a = p.decode_gateway('{"id":"a","action":"error","error":{"message":"boom"}}')
    b = p.decode_gateway('{"id":"a","action":"error","error":"boom"}')
    assert a == b == p.GatewayError("a", "boom")
    c = p.decode_gateway('{"action":"error","error":{"code":7}}')
    assert isinstance(c, p.GatewayError) and "7" in c.message and c.id == ""


def test_speech_text_from_speech_or_say() -> None:
    new = p.decode_gateway('{"id":"a","action":"response","data":{"speech":{"text":"Hi"}}}')
    old = p.decode_gateway('{"id":"a","action":"response","data":{"say":"Hi"}}')
    assert isinstance(new, p.Response) and new.speech_text == "Hi"
    assert isinstance(old, p.Response) and old.speech_text == "Hi"
    empty = p.Response("a", {})
    assert empty.speech_text is None and empty.card is None


@pytest.mark.parametrize(
    "card,expected",
    [
        (
            {"type": "command", "content": {"feature": "volume", "action": "increase"}},
            p.Card("volume", "increase"),
        ),
        (
            {"type": "COMMAND", "content": {"feature": "Playback", "action": "STOP"}},
            p.Card("playback", "stop"),
        ),
        ({"type": "image", "content": {"feature": "volume", "action": "mute"}}, None),
        ({"type": "command", "content": "volume"}, None),
    ],
)
def test_command_cards(card: dict[str, object], expected: p.Card | None) -> None:
    msg = p.decode_gateway(json.dumps({"id": "a", "action": "response", "data": {"card": card}}))
    assert isinstance(msg, p.Response)
    assert msg.card == expected


def test_transcript_wire_form() -> None:
    obj = json.loads(p.encode(p.SttTranscript(TID, "hi", 0.5, TID)))
    assert obj == {
        "id": TID,
        "action": "stt_transcript",
        "transcript": "hi",
        "confidence": 0.5,
        "transactionId": TID,
    }


def test_location_wire_form_and_range() -> None:
    obj = json.loads(p.encode(p.Location(TID, 45.408032, -123.0083655)))
    assert obj["location"] == {"latitude": 45.408032, "longitude": -123.0083655}
    loc = {"latitude": 91, "longitude": 0}
    bad = json.dumps({"id": "a", "action": "location", "location": loc})
    with pytest.raises(p.ProtocolError):
        p.decode_client(bad)


def test_unknown_action_is_typed_not_an_exception() -> None:
    msg = p.decode_gateway('{"id":"a","action":"frobnicate","x":1}')
    assert msg == p.Unknown("a", "frobnicate", {"x": 1})
    msg2 = p.decode_client('{"id":"a","action":"hello"}')
    assert isinstance(msg2, p.Unknown) and msg2.action == "hello"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not json",
        "[]",
        '"x"',
        "{}",
        '{"action": 5}',
        '{"id": [], "action": "audio_end"}',
        '{"id": "a", "action": "stt_transcript"}',
        '{"id": "a", "action": "stt_transcript", "transcript": 3}',
        '{"id": "a", "action": "stt_transcript", "transcript": "x", "confidence": "hi"}',
        '{"id": "a", "action": "stt_transcript", "transcript": "x", "confidence": true}',
        '{"id": "a", "action": "response", "data": "x"}',
        '{"id": "a", "action": "error", "error": 5}',
        '{"id": "a", "action": "location", "location": {"latitude": 1e999, "longitude": 0}}',
        "[" * 100000 + "]" * 100000,
    ],
)
def test_malformed_frames_raise_protocol_error(text: str) -> None:
    # Each decoder either refuses the frame or, for an action the other side
    # owns, returns Unknown; at least one of them must refuse it.
    refused = 0
    for decode in (p.decode_gateway, p.decode_client):
        try:
            result = decode(text)
        except p.ProtocolError:
            refused += 1
        else:
            assert isinstance(result, p.Unknown)
    assert refused >= 1


def test_size_cap() -> None:
    big = p.encode(p.ReplyAudioData("r", b"\0" * 4_000_000))
    with pytest.raises(p.ProtocolError, match="exceeds"):
        p.decode_gateway(big)
    assert p.decode_gateway(big, max_bytes=len(big)) == p.ReplyAudioData("r", b"\0" * 4_000_000)


def test_encoder_never_sends_nan() -> None:
    with pytest.raises(ValueError):
        p.encode(p.Location(TID, float("nan"), 0.0))


# ---------------------------------------------------------------- fuzzing

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
actions = st.sampled_from(
    [
        "audio_start",
        "audio_data",
        "audio_end",
        "stt_options",
        "tts_options",
        "text",
        "location",
        "stt_transcript",
        "response",
        "error",
        "x",
    ]
)
keys = st.sampled_from(
    [
        "id",
        "data",
        "options",
        "prompt",
        "text",
        "speech",
        "error",
        "location",
        "transcript",
        "confidence",
        "transactionId",
        "audio",
        "voice",
        "encoding",
    ]
)
messages = st.builds(
    lambda action, extra: json.dumps({"action": action, **extra}),
    actions,
    st.dictionaries(keys, json_values, max_size=5),
)


def _decode_both(text: str | bytes) -> None:
    for decode in (p.decode_gateway, p.decode_client):
        try:
            decode(text)
        except p.ProtocolError:
            pass


@settings(max_examples=1500, deadline=None)
@given(st.text())
def test_fuzz_any_text_raises_only_protocol_error(text: str) -> None:
    _decode_both(text)


@settings(max_examples=500, deadline=None)
@given(st.binary())
def test_fuzz_any_bytes_raise_only_protocol_error(data: bytes) -> None:
    _decode_both(data)


@settings(max_examples=3000, deadline=None)
@given(messages)
def test_fuzz_structured_messages_raise_only_protocol_error(text: str) -> None:
    _decode_both(text)


def test_announce_needs_text() -> None:
    with pytest.raises(p.ProtocolError):
        p.decode_client(json.dumps({"id": TID, "action": "announce", "text": "  "}))


def test_timer_card_fields() -> None:
    card = {"id": "t1", "name": "five minute", "event": "finished", "seconds": 300}
    assert p.timer_card({"timer": card}) == p.TimerCard("t1", "five minute", "finished", 300.0)
    assert p.timer_card({"speech": {"text": "hi"}}) is None


@pytest.mark.parametrize(
    "bad",
    [
        "finished",
        {"id": 5, "name": "x", "event": "finished", "seconds": 1},
        {"id": "t", "name": "x", "event": "exploded", "seconds": 1},
        {"id": "t", "name": "x", "event": "started", "seconds": -1},
        {"id": "t", "name": "x", "event": "started", "seconds": True},
        {"id": "t", "name": 3, "event": "started", "seconds": 1},
        {"id": "", "name": "x", "event": "started", "seconds": 1},
    ],
)
def test_bad_timer_cards_raise_protocol_error(bad: object) -> None:
    with pytest.raises(p.ProtocolError):
        p.timer_card({"timer": bad})
