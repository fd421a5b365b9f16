"""The ``llm`` agent on its own: ``respond()`` against the OpenAI-compatible stand-in.

Real parts: the agent's own ``openai`` SDK client over a loopback socket to the
stand-in (tests/standins/openai_standin.py), real timers (an in-memory
:class:`TimerStore` behind the gateway's :class:`TimerService`). The end-to-end
tests are test_llm_gateway.py (a gateway) and test_llm_device.py (a device process).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from llm_support import NOW, ask, collect, run, said, settings, timers
from standins.openai_standin import KEY, MODEL, OpenAIStandIn, Script

from agent.gateway.dialog.agent import AgentFailed, Ask, Data, Pass, Peer, Say, Turn
from agent.gateway.dialog.llm.agent import MAX_TOOL_ROUNDS, LlmAgent


@pytest.fixture(scope="module")
def standin() -> Iterator[OpenAIStandIn]:
    with OpenAIStandIn() as s:
        yield s


@pytest.fixture
def server(standin: OpenAIStandIn) -> OpenAIStandIn:
    standin.reset()
    return standin


@pytest.fixture
def key_file(tmp_path: Path) -> str:
    path = tmp_path / "openai.key"
    path.write_text(KEY + "\n")
    return str(path)


def test_sentences_go_out_before_the_model_has_finished(server: OpenAIStandIn,
                                                        key_file: str) -> None:
    hold = threading.Event()
    server.next(Script(pieces=["The sky looks ", "blue because air scatters ",
                               "blue light most. ", "Sunsets are red."], hold=hold))
    finished_at_first: list[bool] = []

    def on_part(part: Any) -> None:
        if not finished_at_first:
            finished_at_first.append(server.requests[-1].finished)
            hold.set()  # now the stand-in may send its last sentence

    agent = LlmAgent(settings(server, key_file), now=lambda: NOW)

    async def go() -> list[Any]:
        try:
            return await collect(agent, Peer(1, "kitchen"), "why is the sky blue",
                                 on_part=on_part)
        finally:
            await agent.aclose()

    parts = run(go())
    assert said(parts) == ["The sky looks blue because air scatters blue light most.",
                           "Sunsets are red."]
    assert finished_at_first == [False]
    assert server.requests[-1].finished and not any(isinstance(p, Ask) for p in parts)


def test_the_request_carries_model_prompt_bounds_and_tools(server: OpenAIStandIn,
                                                           key_file: str) -> None:
    agent = LlmAgent(settings(server, key_file, max_tokens=77, temperature=0.3),
                     now=lambda: NOW)
    ask(agent, "what should I cook", location=(52.52, 13.405))
    req = server.requests[-1]
    assert req.model == MODEL and req.body["stream"] is True
    assert req.body["max_tokens"] == 77 and req.body["temperature"] == 0.3
    assert req.headers["Authorization"] == f"Bearer {KEY}"
    system = req.messages[0]
    assert system["role"] == "system"
    assert "read aloud" in system["content"] and "Never use markdown" in system["content"]
    assert "Sunday, 06 December 2026, 11:45" in system["content"]
    assert "latitude 52.5200, longitude 13.4050" in system["content"]
    assert req.messages[-1] == {"role": "user", "content": "what should I cook"}
    assert req.tools == ["set_timer", "cancel_timer", "time_left", "get_time"]


def test_no_tools_and_a_configured_prompt(server: OpenAIStandIn, key_file: str) -> None:
    agent = LlmAgent(settings(server, key_file, tools=False, system_prompt="Talk like a pirate."),
                     now=lambda: NOW)
    parts = ask(agent, "hello")
    req = server.requests[-1]
    assert "tools" not in req.body and "temperature" not in req.body
    assert req.messages[0]["content"].startswith("Talk like a pirate.\n")
    assert "latitude" not in req.messages[0]["content"]
    assert said(parts) == ["I am the stand-in.", "Ask me anything."]


def test_markdown_lists_code_and_urls_are_not_spoken(server: OpenAIStandIn,
                                                     key_file: str) -> None:
    server.next(Script(pieces=["You need:\n", "1. **Two** eggs\n", "2. Spinach", "\n",
                               "```python\nprint('x')\n```\n",
                               "See [the recipe](https://example.com/r) at https://x.io/a. ",
                               "Want more? "]))
    parts = ask(LlmAgent(settings(server, key_file), now=lambda: NOW), "eggs and spinach")
    assert said(parts) == ["You need:", "Two eggs", "Spinach", "See the recipe at.",
                           "Want more?"]
    assert isinstance(parts[-1], Ask)


def test_a_question_at_the_end_asks_for_a_follow_up(server: OpenAIStandIn,
                                                    key_file: str) -> None:
    server.next(Script(pieces=["Sure. ", "Which city do you mean?"]))
    parts = ask(LlmAgent(settings(server, key_file)), "what is the weather")
    assert said(parts) == ["Sure.", "Which city do you mean?"] and isinstance(parts[-1], Ask)


def test_set_timer_through_a_tool_call_starts_a_real_timer(server: OpenAIStandIn,
                                                           key_file: str) -> None:
    server.next(Script(pieces=[], tool_calls=[("set_timer", '{"seconds": 5}')]),
                Script(pieces=["Your five second timer is running."]))
    book: Any = None

    async def go() -> list[Any]:
        nonlocal book
        _, book = timers()
        agent = LlmAgent(settings(server, key_file))
        try:
            return await collect(agent, Peer(1, "kitchen", timers=book), "set a timer for 5 s")
        finally:
            await agent.aclose()

    parts = run(go())
    data = [p for p in parts if isinstance(p, Data)]
    assert len(data) == 1 and data[0].fields["timer"]["event"] == "started"
    assert data[0].fields["timer"]["name"] == "five-second"
    assert data[0].fields["timer"]["seconds"] == 5
    running = book.running()
    assert [c["name"] for c, _ in running] == ["five-second"]
    assert said(parts) == ["Your five second timer is running."]
    second = server.requests[-1].messages
    assert second[-2]["role"] == "assistant" and \
        second[-2]["tool_calls"][0]["function"]["name"] == "set_timer"
    assert second[-1]["role"] == "tool" and "five-second" in second[-1]["content"]
    assert second[-1]["tool_call_id"] == second[-2]["tool_calls"][0]["id"]


def test_time_left_cancel_and_get_time(server: OpenAIStandIn, key_file: str) -> None:
    book: Any = None
    server.next(Script(pieces=[], tool_calls=[("time_left", "{}"), ("get_time", "{}")]),
                Script(pieces=["Nearly five minutes."]),
                Script(pieces=[], tool_calls=[("cancel_timer", '{"name": "five minute"}')]),
                Script(pieces=[]))

    async def go() -> tuple[list[Any], list[Any]]:
        nonlocal book
        _, book = timers()
        book.start(300, "five minute")
        agent = LlmAgent(settings(server, key_file), now=lambda: NOW)
        try:
            peer = Peer(1, "kitchen", timers=book)
            return (await collect(agent, peer, "how long left"),
                    await collect(agent, peer, "cancel it"))
        finally:
            await agent.aclose()

    first, second = run(go())
    tool_msgs = [m for m in server.requests[1].messages if m["role"] == "tool"]
    assert "five minute timer has 4 minutes and" in tool_msgs[0]["content"] or \
        "five minute timer has 5 minutes" in tool_msgs[0]["content"]
    assert tool_msgs[1]["content"] == "2026-12-06T11:45:00+00:00"
    assert said(first) == ["Nearly five minutes."]
    # The model said nothing after cancelling: the tool's own sentence is spoken.
    assert said(second) == ["Okay, the five minute timer is cancelled."]
    assert [p.fields["timer"]["event"] for p in second if isinstance(p, Data)] == ["cancelled"]
    assert book.running() == []


def test_bad_tool_arguments_are_answered_and_the_model_may_retry(server: OpenAIStandIn,
                                                                key_file: str) -> None:
    book: Any = None
    server.next(Script(pieces=[], tool_calls=[("set_timer", '{"seconds": "soon"')]),
                Script(pieces=[], tool_calls=[("set_timer", '{"seconds": -3}')]),
                Script(pieces=[], tool_calls=[("fly_to_the_moon", "{}")]),
                Script(pieces=["I could not set that timer."]))

    async def go() -> list[Any]:
        nonlocal book
        _, book = timers()
        agent = LlmAgent(settings(server, key_file))
        try:
            return await collect(agent, Peer(1, "kitchen", timers=book), "set a timer")
        finally:
            await agent.aclose()

    parts = run(go())
    assert said(parts) == ["I could not set that timer."] and book.running() == []
    results = [m["content"] for m in server.requests[-1].messages if m["role"] == "tool"]
    assert len(results) == 3 and all(r.startswith("error: ") for r in results)
    assert "whole number" in results[1] and "fly_to_the_moon" in results[2]
    assert "tools" not in server.requests[-1].body  # no fourth tool round offered


def test_a_model_that_only_calls_tools_fails_after_the_bounded_rounds(
        server: OpenAIStandIn, key_file: str) -> None:
    server.default = Script(pieces=[], tool_calls=[("set_timer", "{bad json")])
    try:
        async def go() -> None:
            _, book = timers()
            agent = LlmAgent(settings(server, key_file))
            try:
                await collect(agent, Peer(1, "kitchen", timers=book), "set a timer")
            finally:
                await agent.aclose()

        with pytest.raises(AgentFailed, match="tool rounds") as info:
            run(go())
    finally:
        server.default = Script()
    assert not info.value.unreachable
    assert len(server.requests) == MAX_TOOL_ROUNDS + 1


def test_history_is_kept_per_device_and_forgotten(server: OpenAIStandIn, key_file: str) -> None:
    clock = [0.0]

    async def go() -> None:
        agent = LlmAgent(settings(server, key_file, history_turns=2, forget_after_s=100))
        agent.memory._clock = lambda: clock[0]
        try:
            kitchen, hall = Peer(1, "kitchen"), Peer(2, "hall")
            for i in range(3):
                server.next(Script(pieces=[f"Answer {i}."]))
                await collect(agent, kitchen, f"question {i}")
            await collect(agent, hall, "hall question")
            await collect(agent, Peer(3, "kitchen"), "kitchen again")  # a second connection
            clock[0] = 150.0
            await collect(agent, kitchen, "after a while")
        finally:
            await agent.aclose()

    run(go())
    convo = [[(m["role"], m["content"]) for m in r.messages[1:]] for r in server.requests]
    assert convo[3] == [("user", "hall question")]  # the other device's history is not seen
    assert convo[4] == [("user", "question 1"), ("assistant", "Answer 1."),
                        ("user", "question 2"), ("assistant", "Answer 2."),
                        ("user", "kitchen again")]  # two turns kept, shared by its connections
    assert convo[5] == [("user", "after a while")]  # forgotten after forget_after_s


def test_barge_in_closes_the_stream(server: OpenAIStandIn, key_file: str) -> None:
    never = threading.Event()
    server.next(Script(pieces=["First sentence here. ", "More to come. ", "Never said."],
                       hold=never))

    async def go() -> list[Any]:
        agent = LlmAgent(settings(server, key_file))
        try:
            return await collect(agent, Peer(1, "kitchen"), "tell me a story", stop_after=1)
        finally:
            await agent.aclose()

    assert said(run(go())) == ["First sentence here."]
    server.wait(lambda s: s.requests[-1].client_closed)
    assert not server.requests[-1].finished


class HomeStub:
    """A stand-in for the home_assistant agent (the HA helper builds the real one):
    the agent interface itself, answering from a table."""

    name = "home_assistant"
    free_text = True
    phrases: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.heard: list[str] = []

    def connect(self, peer: Peer) -> Any:
        stub = self

        class Session:
            def hear(self, tid: str) -> None:
                return None

            async def respond(self, turn: Turn) -> Any:
                stub.heard.append(turn.text)
                if "garage" in turn.text:
                    raise Pass()
                yield Say("The kitchen light is on.")
                yield Data({"targets": ["light.kitchen"]})

            async def close(self) -> None:
                pass

        return Session()

    async def aclose(self) -> None:
        pass


def test_home_assistant_is_a_tool_when_configured(server: OpenAIStandIn, key_file: str) -> None:
    home = HomeStub()
    server.next(Script(pieces=[], tool_calls=[
                    ("home_assistant", json.dumps({"command": "turn on the kitchen light"})),
                    ("home_assistant", json.dumps({"command": "open the garage"}))]),
                Script(pieces=["Done."]))
    parts = ask(LlmAgent(settings(server, key_file), {"home_assistant": home}), "lights on")
    assert server.requests[0].tools[-1] == "home_assistant"
    assert home.heard == ["turn on the kitchen light", "open the garage"]
    results = [m["content"] for m in server.requests[1].messages if m["role"] == "tool"]
    assert results == ["The kitchen light is on.",
                       "Home Assistant did not understand that command"]
    assert [p.fields for p in parts if isinstance(p, Data)] == [{"targets": ["light.kitchen"]}]
    assert said(parts) == ["Done."]


def test_a_tool_that_breaks_is_reported_to_the_model(server: OpenAIStandIn, key_file: str,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    class BrokenBook:
        def start(self, seconds: float, name: str) -> dict[str, Any]:
            raise RuntimeError("disk full")

    server.next(Script(pieces=[], tool_calls=[("set_timer", '{"seconds": 5}')]),
                Script(pieces=["Sorry, no timer today."]))
    parts = ask(LlmAgent(settings(server, key_file)), "set a timer", timers=BrokenBook())
    assert said(parts) == ["Sorry, no timer today."]
    results = [m["content"] for m in server.requests[-1].messages if m["role"] == "tool"]
    assert results == ["error: the tool failed (RuntimeError)"]
    assert "llm: tool set_timer failed" in caplog.text
