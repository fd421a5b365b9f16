"""One turn through the gateway: the transcript to the agents of the chain, their reply spoken.

The chain is ``dialog.engine`` (or ``dialog.by_wake_word``'s for the turn's
wake word). Each agent in order may pass or fail (logged, counted in
:attr:`Pipeline.stats`); the first that answers owns the turn. Its reply
parts stream: each :class:`~agent.gateway.dialog.agent.Say` goes to the
speaker at once, and the speaker's audio goes to the device as it is made
(:meth:`~agent.gateway.reply.ReplySender.stream`), so with a streamed
language model the first sentence plays before the model has finished. When
the agent's reply is complete the device gets ``response`` (``speech.text``,
``dialog``: the agent, and the agent's ``Data`` fields) and ``text`` (the
whole text and ``prompt``), then ``audio_end`` (``prompt``). A reply whose
text is known before its audio (the skills) therefore keeps the order
``response``, ``text``, audio.

When every agent passed or failed, one short sentence says so: the skills'
catch-all, or "Sorry, I could not reach ..." when a remote agent was down.
Cancelling a turn (barge-in) closes the agent's generator (a streamed HTTP
request is closed with it) and cuts a reply still being made.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from agent.gateway.dialog.agent import (
    Agent,
    AgentFailed,
    AgentSession,
    Ask,
    Data,
    Pass,
    Peer,
    ReplyPart,
    Say,
    Turn,
)
from agent.gateway.dialog.backend import Utterance
from agent.gateway.dialog.registry import REMOTE_NAMES
from agent.gateway.dialog.skills import MAIN_SEARCH, Dialog, Skills
from agent.gateway.dialog.skills_agent import SkillsSession, reply_parts
from agent.gateway.dialog_settings import DialogSettings
from agent.gateway.reply import RATE, ReplySender
from agent.gateway.stt.stream import StreamContext
from agent.gateway.tts.engine import Speaker, TtsError
from agent.link.protocol import GatewayError, GatewayMessage, Response, TextReply

log = logging.getLogger(__name__)

SendOne = Callable[[GatewayMessage], Awaitable[None]]


@dataclass
class Outcome:
    """How a turn ended (for the records and the logs)."""

    agent: str
    """The agent that answered, or ``fallback``."""
    skill: str | None = None
    """The skill that answered (``response.data.skill``), when the skills did."""
    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


class Pipeline:
    """The gateway's agents and speaker, shared by every connection."""

    def __init__(
        self, dialog: DialogSettings, skills: Skills, agents: dict[str, Agent], speaker: Speaker
    ) -> None:
        self.dialog = dialog
        self.skills = skills
        self.agents = agents
        self.speaker = speaker
        self.stats: Counter[str] = Counter()
        """``agent.answered`` / ``agent.passed`` / ``agent.failed`` counts."""

    def chain(self, wake_word: str | None) -> list[Agent]:
        """The agents of a turn opened by ``wake_word``, in order."""
        return [self.agents[name] for name in self.dialog.chain_for(wake_word)]

    def connect(self, peer: Peer) -> Conversation:
        """The agents' sessions for a new device connection."""
        return Conversation(self, peer)

    async def aclose(self) -> None:
        """The gateway stops."""
        for agent in self.agents.values():
            await agent.aclose()
        await self.speaker.aclose()


