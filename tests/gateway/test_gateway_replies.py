"""Reply forms and pacing: who gets base64, who gets the Node Buffer form, paced replies.

Real parts: the reference gateway on 127.0.0.1 with its default settings
(``reply.form: auto``, ``reply.pace: 1.5``), the device's own
:class:`~agent.link.connection.GatewayConnection`, and an IBM-style client
(``tests/ibm_style_client.py``) that plays only the Buffer form and reads the
reply text from ``speech``. No timing asserts: pacing is checked by what
arrives and in which order; a reply whose pacing did not stop would not
arrive within the (generous) receive timeout at a pace of 0.02.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from gateway_support import audio_msg, open_client, recording, spoken
from ibm_style_client import NO_DATA_KEY, IbmStyleClient

from agent.config.load import parse_config
from agent.gateway.forms import announces_device, choose_form
from agent.gateway.in_thread import RunningGateway, serve_in_thread
from agent.gateway.reply import LEGACY_LEAD_S, RATE, ReplySender, chunks, schedule
from agent.gateway.settings import GatewaySettings, ReplySettings, SttSettings
from agent.gateway.tts import Espeak
from agent.link.connection import GatewayConnection
from agent.link.endpoint import USER_AGENT
from agent.link.protocol import (
    GatewayMessage,
    ReplyAudioData,
    ReplyAudioEnd,
    ReplyAudioStart,
    TextInput,
    TextReply,
    Unknown,
)

POOL_ANSWER = "pool on the roof"
TAIL = bytes(2 * GatewaySettings().reply.legacy_tail_ms * RATE // 1000)
"""The silence the Node form's replies end with (reply.legacy_tail_ms)."""


@pytest.fixture(scope="module")
def gateway() -> Iterator[RunningGateway]:
    """The reference gateway as shipped: auto reply form, paced at 1.5x real time."""
    settings = GatewaySettings(port=0)
    assert (settings.reply.form, settings.reply.pace) == ("auto", 1.5)
    gw = serve_in_thread(settings)
    yield gw
    gw.stop()


@pytest.fixture(scope="module")
def slow_gateway() -> Iterator[RunningGateway]:
    """Replies paced at 0.02x real time: a 3 s reply would take 150 s unhurried."""
    settings = GatewaySettings(
        port=0, reply=ReplySettings(pace=0.02), stt=SttSettings(workers=1)
    )
    gw = serve_in_thread(settings)
    yield gw
    gw.stop()


def espeak(text: str) -> bytes:
    """The reply audio the gateway makes of ``text`` (same voice and speed)."""
    s = GatewaySettings()
    return asyncio.run(Espeak().synthesize(text, s.tts.voice, s.tts.speed))


