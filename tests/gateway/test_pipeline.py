"""The pipeline: a chain of agents, pass and fail, the catch-all, streaming and barge-in.

Real parts: the built-in skills as an agent, espeak-ng as the speaker, the
gateway's own :class:`~agent.gateway.reply.ReplySender`. The second agent of
the chain is a scripted one written here: it stands in for a remote agent
(a language model, Home Assistant) whose own tests run against their real
servers or stand-ins; here it lets each way an agent can end a turn (answer,
pass, fail, be unreachable, stream slowly, be cancelled) happen on cue.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from agent.gateway.dialog.agent import (
    AgentFailed,
    Ask,
    Data,
    Pass,
    Peer,
    ReplyPart,
    Say,
    Turn,
)
from agent.gateway.dialog.backend import Utterance
from agent.gateway.dialog.builtin import default_skills
from agent.gateway.dialog.skills_agent import SkillsAgent
from agent.gateway.dialog_settings import DialogSettings
from agent.gateway.pipeline import Conversation, Pipeline
from agent.gateway.reply import ReplySender
from agent.gateway.tts import Espeak
from agent.link.protocol import (
    GatewayError,
    GatewayMessage,
    ReplyAudioData,
    ReplyAudioEnd,
    ReplyAudioStart,
    Response,
    TextReply,
)

Script = Callable[[Turn, "Scripted"], AsyncIterator[ReplyPart]]


class Scripted:
    """A remote agent on cue: ``script(turn, agent)`` is its reply generator."""

    name = "llm"
    free_text = True
    phrases: tuple[str, ...] = ()

    def __init__(self, script: Script) -> None:
        self.script = script
        self.turns: list[str] = []
        self.closed = asyncio.Event()  # the generator was closed (finally ran)
        self.audio_seen = asyncio.Event()  # the device got reply audio

    def connect(self, peer: Peer) -> Scripted:
        return self

    def hear(self, tid: str) -> Utterance | None:
        return None

    async def respond(self, turn: Turn) -> AsyncIterator[ReplyPart]:
        self.turns.append(turn.text)
        try:
            async for part in self.script(turn, self):
                yield part
        finally:
            self.closed.set()

    async def close(self) -> None:
        pass

    async def aclose(self) -> None:
        pass


class Device:
    """What the device was sent, in order."""

    def __init__(self, agent: Scripted | None = None) -> None:
        self.messages: list[GatewayMessage] = []
        self.agent = agent
        self.ended = asyncio.Event()  # an audio_end came

    async def send(self, msg: GatewayMessage) -> None:
        self.messages.append(msg)
        if isinstance(msg, ReplyAudioEnd):
            self.ended.set()
        if isinstance(msg, ReplyAudioData) and self.agent is not None:
            self.agent.audio_seen.set()

    @property
    def actions(self) -> list[str]:
        return [m.action for m in self.messages]

    def of(self, kind: type) -> list[Any]:
        return [m for m in self.messages if isinstance(m, kind)]

    @property
    def audio(self) -> bytes:
        return b"".join(m.audio for m in self.of(ReplyAudioData))


def conversation(script: Script, engine: tuple[str, ...] = ("skills", "llm"),
                 by_wake_word: tuple[tuple[str, tuple[str, ...]], ...] = ()
                 ) -> tuple[Conversation, Scripted]:
    skills = default_skills()
    agent = Scripted(script)
    pipeline = Pipeline(
        DialogSettings(engine=engine, by_wake_word=by_wake_word),
        skills,
        {"skills": SkillsAgent(skills), "llm": agent},  # type: ignore[dict-item]
        Espeak(),
    )
    return pipeline.connect(Peer(1, "kitchen")), agent


async def run(talk: Conversation, device: Device, text: str, **turn: Any) -> str:
    replies = ReplySender(device.send, pace=0, chunk_ms=100)
    outcome = await talk.reply(Turn("t1", text, **turn), device.send, replies, voice=None,
                               prompt_on_audio_end=True)
    return outcome.agent


async def answers(turn: Turn, agent: Scripted) -> AsyncIterator[ReplyPart]:
    yield Say("Because sunlight scatters off the air.")
    yield Say("Blue light scatters most.")


async def passes(turn: Turn, agent: Scripted) -> AsyncIterator[ReplyPart]:
    raise Pass
    yield Say("never")  # pragma: no cover - makes this an async generator


def test_the_skills_answer_the_time_locally_and_the_next_agent_is_not_asked() -> None:
    talk, agent = conversation(answers)
    device = Device()
    assert asyncio.run(run(talk, device, "what time is it")) == "skills"
    assert agent.turns == []
    # A reply whose text is known first keeps the order response, text, audio.
    assert device.actions[:3] == ["response", "text", "audio_start"]
    assert device.actions[-1] == "audio_end"
    assert device.of(Response)[0].data["skill"] == "time"
    assert device.of(Response)[0].data["dialog"] == "skills"
    assert len(device.audio) > 16000  # a spoken sentence


def test_no_skill_passes_to_the_next_agent_which_answers_with_its_whole_text() -> None:
    talk, agent = conversation(answers)
    device = Device()
    assert asyncio.run(run(talk, device, "why is the sky blue")) == "llm"
    assert agent.turns == ["why is the sky blue"]
    (text,) = device.of(TextReply)
    assert text.text == "Because sunlight scatters off the air. Blue light scatters most."
    assert device.of(Response)[0].data["dialog"] == "llm"
    assert device.of(ReplyAudioEnd)[0].prompt is False
    # Both sentences spoken, one after the other, in one reply.
    assert len(device.of(ReplyAudioStart)) == 1 and len(device.audio) > 2 * 16000


def test_a_question_back_sets_prompt_on_text_and_audio_end() -> None:
    async def asks(turn: Turn, agent: Scripted) -> AsyncIterator[ReplyPart]:
        yield Say("What would you like to cook?")
        yield Ask()

    talk, _agent = conversation(asks)
    device = Device()
    asyncio.run(run(talk, device, "help me cook"))
    assert device.of(TextReply)[0].prompt is True
    assert device.of(ReplyAudioEnd)[0].prompt is True


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (AgentFailed("HTTP 500", unreachable=False), "Sorry, I can't help with that yet."),
        (AgentFailed("connection refused", unreachable=True),
         "Sorry, I could not reach the language model."),
    ],
)
def test_a_failed_agent_moves_the_chain_on_to_the_closing_sentence(
    fault: AgentFailed, expected: str
) -> None:
    async def fails(turn: Turn, agent: Scripted) -> AsyncIterator[ReplyPart]:
        raise fault
        yield Say("never")  # pragma: no cover

    talk, agent = conversation(fails)
    device = Device()
    assert asyncio.run(run(talk, device, "why is the sky blue")) == "fallback"
    assert agent.turns == ["why is the sky blue"]
    assert device.of(TextReply)[0].text == expected
    assert len(device.audio) > 8000
    assert talk.pipeline.stats["llm.failed"] == 1


def test_every_agent_passing_gives_the_skills_catch_all() -> None:
    talk, agent = conversation(passes)
    device = Device()
    assert asyncio.run(run(talk, device, "why is the sky blue")) == "fallback"
    assert device.of(TextReply)[0].text == "Sorry, I can't help with that yet."
    assert talk.pipeline.stats["skills.passed"] == 1
    assert talk.pipeline.stats["llm.passed"] == 1


def test_an_agent_failing_mid_reply_ends_the_reply_with_what_it_said() -> None:
    async def breaks(turn: Turn, agent: Scripted) -> AsyncIterator[ReplyPart]:
        yield Say("The first sentence.")
        raise RuntimeError("stream cut")

    talk, _agent = conversation(breaks)
    device = Device()
    assert asyncio.run(run(talk, device, "tell me a story")) == "llm"
    assert device.of(TextReply)[0].text == "The first sentence."
    assert device.actions[-1] == "audio_end" and not device.of(GatewayError)


def test_the_first_sentence_is_heard_before_the_agent_has_finished() -> None:
    async def slow(turn: Turn, agent: Scripted) -> AsyncIterator[ReplyPart]:
        yield Say("Here is the first sentence.")
        # Held back until the device has reply audio: streaming, not batching.
        await asyncio.wait_for(agent.audio_seen.wait(), 30)
        yield Data({"card": {"type": "note"}})
        yield Say("And the last one.")

    talk, agent = conversation(slow)
    device = Device(agent)
    asyncio.run(run(talk, device, "tell me two things"))
    first_audio = device.actions.index("audio_data")
    assert device.actions.index("text") > first_audio  # the whole text came at the end
    assert device.of(TextReply)[0].text == "Here is the first sentence. And the last one."
    assert device.of(Response)[0].data["card"] == {"type": "note"}


def test_barge_in_closes_the_agent_and_sends_nothing_more_of_its_reply() -> None:
    async def endless(turn: Turn, agent: Scripted) -> AsyncIterator[ReplyPart]:
        yield Say("This is the first sentence.")
        await asyncio.Event().wait()  # a model still generating
        yield Say("never")  # pragma: no cover

    async def scene() -> tuple[Device, Scripted]:
        talk, agent = conversation(endless)
        device = Device(agent)
        task = asyncio.create_task(run(talk, device, "go on and on"))
        await asyncio.wait_for(agent.audio_seen.wait(), 30)
        task.cancel()  # a new audio_start, typed text, or the device leaving
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.wait_for(agent.closed.wait(), 30)
        await asyncio.wait_for(device.ended.wait(), 30)
        return device, agent

    device, agent = asyncio.run(scene())
    assert agent.closed.is_set()
    assert "never" not in str(device.messages)
    assert not device.of(TextReply)  # the reply was never complete
    assert device.actions[-1] == "audio_end"  # the device's reply framing is closed
    assert device.of(ReplyAudioEnd)[0].prompt is None


def test_the_wake_word_picks_the_chain() -> None:
    talk, agent = conversation(answers, engine=("skills",),
                               by_wake_word=(("hey_jarvis", ("skills", "llm")),))
    device = Device()
    assert asyncio.run(run(talk, device, "why is the sky blue")) == "fallback"
    assert agent.turns == []  # the default chain has no llm
    assert asyncio.run(run(talk, Device(), "why is the sky blue", wake_word="hey_jarvis")) == "llm"
    assert agent.turns == ["why is the sky blue"]
    assert talk.open_vocabulary("hey_jarvis") and not talk.open_vocabulary("alexa")
    assert talk.search("alexa") == "main" and talk.search(None) == "main"


def test_an_empty_transcript_asks_no_agent() -> None:
    talk, agent = conversation(answers)
    device = Device()
    assert asyncio.run(run(talk, device, "")) == "fallback"
    assert agent.turns == []
    assert device.of(TextReply)[0].text == "Sorry, I didn't hear anything."
