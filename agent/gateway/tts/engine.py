"""The text-to-speech interface: sentences in as they come, 16 kHz PCM out as it is made.

The pipeline (:mod:`agent.gateway.pipeline`) feeds a speaker the reply's
sentences as the agent produces them, and streams the audio to the device as
the speaker yields it::

    async for pcm in speaker.speak(sentences, voice):   # 16 kHz mono s16le
        ...

``sentences`` is an async iterator of plain text (one sentence or more per
item; nothing to strip). ``voice`` is the client's ``tts_options.voice`` (or
the turn's), None when it asked for none: the speaker uses it when it is a
voice it has, else its configured one. A speaker that cannot speak raises
:class:`TtsError` (before or after some audio).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import Protocol

RATE = 16000
"""Every speaker yields 16 kHz mono s16le."""


class TtsError(RuntimeError):
    """Speech could not be made."""


class Speaker(Protocol):
    """A text-to-speech engine (one per gateway)."""

    name: str

    def speak(self, sentences: AsyncIterable[str], voice: str | None) -> AsyncIterator[bytes]:
        """16 kHz mono s16le PCM of ``sentences``, yielded as it is made."""

    async def aclose(self) -> None:
        """The gateway stops."""


async def speak_text(speaker: Speaker, text: str, voice: str | None) -> bytes:
    """The whole of ``text`` spoken (announcements, whose audio is made before it is sent)."""

    async def one() -> AsyncIterator[str]:
        yield text

    return b"".join([pcm async for pcm in speaker.speak(one(), voice)])
