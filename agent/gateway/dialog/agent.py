"""The agent interface: every brain of the gateway's chain speaks it.

A turn (what the device said, already transcribed, or typed) goes to the
agents of the chain in order (``dialog.engine: [skills, llm]``). Each agent's
:meth:`AgentSession.respond` is an async generator of reply parts. Before it
yields its first part an agent may:

* raise :class:`Pass`: it has nothing to say (the skills when no skill
  matches; Home Assistant when it did not understand); the next agent gets
  the turn;
* raise :class:`AgentFailed`: it could not answer (down, a timeout, a bad
  answer); the reason is logged and counted, and the next agent gets the turn.

Once an agent has yielded a part, the turn is its own: a later failure ends
the reply with what was already said.

Reply parts (:data:`ReplyPart`):

* :class:`Say`: text, as it comes: one or more complete sentences of plain
  text (the agent cuts and strips), spoken with the gateway's text to speech
  as soon as it arrives;
* :class:`Data`: fields for the ``response`` message's ``data`` (a ``card``,
  a ``timer`` event, ``targets``...), merged in order;
* :class:`Ask`: the reply expects an answer (``prompt: true``: the device
  listens again without the wake word).

The end of the generator is the end of the reply. An agent that answers the
device itself (Diatheke speaks with its own TTS through the session's
:class:`~agent.gateway.dialog.backend.Outbox`) yields nothing and simply
returns: its turn is over. Cancelling the generator
(``aclose``: the user barged in, the device left) must stop the agent's work
at once: a streamed HTTP request is closed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from agent.gateway.dialog.backend import Outbox, Utterance


class Pass(Exception):  # noqa: N818 - a control signal, not an error
    """The agent has nothing to say for this turn: the next agent gets it."""


class AgentFailed(Exception):
    """The agent could not answer this turn (logged and counted; the next agent gets it)."""

    def __init__(self, reason: str, *, unreachable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.unreachable = unreachable
        """True when a remote agent could not be reached (the closing sentence says so)."""


@dataclass(frozen=True)
class Say:
    """Text of the reply, in order: complete sentences, spoken as they come."""

    text: str


@dataclass(frozen=True)
class Data:
    """Fields for ``response.data`` (``card``, ``timer``, ``targets``...)."""

    fields: dict[str, Any]


@dataclass(frozen=True)
class Ask:
    """The reply expects an answer: ``prompt: true``."""


ReplyPart = Say | Data | Ask


@dataclass
class Peer:
    """One device connection, as the agents see it (kept current by the session)."""

    number: int
    """The connection's number (log lines)."""
    device: str
    """Which device: its ``userID``, else ``connection-N`` (memory, conversations, timers)."""
    location: tuple[float, float] | None = None
    """(latitude, longitude) from the device's ``location`` message."""
    timers: Any = None
    """This device's timers (:class:`agent.gateway.timers.alarms.Book`), if the gateway runs any."""
    outbox: Outbox | None = None
    """The session's :class:`Outbox`, for an agent that answers the device itself (Diatheke)."""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Turn:
    """One turn of a device: what it said (transcribed) or typed."""

    id: str
    """The transaction's (or the ``text`` message's) id."""
    text: str
    """What the user said, as heard, or typed."""
    wake_word: str | None = None
    """The wake word that opened the turn (``audio_start`` options), if any."""
    typed: bool = False
    """True for a ``text`` message (no audio)."""
    audio: bytes | None = None
    """The utterance (16 kHz mono s16le) for agents that hear it themselves."""
    utterance: Utterance | None = None
    """The audio agent's own side of the transaction (Diatheke), when it took the audio."""


class AgentSession(Protocol):
    """An agent's side of one device connection."""

    def hear(self, tid: str) -> Utterance | None:
        """A transaction starts: an :class:`Utterance` when this agent takes the audio
        itself (Diatheke with its own ASR); None for agents that take text."""

    def respond(self, turn: Turn) -> AsyncIterator[ReplyPart]:
        """The reply to ``turn`` (an async generator; may raise Pass or AgentFailed)."""

    async def close(self) -> None:
        """The connection is gone."""


class Agent(Protocol):
    """One brain of the chain, shared by every connection of a gateway."""

    name: str
    """Its name in ``dialog.engine`` (``skills``, ``llm``, ``home_assistant``, ``diatheke``)."""
    free_text: bool
    """True when it takes any text (the speech to text must hear free speech for it)."""
    phrases: tuple[str, ...]
    """Phrases it expects (grammar for pocketsphinx, hints for cloud engines)."""

    def connect(self, peer: Peer) -> AgentSession:
        """A new device connection."""

    async def aclose(self) -> None:
        """The gateway stops: release what the agent holds."""
