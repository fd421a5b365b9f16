"""The audio of one transaction as the back end streams it, and the common turn shape."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import grpc
import grpc.aio

from agent.gateway.dialog.backend import Heard, Outbox
from agent.gateway.dialog.diatheke.rpc import DialogFault, describe
from agent.gateway.reach import probe, split_address
from agent.link.protocol import GatewayError

log = logging.getLogger(__name__)


class AudioFeed:
    """Chunks of one utterance: replayable from the start (a retry on a new session),
    then live until :meth:`close`."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.closed = False
        self._more = asyncio.Event()

    def feed(self, chunk: bytes) -> None:
        """Audio as it arrives."""
        if not self.closed and chunk:
            self.chunks.append(chunk)
            self._more.set()

    def close(self) -> None:
        """No more audio."""
        self.closed = True
        self._more.set()

    async def replay(self) -> AsyncIterator[bytes]:
        """Every chunk from the first, then new ones until closed."""
        i = 0
        while True:
            while i < len(self.chunks):
                yield self.chunks[i]
                i += 1
            if self.closed:
                return
            self._more.clear()
            if i == len(self.chunks) and not self.closed:
                await self._more.wait()


TurnWork = Callable[["Turn"], Awaitable[Heard | None]]


class Turn:
    """One transaction handed to a Diatheke connection (an :class:`~..backend.Utterance`).

    With Diatheke's own ASR the work starts at once (audio streams while the
    user speaks, and the reply may begin before the gateway's endpoint);
    with ``speech: gateway`` it starts at :meth:`finish`, with the whole audio.
    A fault ends this turn with an ``error`` to the device, never the connection.
    """

    def __init__(
        self, out: Outbox, tid: str, work: TurnWork, *, stream: bool, address: str | None = None
    ) -> None:
        self.out = out
        self.tid = tid
        self.address = address
        """The server's host:port, to say why it cannot be reached as ``--check`` does."""
        self.audio = AudioFeed()
        self.pcm = b""
        self._work = work
        self.task: asyncio.Task[Heard | None] | None = (
            asyncio.create_task(self._run()) if stream else None
        )

    def feed(self, chunk: bytes) -> None:
        """Audio as it arrives (ignored with ``speech: gateway``)."""
        if self.task is not None:
            self.audio.feed(chunk)

    async def finish(self, pcm: bytes) -> Heard | None:
        """No more audio: wait for the whole turn (replies and commands included)."""
        self.pcm = pcm
        self.audio.close()
        if self.task is None:
            self.task = asyncio.create_task(self._run())
        return await self.task

    def cancel(self) -> None:
        """A newer turn or the end of the connection: stop this one."""
        self.audio.close()
        if self.task is not None and not self.task.done():
            self.task.cancel()

    async def _run(self) -> Heard | None:
        try:
            return await self._work(self)
        except DialogFault as exc:
            log.warning("connection %d: %s: %s", self.out.number, self.tid, exc)
            await self.out.send(GatewayError(self.tid, f"dialog: {exc}"))
        except grpc.aio.AioRpcError as exc:
            why = await self._unreachable(exc) or describe(exc)
            log.warning("connection %d: %s: Diatheke %s", self.out.number, self.tid, why)
            await self.out.send(GatewayError(self.tid, f"dialog server: {why}"))
        except RuntimeError as exc:  # the gateway's own speech to text (SttError) and the like
            log.warning("connection %d: %s: %s", self.out.number, self.tid, exc)
            await self.out.send(GatewayError(self.tid, f"dialog: {exc}"))
        return None


    async def _unreachable(self, exc: grpc.aio.AioRpcError) -> str | None:
        """For a server that is down, the words of ``gateway --check`` (agent.gateway.reach)."""
        down = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
        if self.address is None or exc.code() not in down:
            return None
        host, port = split_address(self.address)
        return await probe(host, port)


class LostSession(DialogFault):
    """A session stream ended with NOT_FOUND: the server no longer knows the session."""


def is_lost_session(exc: BaseException) -> bool:
    """True for the answer to an expired or unknown session (recreate it, once)."""
    if isinstance(exc, LostSession):
        return True
    return isinstance(exc, grpc.aio.AioRpcError) and exc.code() == grpc.StatusCode.NOT_FOUND
