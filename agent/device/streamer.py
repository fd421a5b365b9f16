"""Sends one transaction's microphone audio as ``audio_data`` messages.

The guarantee it exists for: the concatenated ``audio_data`` of a transaction
is exactly the microphone samples ``[start, end)`` (minus, only when a wake
sound is configured, the window captured while that sound played). The
cutting is :class:`agent.audio.ring.Chunker`'s: chunks are cut by sample
position, not by frame, so a 100 ms chunk is always 1,600 samples whatever
the capture frame size. This class adds the transaction around it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from agent.audio.ring import Chunker
from agent.link import protocol


class Streamer:
    """Streams ``[start, ...)`` of the ring as ``audio_data`` messages of one id."""

    def __init__(
        self,
        ring: Any,
        send: Callable[[protocol.ClientMessage], bool],
        chunk_samples: int,
        on_audio: Callable[[bytes], None] | None = None,
    ) -> None:
        self._ring = ring
        self._send = send
        self._chunk = chunk_samples
        self._on_audio = on_audio
        self._chunker: Chunker | None = None
        self.id: str | None = None

    @property
    def open(self) -> bool:
        """Whether a transaction is being streamed."""
        return self.id is not None

    def start(
        self,
        tid: str,
        start: int,
        options: dict[str, Any] | None,
        skip: tuple[int, int] | None = None,
    ) -> bool:
        """Send ``audio_start`` and begin at sample ``start``; False if not sent."""
        self.id = tid
        self._chunker = Chunker(start, self._chunk)
        if skip:
            self._chunker.skip(*skip)
        return self._send(protocol.AudioStart(tid, options))

    def pump(self, available: int) -> None:
        """Send every whole chunk held below position ``available``."""
        if self._chunker is not None:
            self._emit(self._chunker.take(self._ring, available))

    def finish(self, end: int, reason: str | None = None) -> str | None:
        """Send what is left below ``end`` and ``audio_end``; returns the closed id.

        ``reason`` ``no_speech`` goes on the ``audio_end`` (this project's
        extension): the gateway then sends no reply to an empty transcript.
        """
        tid, chunker = self.id, self._chunker
        if tid is None or chunker is None:
            return None
        self._emit(chunker.finish(self._ring, max(end, chunker.position)))
        self._send(protocol.AudioEnd(tid, "no_speech" if reason == "no_speech" else None))
        self.id, self._chunker = None, None
        return tid

    def abandon(self) -> str | None:
        """Forget the transaction without sending anything (connection gone)."""
        tid, self.id, self._chunker = self.id, None, None
        return tid

    def _emit(self, chunks: list[np.ndarray]) -> None:
        assert self.id is not None
        for chunk in chunks:
            data = chunk.astype("<i2").tobytes()
            self._send(protocol.AudioData(self.id, data))
            if self._on_audio:
                self._on_audio(data)
