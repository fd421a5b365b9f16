"""The ``llm`` agent in the reference gateway's chain, over real sockets.

One gateway (in this process) for the module: ``dialog.engine: [llm, skills]``
(the model first, so a fault visibly moves the turn on to the skills) and
``by_wake_word: {hey_jarvis: [skills, llm]}``; the OpenAI-compatible stand-in
(tests/standins/openai_standin.py) answers from scripts. Plain protocol clients
type their turns (or stream espeak-ng speech, for the wake word routes). The
end-to-end run with a real device process is test_llm_device.py.
"""

from __future__ import annotations

import json
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gateway_support import (
    Turn,
    open_client,
    read_reply,
    receive,
    spoken,
    text_turn,
    utterance,
)
from standins.openai_standin import KEY, MODEL, OpenAIStandIn, Script

from agent.gateway.dialog.llm.settings import LlmSettings
from agent.gateway.dialog_settings import DialogSettings
from agent.gateway.in_thread import RunningGateway, serve_in_thread
from agent.gateway.settings import GatewaySettings, SttSettings
from agent.link.protocol import ReplyAudioData, TextReply


@pytest.fixture(scope="module")
def standin() -> Iterator[OpenAIStandIn]:
    with OpenAIStandIn() as s:
        yield s


def settings(base_url: str, key_file: Path, engine: tuple[str, ...], **llm: Any) -> Any:
    model = LlmSettings(base_url=base_url, api_key_file=str(key_file), model=MODEL,
                        timeout_s=4, **llm)
    return GatewaySettings(port=0, stt=SttSettings(workers=1), dialog=DialogSettings(
        engine=engine, by_wake_word=(("hey_jarvis", ("skills", "llm")),), llm=model))


@pytest.fixture(scope="module")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("llm") / "key"
    path.write_text(KEY + "\n")
    return path


@pytest.fixture(scope="module")
def gateway(standin: OpenAIStandIn, key_file: Path) -> Iterator[RunningGateway]:
    with serve_in_thread(settings(standin.base_url, key_file, ("llm", "skills"))) as gw:
        yield gw


@pytest.fixture
def server(standin: OpenAIStandIn) -> OpenAIStandIn:
    standin.reset()
    return standin


def typed(ws: Any, text: str) -> str:
    tid = str(uuid.uuid4())
    ws.send(json.dumps({"id": tid, "action": "text", "text": text}))
    return tid


def test_an_open_question_streams_its_first_sentence_before_the_model_ends(
        gateway: RunningGateway, server: OpenAIStandIn) -> None:
    hold = threading.Event()
    server.next(Script(pieces=["The sky is **blue** because ", "air scatters blue light. ",
                               "Shall I say more?"], hold=hold))
    with open_client(gateway.url) as ws:
        tid = typed(ws, "why is the sky blue")
        turn = Turn()
        finished_at_first_audio = None
        while True:  # bounded by the 30 s receive timeout and the reply's end
            msg = receive(ws)
            turn.messages.append(msg)
            if isinstance(msg, ReplyAudioData) and finished_at_first_audio is None:
                finished_at_first_audio = server.requests[-1].finished
                hold.set()
            if msg.action == "audio_end":
                break
    assert finished_at_first_audio is False  # the model was still "writing"
    assert turn.text.id == tid
    assert turn.text.text == "The sky is blue because air scatters blue light. Shall I say more?"
    assert turn.text.prompt is True  # a question: the device listens again
    assert turn.response.data["dialog"] == "llm"
    assert len(turn.reply_audio) > 16000
    assert server.requests[-1].user_texts == ["why is the sky blue"]


def test_the_time_by_the_hey_jarvis_chain_never_reaches_the_model(
        gateway: RunningGateway, server: OpenAIStandIn) -> None:
    with open_client(gateway.url) as ws:
        local = utterance(ws, spoken("what time is it"), options={"wake_word": "hey_jarvis"})
        assert local.response.data["dialog"] == "skills" and local.skill == "time"
        assert server.requests == []  # [skills, llm]: answered locally
        other = utterance(ws, spoken("what time is it"), options={"wake_word": "alexa"})
    # Any other wake word takes dialog.engine, the model first.
    assert other.response.data["dialog"] == "llm"
    assert len(server.requests) == 1 and server.requests[0].user_texts == ["what time is it"]


