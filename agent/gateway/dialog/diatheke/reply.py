"""Reply audio to the device: one reply per turn, at 16 kHz, in ``reply.chunk_ms`` pieces.

The device plays "the last reply wins": a second ``audio_start`` in one turn
would cut the first reply off. So every reply of a turn (Diatheke may say
two things before it waits for the user) goes out under one reply id, and
``audio_end`` carries the turn's ``prompt`` once the turn knows it.
"""

from __future__ import annotations

from typing import Any

from agent.gateway.dialog.backend import Outbox
from agent.gateway.tts.resample import Resampler
from agent.link.protocol import ReplyAudioData, ReplyAudioEnd, ReplyAudioStart, new_id

__all__ = ["CONTENT_TYPE", "RATE", "Resampler", "TurnReply", "command_card", "speech_data"]

RATE = 16000
CONTENT_TYPE = "audio/l16; rate=16000; channels=1"


class TurnReply:
    """The spoken reply of one turn, sent as it is synthesised."""

    def __init__(self, out: Outbox, rate: int) -> None:
        self.out = out
        self.rate = rate
        self.id: str | None = None
        self._pending = b""
        self.bytes_sent = 0

    async def feed(self, data: bytes, resampler: Resampler) -> None:
        """Audio of one reply at ``resampler``'s rate."""
        self._pending += resampler.convert(data)
        await self._flush(False)

    async def done(self, resampler: Resampler) -> None:
        """One reply's audio is complete."""
        self._pending += resampler.convert(b"", last=True)
        await self._flush(False)

    async def _flush(self, everything: bool) -> None:
        step = self.out.chunk_bytes
        while len(self._pending) >= step or (everything and self._pending):
            if self.id is None:
                self.id = new_id()
                await self.out.send(ReplyAudioStart(self.id, CONTENT_TYPE))
            piece, self._pending = self._pending[:step], self._pending[step:]
            self.bytes_sent += len(piece)
            await self.out.send(ReplyAudioData(self.id, piece))

    async def end(self, prompt: bool) -> None:
        """The turn is over: the rest of the audio, then ``audio_end`` with ``prompt``."""
        await self._flush(True)
        if self.id is not None:
            await self.out.send(
                ReplyAudioEnd(self.id, prompt if self.out.prompt_on_audio_end else None)
            )


def command_card(command: str, parameters: Any) -> dict[str, Any]:
    """``response.data`` for a Diatheke command: ``card.content = {command, parameters}``."""
    return {
        "card": {
            "type": "command",
            "content": {"command": command, "parameters": dict(parameters)},
        },
        "dialog": "diatheke",
    }


def speech_data(text: str) -> dict[str, Any]:
    """``response.data`` for a Diatheke reply."""
    return {"speech": {"text": text}, "dialog": "diatheke"}
