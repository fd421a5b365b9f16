"""Sending one connection's spoken replies: chunked, paced near real time, flushed on a new turn.

A reply is ``audio_start``, ``audio_data`` x n, ``audio_end``. With
``reply.pace`` p > 0 the chunks go out at p times real time, counted in audio
time: the chunk that starts at sample s is sent ``s / RATE / p`` seconds
after the first, and ``audio_end`` when the whole reply would have played at
that speed. The first chunk goes at once, so a device starts playing as soon
as it would have unpaced; a pace above 1 keeps the device's buffer growing,
so it never runs dry.

To clients of the Node form (the legacy ones, IBM's) two things more. Their
reader blocks while it plays, so a reply sent far ahead of its playback keeps
it from answering a ping (IBM's client gives up after 3 s): the schedule never
runs more than :data:`LEGACY_LEAD_S` ahead of real time, so ``audio_end``
arrives at most that long before the reply ends, whatever its length (and
with ``pace: 0`` too). And IBM's client cuts the last 0.34-0.5 s it was sent
(it flushes its speaker at ``audio_end``): every reply ends with
``reply.legacy_tail_ms`` of silence, so what it cuts is silence.

Why pace at all: a reply sent in one burst reaches IBM's client some 100 ms
after the transcript, and with ``prompt: true`` its capture thread then closes
the follow-up microphone it has just opened (an empty utterance reaches the
gateway). A reply that arrives about as fast as it plays does not trigger that.

The waits are on the event loop's clock (``loop.time()``, an absolute
schedule, so a late wake-up does not push the later chunks back) and never
block other connections. :meth:`ReplySender.hurry` (a new ``audio_start`` or
typed input) ends the pacing: the rest of the reply goes out at once, so the
client still gets it whole, with its ``audio_end``, before anything of the
next turn. The stream runs as a task of its own, so cancelling the turn that
started it (the user spoke again) does not cut a reply in half.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from websockets.exceptions import ConnectionClosed

from agent.link.protocol import (
    GatewayMessage,
    Prompt,
    ReplyAudioData,
    ReplyAudioEnd,
    ReplyAudioStart,
    new_id,
)

log = logging.getLogger(__name__)

RATE = 16000
CONTENT_TYPE = "audio/l16; rate=16000; channels=1"
LEGACY_LEAD_S = 0.9
"""How far ahead of real time a Node-form client's reply may run (about 1 s, less
a margin for the network): its ``audio_end`` comes at most this long before the end."""

SendOne = Callable[[GatewayMessage], Awaitable[None]]


def chunks(pcm: bytes, chunk_ms: int) -> list[bytes]:
    """``pcm`` (s16le mono, 16 kHz) cut into ``chunk_ms`` pieces (whole samples)."""
    step = max(2, chunk_ms * RATE // 1000 * 2)
    return [pcm[i : i + step] for i in range(0, len(pcm), step)]


def due(samples: int, pace: float, lead_s: float | None = None) -> float:
    """When the audio from sample ``samples`` on is sent, in seconds after the first chunk.

    ``samples / RATE / pace`` (0 with ``pace`` 0), but with ``lead_s`` never
    earlier than ``lead_s`` before that audio would play (real time from the
    first chunk): a reply never runs more than ``lead_s`` ahead of playback.
    """
    at = samples / RATE / pace if pace > 0 else 0.0
    if lead_s is not None:
        at = max(at, samples / RATE - lead_s)
    return at


def schedule(sizes: list[int], pace: float, lead_s: float | None = None) -> list[float]:
    """Send offsets in seconds after the first chunk: one per chunk, then ``audio_end``.

    The chunk starting at sample s goes at :func:`due` (s); ``audio_end`` at
    the due time of the reply's length. ``pace`` 0, no lead: everything at 0.
    """
    offsets: list[float] = []
    samples = 0
    for size in [*sizes, 0]:
        offsets.append(due(samples, pace, lead_s))
        samples += size // 2
    return offsets


class ReplySender:
    """One connection's reply audio: at most one reply streams at a time."""

    def __init__(
        self, send: SendOne, *, pace: float, chunk_ms: int, number: int = 0,
        tail_ms: int = 0, lead_s: float | None = None,
    ) -> None:
        self._send = send
        self.pace = pace
        self.chunk_ms = chunk_ms
        self.tail = bytes(2 * (tail_ms * RATE // 1000))
        """Silence that ends every reply (``reply.legacy_tail_ms``, Node-form clients)."""
        self.lead_s = lead_s
        """How far a reply may run ahead of playback (None: no bound; Node form: about 1 s)."""
        self._number = number
        self._task: asyncio.Task[None] | None = None
        self._hurry = asyncio.Event()
        self._cut = asyncio.Event()
        self._orphans: set[asyncio.Task[None]] = set()
        self.hurried = 0
        """Replies whose pacing was ended early by :meth:`hurry` (for tests and logs)."""

    async def speak(
        self, pcm: bytes, prompt: Prompt | None, *, rid: str | None = None,
        pace: float | None = None,
    ) -> str:
        """Send ``pcm`` as one reply (``prompt`` on its ``audio_end``); returns its id.

        ``rid`` is the reply's id (an announcement's, shared with its text); a
        new one by default. ``pace`` overrides ``reply.pace`` for this reply.
        Returns when the reply has been sent. A reply still streaming is
        hurried and finished first, so two replies never interleave.
        """
        await self._finish_previous()
        rid = rid or new_id()
        self._hurry = asyncio.Event()
        pace = self.pace if pace is None else pace
        task = asyncio.create_task(self._stream(rid, pcm + self.tail, prompt, self._hurry, pace))
        task.add_done_callback(self._done)
        self._task = task
        try:
            # Shielded: cancelling the caller (a stale turn) must not cut the reply.
            await asyncio.shield(task)
        except asyncio.CancelledError:
            self._orphans.add(task)  # nobody will see how it ends: _done reports it
            raise
        return rid

    async def stream(
        self,
        source: AsyncIterator[bytes],
        prompt: Callable[[], Prompt | None],
        ready: Callable[[], Awaitable[None]],
        *,
        rid: str | None = None,
    ) -> str:
        """Send audio from ``source`` as one reply, as it is made; returns its id.

        Paced like :meth:`speak`, counted in audio time from the first chunk:
        a chunk is sent when it is due or, when it was made later, as soon as
        it is made. ``ready()`` is awaited before ``audio_start`` (the
        pipeline holds it until the reply's ``text`` is out, when that text
        is known first); ``prompt()`` is read when the source is done, for
        ``audio_end``. Shielded like :meth:`speak`; :meth:`cut` ends it early.
        An exception from ``source`` ends the reply (``audio_end`` with no
        prompt, when audio had started) and is raised here.
        """
        await self._finish_previous()
        rid = rid or new_id()
        self._hurry = asyncio.Event()
        self._cut = asyncio.Event()
        task = asyncio.create_task(
            self._stream_from(rid, source, prompt, ready, self._hurry, self._cut)
        )
        task.add_done_callback(self._done)
        self._task = task
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            self._orphans.add(task)
            raise
        return rid

    def cut(self) -> None:
        """Stop the reply streaming now: what is not sent yet is dropped (barge-in)."""
        if self._task is not None and not self._task.done():
            self._cut.set()
            self._hurry.set()

    def hurry(self) -> None:
        """A new turn began: the reply in flight (if any) goes out at once."""
        if self._task is not None and not self._task.done():
            self._hurry.set()

    @property
    def streaming(self) -> bool:
        """True while a reply is being sent."""
        return self._task is not None and not self._task.done()

    async def close(self) -> None:
        """The connection is gone: stop sending."""
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def finish_current(self) -> None:
        """Let the reply in flight (if any) go out at once and wait until it has."""
        await self._finish_previous()

    async def _finish_previous(self) -> None:
        task = self._task
        if task is not None and not task.done():
            self._hurry.set()
            await asyncio.wait([task])  # its failure is its own turn's, not ours

    async def _stream(
        self, rid: str, pcm: bytes, prompt: Prompt | None, hurry: asyncio.Event, pace: float
    ) -> None:
        pieces = chunks(pcm, self.chunk_ms)
        offsets = schedule([len(p) for p in pieces], pace, self.lead_s)
        loop = asyncio.get_running_loop()
        await self._send(ReplyAudioStart(rid, CONTENT_TYPE))
        start = loop.time()
        for i, offset in enumerate(offsets):
            if offset > 0 and not hurry.is_set():
                await _wait_until(hurry, start + offset, loop)
                if hurry.is_set():
                    self.hurried += 1
                    log.debug(
                        "connection %d: reply %s hurried after %d of %d chunks",
                        self._number, rid, i, len(pieces),
                    )
            if i < len(pieces):
                await self._send(ReplyAudioData(rid, pieces[i]))
        await self._send(ReplyAudioEnd(rid, prompt))

    async def _stream_from(
        self,
        rid: str,
        source: AsyncIterator[bytes],
        prompt: Callable[[], Prompt | None],
        ready: Callable[[], Awaitable[None]],
        hurry: asyncio.Event,
        cut: asyncio.Event,
    ) -> None:
        step = max(2, self.chunk_ms * RATE // 1000 * 2)
        loop = asyncio.get_running_loop()
        pending = b""
        start: float | None = None
        sent = 0  # samples

        async def send_piece(piece: bytes) -> None:
            nonlocal start, sent
            if start is None:
                await ready()
                await self._send(ReplyAudioStart(rid, CONTENT_TYPE))
                start = loop.time()
            when = start + due(sent, self.pace, self.lead_s)
            if not hurry.is_set() and when > loop.time():
                await _wait_until(hurry, when, loop)
            if not cut.is_set():
                await self._send(ReplyAudioData(rid, piece))
                sent += len(piece) // 2

        failed: BaseException | None = None
        try:
            async for pcm in source:
                if cut.is_set():
                    break
                pending += pcm
                while len(pending) >= step and not cut.is_set():
                    piece, pending = pending[:step], pending[step:]
                    await send_piece(piece)
            if not cut.is_set():
                pending += self.tail  # Node form: what IBM's client cuts is silence
            while pending and not cut.is_set():
                piece, pending = pending[:step], pending[step:]
                await send_piece(piece)
        except Exception as exc:  # the speaker failed: end what was started
            failed = exc
        finally:
            close = getattr(source, "aclose", None)
            if close is not None:
                await close()
        if start is None and failed is None and not cut.is_set():
            await ready()
            await self._send(ReplyAudioStart(rid, CONTENT_TYPE))
            start = loop.time()
        if start is not None:
            if not hurry.is_set():
                await _wait_until(hurry, start + due(sent, self.pace, self.lead_s), loop)
            await self._send(ReplyAudioEnd(rid, None if failed or cut.is_set() else prompt()))
        if failed is not None:
            raise failed

    def _done(self, task: asyncio.Task[None]) -> None:
        # A caller still awaiting the stream gets its exception (and its turn's
        # guard reports it); for a stream whose turn was cancelled, report it here.
        orphan = task in self._orphans
        self._orphans.discard(task)
        if task.cancelled():
            return
        exc = task.exception()  # retrieved either way: no "never retrieved" warning
        if orphan and exc is not None and not isinstance(exc, ConnectionClosed):
            log.error("connection %d: sending a reply failed: %r", self._number, exc)


async def _wait_until(event: asyncio.Event, when: float, loop: asyncio.AbstractEventLoop) -> None:
    """Wait until the loop's clock reaches ``when`` or ``event`` is set."""
    delay = when - loop.time()
    if delay <= 0:
        return
    try:
        await asyncio.wait_for(event.wait(), delay)
    except TimeoutError:
        pass