def test_history_is_kept_per_device(gateway: RunningGateway, server: OpenAIStandIn) -> None:
    server.next(Script(pieces=["Hello Ann."]), Script(pieces=["You are Ann."]),
                Script(pieces=["I do not know."]))
    with open_client(gateway.url + "?userID=ann") as ann, \
            open_client(gateway.url + "?userID=bob") as bob:
        text_turn(ann, "my name is Ann")
        assert text_turn(ann, "what is my name").text.text == "You are Ann."
        assert text_turn(bob, "what is my name").text.text == "I do not know."
    convo = [[(m["role"], m["content"]) for m in r.messages[1:]] for r in server.requests]
    assert convo[1] == [("user", "my name is Ann"), ("assistant", "Hello Ann."),
                        ("user", "what is my name")]
    assert convo[2] == [("user", "what is my name")]  # Bob never sees Ann's conversation


def test_barge_in_closes_the_models_stream(gateway: RunningGateway,
                                           server: OpenAIStandIn) -> None:
    never = threading.Event()
    server.next(Script(pieces=["A long story begins here. ", "It goes on. ", "And on."],
                       hold=never),
                Script(pieces=["Fine, stopping."]))
    with open_client(gateway.url) as ws:
        first = typed(ws, "tell me a long story")
        for _ in range(1000):  # until the first reply audio of that turn
            msg = receive(ws)
            if isinstance(msg, ReplyAudioData):
                break
        second = typed(ws, "stop")
        server.wait(lambda s: s.requests[0].client_closed)
        turn = Turn()

        def done() -> bool:  # the second turn's text came, and the audio after it ended
            starts = [m.id for m in turn.messages if m.action == "audio_start"]
            last = turn.messages[-1] if turn.messages else None
            return (any(isinstance(m, TextReply) and m.id == second for m in turn.messages)
                    and last is not None and last.action == "audio_end"
                    and bool(starts) and last.id == starts[-1])

        while not done():
            turn.messages.append(receive(ws))  # bounded by receive's 30 s timeout
    assert not server.requests[0].finished
    texts = [m for m in turn.messages if isinstance(m, TextReply)]
    assert [t.id for t in texts] == [second] and texts[0].text == "Fine, stopping."
    assert server.requests[1].user_texts[-1] == "stop"
    assert first != second


FAULTS = ["401", "404", "429", "500", "hang", "cut", "malformed", "error", "bad tool args"]


@pytest.mark.parametrize("fault", FAULTS)
def test_every_fault_moves_the_chain_on(gateway: RunningGateway, server: OpenAIStandIn,
                                        fault: str, caplog: pytest.LogCaptureFixture) -> None:
    if fault == "bad tool args":
        server.next(*[Script(pieces=[], tool_calls=[("set_timer", '{"seconds": ')])] * 4)
    else:
        server.next(Script(pieces=["It is ", "noon."], fault=fault, fault_after=1, hold_s=30))
    with open_client(gateway.url) as ws:
        turn = text_turn(ws, "what time is it")
        # ... and the gateway keeps serving: the next turn is the model's again.
        again = text_turn(ws, "why is the sky blue")
    assert turn.response.data["dialog"] == "skills" and turn.skill == "time"
    assert turn.text.text.startswith("It is ") and len(turn.reply_audio) > 16000
    assert again.response.data["dialog"] == "llm"
    assert "llm failed" in caplog.text  # logged with what happened
    if fault == "hang":
        assert "timed out" in caplog.text
        server.wait(lambda s: s.requests[0].client_closed)


def test_a_model_that_is_down_is_said_to_be_unreachable(key_file: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # free a moment ago: nobody listens there
    down = settings(f"http://127.0.0.1:{port}/v1", key_file, ("skills", "llm"))
    with serve_in_thread(down) as gw, open_client(gw.url) as ws:
        turn = text_turn(ws, "why is the sky blue")
        local = text_turn(ws, "what time is it")
    assert turn.text.text == "Sorry, I could not reach the language model."
    assert local.skill == "time"  # the skills still answer


def test_a_timer_set_by_the_model_rings_like_the_skills_timers(
        gateway: RunningGateway, server: OpenAIStandIn) -> None:
    server.next(Script(pieces=[], tool_calls=[("set_timer", '{"seconds": 1}')]),
                Script(pieces=["Your timer is running."]))
    with open_client(gateway.url + "?userID=kitchen") as ws:
        set_ = text_turn(ws, "set a timer for one second please")
        done = read_reply(ws, timeout=20)  # the announcement
    assert set_.response.data["dialog"] == "llm"
    started = set_.response.data["timer"]
    assert started["event"] == "started" and started["name"] == "one-second"
    assert set_.text.text == "Your timer is running."
    assert done.text.text == "Your one-second timer is done."
    assert done.response.data["timer"] == {**started, "event": "finished"}
    assert len(done.reply_audio) > 16000