class Conversation:
    """One connection's side of the pipeline: a session of every configured agent."""

    def __init__(self, pipeline: Pipeline, peer: Peer) -> None:
        self.pipeline = pipeline
        self.peer = peer
        self.sessions: dict[str, AgentSession] = {
            name: agent.connect(peer) for name, agent in pipeline.agents.items()
        }

    # ------------------------------------------------------------ hints

    def search(self, wake_word: str | None) -> str | None:
        """The skills' grammar for the next utterance, when the skills are in its chain."""
        skills = self.sessions.get("skills")
        names = self.pipeline.dialog.chain_for(wake_word)
        if isinstance(skills, SkillsSession) and "skills" in names:
            return skills.search
        # Home Assistant's patterns sit in the main grammar (agent.gateway.live_grammar).
        if any(getattr(self.pipeline.agents[n], "patterns", ()) for n in names):
            return MAIN_SEARCH
        return None

    def phrases(self, wake_word: str | None) -> tuple[str, ...]:
        """Every phrase the chain's agents expect (grammar, cloud engines' hints)."""
        chain = self.pipeline.chain(wake_word)
        return tuple(dict.fromkeys(p for agent in chain for p in agent.phrases))

    def open_vocabulary(self, wake_word: str | None) -> bool:
        """True when an agent of the chain takes free text."""
        return any(agent.free_text for agent in self.pipeline.chain(wake_word))

    def stream_context(
        self,
        label: str,
        wake_word: str | None,
        *,
        endpointing: bool,
        no_speech_s: object,
        silence_ms: int,
    ) -> StreamContext:
        """What the speech to text of an utterance opened by ``wake_word`` is told.

        ``no_speech_s``: seconds with no speech before the utterance ends (the
        client's ``inactivity_timeout`` or ``stt.no_speech_s``); -1, None or
        nonsense: wait for the client or the cap.
        """
        seconds = _seconds(no_speech_s)
        return StreamContext(
            label=label,
            search=self.search(wake_word),
            phrases=self.phrases(wake_word),
            open_vocabulary=self.open_vocabulary(wake_word),
            endpointing=endpointing,
            no_speech_samples=max(1, int(seconds * RATE)) if seconds >= 0 else None,
            silence_ms=silence_ms,
        )

    async def close(self) -> None:
        """The connection is gone: every agent's session ends."""
        for name, session in self.sessions.items():
            try:
                await session.close()
            except Exception:  # one agent's failure must not keep the others open
                log.exception("connection %d: closing %s failed", self.peer.number, name)

    def hear(self, tid: str, wake_word: str | None) -> Utterance | None:
        """The first agent's :class:`Utterance` when it takes the audio itself (Diatheke)."""
        first = self.pipeline.chain(wake_word)[0]
        return self.sessions[first.name].hear(tid)

    # ------------------------------------------------------------- turns

    async def reply(
        self,
        turn: Turn,
        send: SendOne,
        replies: ReplySender,
        *,
        voice: str | None,
        prompt_on_audio_end: bool,
    ) -> Outcome:
        """Find the agent that answers ``turn`` and stream its reply to the device."""
        stats = self.pipeline.stats
        outcome = Outcome("fallback")
        unreachable: list[str] = []
        chain = self.pipeline.chain(turn.wake_word) if turn.text.strip() else []
        for agent in chain:
            generator = self.sessions[agent.name].respond(turn)
            try:
                first: ReplyPart | None = await anext(generator)
            except StopAsyncIteration:
                first = None  # it answered the device itself (Diatheke)
            except Pass:
                stats[f"{agent.name}.passed"] += 1
                outcome.passed.append(agent.name)
                continue
            except AgentFailed as exc:
                stats[f"{agent.name}.failed"] += 1
                outcome.failed.append(agent.name)
                if exc.unreachable:
                    unreachable.append(agent.name)
                log.warning("connection %d: %s: %s failed: %s; the next agent gets the turn",
                            self.peer.number, turn.id, agent.name, exc.reason)
                continue
            stats[f"{agent.name}.answered"] += 1
            outcome.agent = agent.name
            if first is not None:
                outcome.skill = await self._speak(
                    turn, agent.name, first, generator, send, replies, voice, prompt_on_audio_end
                )
            self._log(turn, outcome)
            return outcome
        stats["fallback.answered"] += 1
        outcome.skill = await self._speak(
            turn, "fallback", None, _parts(self._catch_all(turn, unreachable)), send, replies,
            voice, prompt_on_audio_end,
        )
        self._log(turn, outcome)
        return outcome

    def _catch_all(self, turn: Turn, unreachable: list[str]) -> list[ReplyPart]:
        if unreachable:
            names = " or ".join(REMOTE_NAMES.get(n, n) for n in unreachable)
            return [Data({"skill": "fallback"}), Say(f"Sorry, I could not reach {names}.")]
        skills = self.sessions.get("skills")
        dialog = skills.dialog if isinstance(skills, SkillsSession) else Dialog()
        return reply_parts("fallback", self.pipeline.skills.catch_all(turn.text, dialog))

    def _log(self, turn: Turn, outcome: Outcome) -> None:
        skipped = [f"{n} passed" for n in outcome.passed] + [f"{n} failed" for n in outcome.failed]
        log.info("connection %d: %s answered by %s%s", self.peer.number, turn.id, outcome.agent,
                 f" ({', '.join(skipped)})" if skipped else "")

    async def _speak(
        self,
        turn: Turn,
        agent: str,
        first: ReplyPart | None,
        rest: AsyncIterator[ReplyPart],
        send: SendOne,
        replies: ReplySender,
        voice: str | None,
        prompt_on_audio_end: bool,
    ) -> str | None:
        """Stream one agent's reply; returns the skill named in its data, if any."""
        reply = _Reply()

        async def consume() -> None:
            try:
                if first is not None:
                    reply.take(first)
                async for part in rest:
                    reply.take(part)
            except Exception as exc:  # the turn is this agent's: end it with what was said
                self.pipeline.stats[f"{agent}.failed"] += 1
                log.warning("connection %d: %s: %s failed mid-reply: %s", self.peer.number,
                            turn.id, agent, exc)
            finally:
                reply.sentences.put_nowait(None)
            reply.done.set()
            try:
                data = {"speech": {"text": reply.text}, "dialog": agent, **reply.data}
                await send(Response(turn.id, data))
                await send(TextReply(turn.id, reply.text, prompt=reply.prompt))
            finally:
                reply.header.set()

        consumer = asyncio.create_task(consume())
        audio = self.pipeline.speaker.speak(reply.stream(), voice)
        try:
            await replies.stream(
                audio, lambda: reply.prompt if prompt_on_audio_end else None, reply.ready
            )
        except TtsError as exc:
            log.warning("text to speech failed: %s", exc)
            await consumer
            await send(GatewayError(turn.id, f"text to speech failed: {exc}"))
        except asyncio.CancelledError:
            if not reply.done.is_set():
                replies.cut()  # barge-in: nothing more of a reply still being made
            consumer.cancel()
            await asyncio.gather(consumer, return_exceptions=True)
            close = getattr(rest, "aclose", None)
            if close is not None:
                await close()
            raise
        await consumer
        skill = reply.data.get("skill")
        return skill if isinstance(skill, str) else None


class _Reply:
    """What one agent has said so far in a turn."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.data: dict[str, Any] = {}
        self.prompt = False
        self.sentences: asyncio.Queue[str | None] = asyncio.Queue()
        self.done = asyncio.Event()
        """The agent's reply is complete."""
        self.header = asyncio.Event()
        """``response`` and ``text`` are out (or never will be)."""

    @property
    def text(self) -> str:
        return " ".join(t.strip() for t in self.texts if t.strip())

    def take(self, part: ReplyPart) -> None:
        if isinstance(part, Say):
            self.texts.append(part.text)
            self.sentences.put_nowait(part.text)
        elif isinstance(part, Data):
            self.data.update(part.fields)
        elif isinstance(part, Ask):
            self.prompt = True

    async def stream(self) -> AsyncIterator[str]:
        while (sentence := await self.sentences.get()) is not None:
            yield sentence

    async def ready(self) -> None:
        """Before the first audio: a reply whose text is complete sends its text first."""
        if self.done.is_set():
            await self.header.wait()


def _seconds(value: object) -> float:
    """A number of seconds as given, or -1 for anything that is not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return -1.0
    return float(value)


async def _parts(parts: list[ReplyPart]) -> AsyncIterator[ReplyPart]:
    for part in parts:
        yield part
