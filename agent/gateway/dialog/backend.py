"""The seam for an agent that hears the audio and answers the device itself (Diatheke).

The session (:mod:`agent.gateway.session`) owns the WebSocket, the
transactions, the gateway's endpointer and the limits. Most agents get text
and yield reply parts (:mod:`agent.gateway.dialog.agent`). An agent whose
:meth:`~agent.gateway.dialog.agent.AgentSession.hear` returns an
:class:`Utterance` is handed the transaction's audio instead and answers
through an :class:`Outbox`: ``stt_transcript``, ``response``, ``text`` and
reply audio (a Diatheke server:
:class:`~agent.gateway.dialog.diatheke.agent.DiathekeAgent`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from agent.gateway.stt.engine import Transcript
from agent.link.protocol import GatewayMessage


@dataclass(frozen=True)
class Outbox:
    """What a session offers its back end for one connection."""

    number: int
    """The connection's number (for log lines)."""
    send: Callable[[GatewayMessage], Awaitable[None]]
    """Encode and send one message to the device."""
    transcribe: Callable[[bytes], Awaitable[Transcript]]
    """The gateway's own speech to text (``stt.engine``) on 16 kHz PCM."""
    chunk_bytes: int
    """Reply audio per ``audio_data`` message (``reply.chunk_ms``)."""
    prompt_on_audio_end: bool
    """False in the Node reply form: ``prompt`` goes on the ``text`` message only."""


@dataclass(frozen=True)
class Heard:
    """What the back end recognised in one transaction (for the records)."""

    text: str
    confidence: float
    source: str
    """``diatheke`` (its ASR) or the gateway engine's own source."""


class Utterance(Protocol):
    """One transaction handed to the back end."""

    def feed(self, chunk: bytes) -> None:
        """Audio as it arrives (16 kHz mono s16le); never blocks."""

    async def finish(self, pcm: bytes) -> Heard | None:
        """No more audio (``pcm``: the whole utterance); run the turn to its end."""


class DialogConnection(Protocol):
    """A back end's side of one device connection (a dialog session)."""

    def begin(self, tid: str) -> Utterance:
        """A new transaction ``tid`` starts (``audio_start``)."""

    async def text(self, tid: str, text: str) -> None:
        """The device typed ``text`` (a ``text`` message): run that turn."""

    async def close(self) -> None:
        """The connection is gone: end the dialog session."""
