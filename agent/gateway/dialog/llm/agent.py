"""The ``llm`` agent: a turn goes to the language model, its answer is spoken as it streams.

One turn is up to four streamed requests (:class:`~agent.gateway.dialog.llm.client.Round`):
the model may call tools (timers, the time, Home Assistant) in at most
:data:`MAX_TOOL_ROUNDS` rounds, then answers. Its text is cut into sentences as
it arrives (:mod:`~agent.gateway.dialog.llm.speakable`) and each one is a
:class:`Say` at once, so the first sentence is spoken while the model still
writes the rest. A reply whose last sentence is a question ends with
:class:`Ask` (the device listens again without the wake word).

Faults (the server down, an HTTP error, a timeout of the whole reply, a
stream cut short, a malformed chunk, more tool rounds than allowed) are logged
with what happened; before anything was said they raise :class:`AgentFailed`
(the chain moves on), after it they end the reply with what was said. Closing
the generator (barge-in) closes the HTTP stream, so the server stops.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any, Protocol

from agent.gateway.dialog.agent import (
    Agent,
    AgentFailed,
    AgentSession,
    Ask,
    Data,
    Peer,
    ReplyPart,
    Say,
    Turn,
)
from agent.gateway.dialog.backend import Utterance
from agent.gateway.dialog.llm.client import LlmFault, Round, make_client, read_key
from agent.gateway.dialog.llm.memory import Memory
from agent.gateway.dialog.llm.prompt import system_prompt
from agent.gateway.dialog.llm.settings import LlmSettings
from agent.gateway.dialog.llm.speakable import SentenceCutter
from agent.gateway.dialog.llm.tools import Toolbox

log = logging.getLogger(__name__)

MAX_TOOL_ROUNDS = 3
"""Tool rounds per turn; a model asking for a fourth has lost its way."""
HOME_AGENT = "home_assistant"


class Env(Protocol):
    """What the agent needs of the registry's ``AgentEnv``: the other agents."""

    agents: dict[str, Agent]


def local_now() -> datetime:
    """Now, in the gateway's local time zone."""
    return datetime.now().astimezone()


class LlmAgent:
    """The agent, shared by every connection: the SDK's client and each device's memory."""

    name = "llm"
    free_text = True
    phrases: tuple[str, ...] = ()

    def __init__(self, settings: LlmSettings, agents: dict[str, Agent] | None = None, *,
                 now: Callable[[], datetime] = local_now) -> None:
        self.settings = settings
        self.agents = agents if agents is not None else {}
        """Every configured agent (filled before the first turn): Home Assistant's tool."""
        self.now = now
        self.client = make_client(settings, read_key(settings))
        self.memory = Memory(settings.history_turns, settings.forget_after_s)

    def connect(self, peer: Peer) -> LlmSession:
        """A new device connection."""
        return LlmSession(self, peer)

    async def aclose(self) -> None:
        """The gateway stops: close the SDK's connection pool."""
        await self.client.close()


def create(settings: Any, env: Env) -> LlmAgent:
    """The registry's factory (``dialog.engine`` names ``llm``)."""
    return LlmAgent(settings.dialog.llm, env.agents)


class LlmSession:
    """The agent's side of one device connection."""

    def __init__(self, agent: LlmAgent, peer: Peer) -> None:
        self.agent = agent
        self.peer = peer
        self._home: AgentSession | None = None

    def hear(self, tid: str) -> Utterance | None:
        """The model takes text, not audio."""
        return None

    async def close(self) -> None:
        """The connection is gone: so is its Home Assistant session."""
        home, self._home = self._home, None
        if home is not None:
            await home.close()

    def _home_session(self) -> AgentSession | None:
        if self._home is None:
            home = self.agent.agents.get(HOME_AGENT)
            if home is not None:
                # HA's own session for a tool: "not aware of any device called ..."
                # is its answer to the model, never a pass (the model asked).
                self._home = getattr(home, "tool_session", home.connect)(self.peer)
        return self._home

    def _toolbox(self) -> Toolbox | None:
        if not self.agent.settings.tools:
            return None
        home = self._home_session if HOME_AGENT in self.agent.agents else None
        return Toolbox(self.peer.timers, home, self.agent.now)

    def _request(self, messages: list[dict[str, Any]], tools: Toolbox | None) -> dict[str, Any]:
        s = self.agent.settings
        request: dict[str, Any] = {"model": s.model, "messages": messages,
                                   "max_tokens": s.max_tokens}
        if s.temperature is not None:
            request["temperature"] = s.temperature
        if tools is not None:
            request["tools"] = tools.schemas()
        return request

    async def respond(self, turn: Turn) -> AsyncIterator[ReplyPart]:
        """The model's answer to ``turn``, sentence by sentence (see the module docstring)."""
        s, device = self.agent.settings, self.peer.device
        loop = asyncio.get_running_loop()
        deadline = loop.time() + s.timeout_s
        toolbox = self._toolbox()
        prompt = system_prompt(s.system_prompt, self.agent.now(), self.peer.location,
                               toolbox.names if toolbox else ())
        messages: list[dict[str, Any]] = [{"role": "system", "content": prompt},
                                          *self.agent.memory.messages(device),
                                          {"role": "user", "content": turn.text}]
        cutter = SentenceCutter()
        fallback: list[str] = []  # what the tools did, said when the model says nothing
        started = False
        rounds = 0
        try:
            while True:
                offer = toolbox if rounds < MAX_TOOL_ROUNDS else None
                rnd = Round(self.agent.client, self._request(messages, offer), deadline)
                text: list[str] = []
                try:
                    while (delta := await rnd.next()) is not None:
                        text.append(delta)
                        for sentence in cutter.feed(delta):
                            started = True
                            yield Say(sentence)
                finally:
                    await rnd.close()
                calls = rnd.tool_calls
                if not calls:
                    break
                if toolbox is None or rounds >= MAX_TOOL_ROUNDS:
                    raise LlmFault(f"the model asked for tools after {rounds} tool rounds")
                rounds += 1
                messages.append({"role": "assistant", "content": "".join(text) or None,
                                 "tool_calls": [c.message() for c in calls]})
                for call in calls:
                    log.info("llm: %s calls %s(%s)", device, call.name, call.arguments[:200])
                    try:
                        async with asyncio.timeout_at(deadline):
                            outcome = await toolbox.call(call.name, call.arguments)
                    except TimeoutError:
                        raise LlmFault(f"timed out in the tool {call.name}") from None
                    messages.append({"role": "tool", "tool_call_id": call.id,
                                     "content": outcome.result})
                    if outcome.said:
                        fallback.append(outcome.said)
                    if outcome.data:
                        started = True
                        yield Data(outcome.data)
            for sentence in cutter.flush():
                started = True
                yield Say(sentence)
            if not cutter.said and not fallback:
                raise LlmFault("an empty answer")
        except LlmFault as fault:
            log.warning("llm: %s: %s (%s)", device, fault.reason,
                        f"after {len(cutter.said)} sentences" if started else "nothing said")
            if not started:
                raise AgentFailed(fault.reason, unreachable=fault.unreachable) from None
        else:
            log.info("llm: %s: %d sentences, %d tool rounds", device, len(cutter.said), rounds)
        finally:
            if cutter.said or fallback:
                self.agent.memory.add(device, turn.text, " ".join(cutter.said or fallback))
        if not cutter.said and fallback:
            cutter.said.extend(fallback)
            yield Say(" ".join(fallback))
        if cutter.said and cutter.said[-1].endswith("?"):
            yield Ask()