def rms(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


def raw_reply(ws: Any, timeout: float = 60.0) -> list[dict[str, Any]]:
    """Raw JSON frames up to and including the next audio_end."""
    frames = []
    while True:
        frame = json.loads(ws.recv(timeout=timeout))
        frames.append(frame)
        if frame["action"] == "audio_end":
            return frames


# --- which client gets which form ---------------------------------------------


@pytest.mark.parametrize(
    ("user_agent", "device"),
    [
        ("voice-agent/0.1.0", True),
        ("Voice-Agent/2", True),
        ("voice-agent", True),
        ("kitchen (pi 4) voice-agent/0.1.0 (arm64)", True),
        ("Python/3.11 websockets/17.4", False),
        ("Java/1.8.0_181", False),
        ("voice-agent-fork/1.0", False),
        ("(voice-agent/1.0)", False),  # in a comment: not a product
        ("", False),
        (None, False),
    ],
)
def test_only_this_projects_device_is_recognised(user_agent: str | None, device: bool) -> None:
    assert announces_device(user_agent) is device


@pytest.mark.parametrize(
    ("setting", "query", "user_agent", "form"),
    [
        ("auto", None, USER_AGENT, "standard"),
        ("auto", None, None, "node"),
        ("auto", None, "Python/3.11 websockets/17.4", "node"),
        ("auto", "standard", None, "standard"),
        ("auto", "NODE", USER_AGENT, "node"),
        ("standard", None, None, "standard"),
        ("node", None, USER_AGENT, "node"),
        ("node", "auto", USER_AGENT, "standard"),
        ("standard", "bogus", None, "standard"),  # an unknown value is ignored
    ],
)
def test_form_choice(setting: str, query: str | None, user_agent: str | None, form: str) -> None:
    choice = choose_form(setting, query, user_agent)
    assert choice.form == form and choice.buffer_form is (form == "node")


def test_the_device_announces_itself_and_gets_base64(gateway: RunningGateway) -> None:
    """The project's own connection code, against the gateway as shipped."""
    got: list[GatewayMessage | Unknown] = []
    done = threading.Event()

    def on_message(msg: GatewayMessage | Unknown) -> None:  # the connection's thread
        got.append(msg)
        if isinstance(msg, ReplyAudioEnd):
            done.set()

    config = parse_config({"gateway": {"url": gateway.url}}, "test")
    with GatewayConnection(config.gateway, on_message=on_message) as conn:
        assert conn.wait_connected(30)
        assert conn.send(TextInput(str(uuid.uuid4()), "do you have a pool"))
        assert done.wait(60)
    [record] = [c for c in gateway.connections if c.user_agent == USER_AGENT]
    assert record.reply_form == "standard"
    end = next(m for m in got if isinstance(m, ReplyAudioEnd))
    assert end.prompt is False  # the standard form carries prompt on audio_end too
    audio = b"".join(m.audio for m in got if isinstance(m, ReplyAudioData))
    assert audio == espeak(next(m for m in got if isinstance(m, TextReply)).text)


def test_base64_on_the_wire_for_the_device_buffer_for_others(gateway: RunningGateway) -> None:
    with open_client(gateway.url, user_agent_header=USER_AGENT) as device:
        device.send(json.dumps({"id": "d", "action": "text", "text": "do you have a pool"}))
        device_frames = raw_reply(device)
    with open_client(gateway.url) as other:  # websockets' own User-Agent
        other.send(json.dumps({"id": "o", "action": "text", "text": "do you have a pool"}))
        other_frames = raw_reply(other)
    device_data = [f["data"] for f in device_frames if f["action"] == "audio_data"]
    other_data = [f["data"] for f in other_frames if f["action"] == "audio_data"]
    assert device_data and all(isinstance(d, str) for d in device_data)
    assert other_data and all(d["type"] == "Buffer" for d in other_data)
    # The same speech either way; the Node form's ends with the silent tail.
    device_audio = b"".join(base64.b64decode(d) for d in device_data)
    assert b"".join(bytes(d["data"]) for d in other_data) == device_audio + TAIL
    # Every text reply carries both fields, in either form.
    for frames in (device_frames, other_frames):
        [text] = [f for f in frames if f["action"] == "text"]
        assert text["text"] == text["speech"] and POOL_ANSWER in text["speech"]


# --- IBM's client --------------------------------------------------------------

FORMS = [
    pytest.param("", id="default-buffer"),
    pytest.param("?reply_form=standard", id="forced-base64"),
]


@pytest.mark.parametrize("query", FORMS)
def test_ibm_style_client_asks_about_the_pool(gateway: RunningGateway, query: str) -> None:
    with IbmStyleClient(gateway.url + query) as ibm:
        turn = ibm.turn(recording("speech_do_you_have_a_pool"))
    assert turn.transcript == "do you have a pool"
    assert turn.text is not None and POOL_ANSWER in turn.text  # from `speech`
    assert turn.prompt is False
    [record] = [c for c in gateway.connections if c.user_agent is None][-1:]
    if query:  # base64: every chunk is an error, nothing is heard
        assert record.reply_form == "standard"
        assert turn.audio_messages > 0 and turn.errors == [NO_DATA_KEY] * turn.audio_messages
        assert not turn.played
    else:  # by default: the whole reply, audible
        assert record.reply_form == "node"
        assert turn.errors == []
        assert bytes(turn.played) == espeak(turn.text) + TAIL
        assert len(turn.played) / 2 / RATE > 2.0 and rms(bytes(turn.played)) > 500


@pytest.mark.parametrize("query", FORMS)
def test_ibm_style_client_runs_the_timer_dialog(gateway: RunningGateway, query: str) -> None:
    with IbmStyleClient(gateway.url + query) as ibm:
        first = ibm.turn(spoken("set a timer"))
        assert first.transcript == "set a timer"
        assert (first.text, first.prompt) == ("For how long?", True)
        # prompt: true on the text message: the client listens again without a wake word.
        second = ibm.turn(spoken("five minutes"))
    assert second.transcript == "five minutes"
    assert second.text is not None and "five minutes" in second.text and second.prompt is False
    for turn in (first, second):
        if query:
            assert not turn.played and turn.errors == [NO_DATA_KEY] * turn.audio_messages
        else:
            assert turn.errors == [] and bytes(turn.played) == espeak(str(turn.text)) + TAIL
            assert rms(bytes(turn.played)) > 500


# --- pacing ------------------------------------------------------------------------


def test_schedule_is_in_audio_time() -> None:
    sizes = [3200, 3200, 1000]  # 100 ms, 100 ms, 31.25 ms
    assert schedule(sizes, 1.0) == [0.0, 0.1, 0.2, 0.23125]
    assert schedule(sizes, 2.0) == [0.0, 0.05, 0.1, 0.115625]
    assert schedule(sizes, 0.0) == [0.0, 0.0, 0.0, 0.0]
    assert schedule([], 1.5) == [0.0]  # audio_end only
    pieces = chunks(bytes(range(256)) * 30, 100)  # 7,680 bytes
    assert [len(p) for p in pieces] == [3200, 3200, 1280]
    assert b"".join(pieces) == bytes(range(256)) * 30


def _run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_hurry_sends_the_rest_at_once_and_a_cancelled_turn_keeps_its_reply() -> None:
    """ReplySender on its own loop: at 0.001x real time only hurry() can finish it."""
    pcm = bytes(range(256)) * 100  # 25,600 bytes: 8 chunks of 100 ms

    async def main() -> tuple[list[GatewayMessage], int]:
        sent: list[GatewayMessage] = []
        first = asyncio.Event()

        async def send(msg: GatewayMessage) -> None:
            sent.append(msg)
            if isinstance(msg, ReplyAudioData):
                first.set()

        sender = ReplySender(send, pace=0.001, chunk_ms=100)
        turn = asyncio.create_task(sender.speak(pcm, True))
        await first.wait()
        turn.cancel()  # the turn went stale (the user spoke again) ...
        await asyncio.gather(turn, return_exceptions=True)
        assert sender.streaming  # ... but its reply is still going out
        sender.hurry()
        while sender.streaming:
            await asyncio.sleep(0)
        return sent, sender.hurried

    sent, hurried = _run(main())
    assert hurried == 1
    assert isinstance(sent[0], ReplyAudioStart) and isinstance(sent[-1], ReplyAudioEnd)
    assert sent[-1].prompt is True and {m.id for m in sent} == {sent[0].id}
    assert b"".join(m.audio for m in sent if isinstance(m, ReplyAudioData)) == pcm


def test_a_second_reply_waits_for_the_first_to_finish() -> None:
    async def main() -> list[GatewayMessage]:
        sent: list[GatewayMessage] = []

        async def send(msg: GatewayMessage) -> None:
            sent.append(msg)

        sender = ReplySender(send, pace=0.001, chunk_ms=100)
        one = asyncio.create_task(sender.speak(bytes(9600), None))
        while not sent:
            await asyncio.sleep(0)
        # The second hurries the first, then sends its own (paced, until hurried too).
        two = asyncio.create_task(sender.speak(bytes(3200), False))
        while len([m for m in sent if isinstance(m, ReplyAudioStart)]) < 2:
            await asyncio.sleep(0)
        sender.hurry()
        await asyncio.gather(one, two)
        return sent

    sent = _run(main())
    actions = [(m.action, m.id) for m in sent]
    first, second = sent[0].id, sent[-1].id
    assert first != second
    assert actions == [("audio_start", first)] + [("audio_data", first)] * 3 + [
        ("audio_end", first), ("audio_start", second), ("audio_data", second),
        ("audio_end", second),
    ]


def test_a_new_audio_start_hurries_the_reply_in_flight(slow_gateway: RunningGateway) -> None:
    with open_client(slow_gateway.url) as ws:  # Buffer form (not the device)
        ws.send(json.dumps({"id": "t1", "action": "text", "text": "do you have a pool"}))
        frames = []
        while not any(f["action"] == "audio_data" for f in frames):
            frames.append(json.loads(ws.recv(timeout=60)))
        # The first chunk came at once; the next would take 5 s at 0.02x.
        new = str(uuid.uuid4())
        ws.send(json.dumps({"id": new, "action": "audio_start"}))
        frames += raw_reply(ws, timeout=30)  # only a hurried reply arrives in time
        ws.send(audio_msg(new, spoken("what time is it")))
        ws.send(json.dumps({"id": new, "action": "audio_end"}))
        following = []
        while not any(f["action"] == "audio_data" for f in following):
            following.append(json.loads(ws.recv(timeout=60)))
    [text] = [f for f in frames if f["action"] == "text"]
    audio = b"".join(bytes(f["data"]["data"]) for f in frames if f["action"] == "audio_data")
    assert audio == espeak(text["speech"]) + TAIL  # the whole reply, nothing lost
    assert [f["action"] for f in frames][-1] == "audio_end"
    # The next turn's messages come after the old reply's audio_end, not inside it.
    assert [f["action"] for f in following][:2] == ["stt_transcript", "response"]
    assert following[0]["transcript"] == "what time is it"


def test_a_paced_reply_holds_up_no_other_connection(slow_gateway: RunningGateway) -> None:
    with open_client(slow_gateway.url) as a, open_client(slow_gateway.url) as b:
        a.send(json.dumps({"id": "a", "action": "text", "text": "do you have a pool"}))
        while json.loads(a.recv(timeout=60))["action"] != "audio_data":
            pass  # a's reply is now pacing (about 150 s of it)
        b.send(json.dumps({"id": "b", "action": "text", "text": "what can you do"}))
        seen = []
        while "audio_data" not in seen:
            seen.append(json.loads(b.recv(timeout=60))["action"])
        assert seen == ["response", "text", "audio_start", "audio_data"]
        # Meanwhile a's reply is still going out, paced: no audio_end has come yet.
        arrived = []
        with pytest.raises(TimeoutError):
            while True:  # what has already arrived, without waiting
                arrived.append(json.loads(a.recv(timeout=0))["action"])
        assert set(arrived) <= {"audio_data"}
    # Leaving mid-reply is clean: the gateway closes both and keeps serving.
    with open_client(slow_gateway.url) as c:
        c.send(json.dumps({"id": "c", "action": "audio_data", "data": "AAAA"}))
        assert json.loads(c.recv(timeout=60))["action"] == "error"


# --- the legacy clients: IBM's heard to the last word --------------------------------

LONG_TEXT = (
    "repeat after me the kitchen timer rang twice while the kettle boiled and the "
    "bread was still in the oven so we opened the window let the steam out and "
    "waited for the toast to cool before we put the butter on it and called "
    "everyone down to the table for a late breakfast on a quiet sunday morning while "
    "the radio played old songs and the cat slept in the sun by the back door"
)


def test_the_ibm_style_client_hears_all_the_speech_of_every_reply(
    gateway: RunningGateway,
) -> None:
    # It cuts the last 0.5 s it gets; the gateway's silent tail is what it cuts.
    with IbmStyleClient(gateway.url) as ibm:
        turn = ibm.turn(recording("speech_do_you_have_a_pool"))
    assert turn.errors == [] and turn.text is not None
    speech = espeak(turn.text)
    assert turn.heard.startswith(speech)  # every sample of the speech reached the ear
    assert turn.cut == bytes(len(turn.cut)) and len(turn.cut) > 0  # only silence was cut


def test_a_20_s_reply_reaches_the_ibm_style_client_whole_with_its_tail(
    gateway: RunningGateway,
) -> None:
    with IbmStyleClient(gateway.url) as ibm:
        turn = ibm.typed(LONG_TEXT)
        still_open = ibm.ws.ping()  # the connection is alive after the long reply
        assert still_open.wait(10)
    spoken_text = LONG_TEXT.removeprefix("repeat after me ")
    assert turn.text == spoken_text and turn.errors == []
    assert len(turn.played) / 2 / RATE >= 20.0
    assert bytes(turn.played) == espeak(spoken_text) + TAIL
    assert turn.heard.startswith(espeak(spoken_text))


@pytest.mark.parametrize("pace", [1.5, 1.0, 0.0])
@pytest.mark.parametrize("seconds", [1, 5, 20, 60])
def test_node_form_replies_run_at_most_the_lead_ahead_of_playback(
    pace: float, seconds: int
) -> None:
    # In audio time: the offset at which each chunk (and audio_end) is sent,
    # against the time it would start to play (its position in the reply).
    sizes = [3200] * (seconds * 10)
    offsets = schedule(sizes, pace, LEGACY_LEAD_S)
    starts = [i * 0.1 for i in range(len(sizes) + 1)]  # audio_end: the end of playback
    ahead = [played - sent for sent, played in zip(offsets, starts, strict=True)]
    assert max(ahead) <= LEGACY_LEAD_S + 1e-9
    assert seconds - offsets[-1] <= LEGACY_LEAD_S + 1e-9  # audio_end: <= ~1 s before the end
    assert offsets == sorted(offsets) and offsets[0] == 0.0
    if pace > 0:  # and never later than the pace asks, except to stay within the lead
        assert all(sent <= max(p / pace, p - LEGACY_LEAD_S) + 1e-9
                   for sent, p in zip(offsets, starts, strict=True))
    # The device (standard form) keeps the plain pace: nothing bounds it.
    assert schedule(sizes, 1.5)[-1] == pytest.approx(seconds / 1.5)
