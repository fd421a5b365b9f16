"""The built-in skills as an agent of the chain: they answer, or pass.

The skills pass when no skill matches (their catch-all sentence is the
pipeline's, used only when no agent is left). A skill that asked a question
(``followup`` phrases) gets the next utterance of that connection again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import TYPE_CHECKING

from agent.gateway.dialog.agent import Ask, Data, Pass, Peer, ReplyPart, Say, Turn
from agent.gateway.dialog.backend import Utterance
from agent.gateway.dialog.skills import Dialog, Reply, Skills

if TYPE_CHECKING:
    from agent.gateway.dialog.registry import AgentEnv
    from agent.gateway.settings import GatewaySettings


def reply_parts(skill: str, reply: Reply) -> list[ReplyPart]:
    """A skill's reply as reply parts (what it is about first, then its sentence)."""
    data: dict[str, object] = {"skill": skill}
    if reply.card is not None:
        data["card"] = reply.card
    if reply.timer is not None:
        data["timer"] = reply.timer
    parts: list[ReplyPart] = [Data(data), Say(reply.text)]
    if reply.prompt:
        parts.append(Ask())
    return parts


class SkillsSession:
    """The skills' side of one connection: its :class:`Dialog` (follow-ups, location, timers)."""

    def __init__(self, skills: Skills, peer: Peer) -> None:
        self.skills = skills
        self.peer = peer
        self.dialog = Dialog()

    def hear(self, tid: str) -> Utterance | None:
        """The skills take text."""
        return None

    @property
    def search(self) -> str:
        """The grammar for the next utterance (a follow-up's, when a skill asked)."""
        return self.skills.search_for(self.dialog)

    async def respond(self, turn: Turn) -> AsyncIterator[ReplyPart]:
        """The matching skill's reply; Pass when none matches."""
        self.dialog.location, self.dialog.timers = self.peer.location, self.peer.timers
        skill, _followup = self.skills.classify(turn.text, self.dialog)
        if skill is None:
            self.dialog.pending = None
            raise Pass
        answer = self.skills.respond(turn.text, self.dialog, datetime.now().astimezone())
        for part in reply_parts(answer.skill, answer.reply):
            yield part

    async def close(self) -> None:
        """Nothing to release."""


class SkillsAgent:
    """The built-in skills (:mod:`agent.gateway.dialog.builtin`)."""

    name = "skills"
    free_text = False

    def __init__(self, skills: Skills) -> None:
        self.skills = skills
        self.phrases = skills.phrases()

    def connect(self, peer: Peer) -> SkillsSession:
        """A new device connection."""
        return SkillsSession(self.skills, peer)

    async def aclose(self) -> None:
        """Nothing to release."""


def create(settings: GatewaySettings, env: AgentEnv) -> SkillsAgent:
    """The factory for ``skills``."""
    return SkillsAgent(env.skills)
