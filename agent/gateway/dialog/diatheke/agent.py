"""A Cobalt Diatheke server as an agent of the chain.

Diatheke hears the utterance itself (``speech: diatheke``: its ASR; with
``speech: gateway`` it is given the gateway's transcript) and speaks with its
own TTS, so it answers the device itself through the session's
:class:`~agent.gateway.dialog.backend.Outbox`, as it always has: ``hear``
hands it the transaction when it is the first agent of the turn's chain, and
``respond`` (typed text, or Diatheke later in a chain with ``speech:
gateway``) pushes the text and returns with no parts once it has answered.
It never passes: a Diatheke model answers everything it is given.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from agent.gateway.dialog.agent import Peer, ReplyPart, Turn
from agent.gateway.dialog.backend import DialogConnection, Utterance
from agent.gateway.dialog.diatheke.backend import DiathekeBackend, create_backend

if TYPE_CHECKING:
    from agent.gateway.dialog.registry import AgentEnv
    from agent.gateway.settings import GatewaySettings


class DiathekeSession:
    """One device connection's Diatheke dialog session."""

    def __init__(self, connection: DialogConnection) -> None:
        self.connection = connection

    def hear(self, tid: str) -> Utterance | None:
        """Diatheke takes the transaction (its audio, or the gateway's transcript of it)."""
        return self.connection.begin(tid)

    async def respond(self, turn: Turn) -> AsyncIterator[ReplyPart]:
        """Push ``turn``'s text; Diatheke answers the device itself."""
        await self.connection.text(turn.id, turn.text)
        return
        yield  # an async generator with no parts: the reply went out through the Outbox

    async def close(self) -> None:
        """End the dialog session (``DeleteSession`` / ``EndSession``)."""
        await self.connection.close()


class DiathekeAgent:
    """The ``diatheke`` agent: one gRPC channel per gateway."""

    name = "diatheke"
    free_text = False
    phrases: tuple[str, ...] = ()

    def __init__(self, backend: DiathekeBackend) -> None:
        self.backend = backend

    def connect(self, peer: Peer) -> DiathekeSession:
        """A new device connection (its Diatheke session is created on its first turn)."""
        assert peer.outbox is not None, "Diatheke answers through the session's Outbox"
        return DiathekeSession(self.backend.connect(peer.outbox))

    async def aclose(self) -> None:
        """Close the channel."""
        await self.backend.aclose()


def create(settings: GatewaySettings, env: AgentEnv) -> DiathekeAgent:
    """The factory for ``diatheke``."""
    return DiathekeAgent(create_backend(settings.dialog.diatheke, settings.limits.max_utterance_s))
