"""A speaker with a second one behind it: the user hears the answer even when the first fails.

:class:`FallbackSpeaker` takes the reply's sentences as they come and hands
them to the primary speaker (a Wyoming server). When the primary raises
:class:`~agent.gateway.tts.engine.TtsError` (down, a timeout, garbage), the
sentences it had not finished, and every one still to come, are spoken by
the fallback (espeak-ng); the failure is logged and counted
(:attr:`FallbackSpeaker.fallbacks`). A primary that knows how far it got
raises :class:`PartialFailure` with ``done`` (sentences fully spoken, none
repeated); any other error repeats every sentence it was given.

The sentences are read into a queue by a task of the speaker's own, so the
primary can be abandoned at any point without losing one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterable, AsyncIterator

from agent.gateway.tts.engine import Speaker, TtsError

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def closing(audio: AsyncIterator[bytes]) -> AsyncIterator[AsyncIterator[bytes]]:
    """``audio``, closed on the way out (an async generator's ``aclose``): a speaker's
    connection or process ends when its reply is abandoned (barge-in)."""
    try:
        yield audio
    finally:
        close = getattr(audio, "aclose", None)
        if close is not None:
            await close()


class PartialFailure(TtsError):
    """The primary failed after speaking ``done`` of the sentences it was given."""

    def __init__(self, message: str, done: int) -> None:
        super().__init__(message)
        self.done = done


class FallbackSpeaker:
    """``primary``, and ``fallback`` for what it could not say (see the module docs)."""

    def __init__(self, primary: Speaker, fallback: Speaker) -> None:
        self.primary = primary
        self.fallback = fallback
        self.name = primary.name
        self.fallbacks = 0
        """Replies (or their rest) spoken by the fallback since the start."""

    async def speak(self, sentences: AsyncIterable[str], voice: str | None) -> AsyncIterator[bytes]:
        """The primary's audio; on its failure, the fallback's for the rest."""
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        given: list[str] = []
        ended: list[bool] = []  # the primary has taken the end of the sentences

        async def pump() -> None:
            try:
                async for sentence in sentences:
                    queue.put_nowait(sentence)
            finally:
                queue.put_nowait(None)

        async def to_primary() -> AsyncIterator[str]:
            while (sentence := await queue.get()) is not None:
                given.append(sentence)
                yield sentence
            ended.append(True)

        async def the_rest(unsaid: list[str]) -> AsyncIterator[str]:
            for sentence in unsaid:
                yield sentence
            while not ended and (more := await queue.get()) is not None:
                yield more

        pumping = asyncio.create_task(pump())
        try:
            try:
                async with closing(self.primary.speak(to_primary(), voice)) as audio:
                    async for pcm in audio:
                        yield pcm
            except Exception as exc:  # noqa: BLE001 - a bug in the primary: the user still hears
                if not isinstance(exc, TtsError):
                    log.exception("tts %s: unexpected failure", self.primary.name)
                done = exc.done if isinstance(exc, PartialFailure) else 0
                self.fallbacks += 1
                log.warning("tts %s failed (%s): the rest of the reply (%d sentence(s) so far "
                            "unsaid) is spoken by %s (%d time(s) since the start)",
                            self.primary.name, exc, len(given) - done, self.fallback.name,
                            self.fallbacks)
            else:  # (the agent's own failure, if it had one, is the caller's: not caught)
                await pumping
                return
            # The fallback gets its own configured voice: a voice name of the primary's
            # (en_US-lessac-medium) means nothing to it.
            unsaid = given[done:]
            async with closing(self.fallback.speak(the_rest(unsaid), None)) as audio:
                async for pcm in audio:
                    yield pcm
            await pumping
        finally:
            if not pumping.done():
                pumping.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await pumping

    async def aclose(self) -> None:
        """Both speakers stop."""
        await self.primary.aclose()
        await self.fallback.aclose()
