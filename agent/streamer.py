"""Sends one transaction's microphone audio as ``audio_data`` chunks.

The guarantee it exists for: the concatenated ``audio_data`` of a transaction
is exactly the microphone samples ``[start, end)`` (minus, only when a wake
sound is configured, the window captured while that sound played). Chunks are
cut by sample position, not by frame, so a 100 ms chunk is always 1,600
samples whatever the capture frame size.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from agent import protocol


class SampleStore(Protocol):
    """What the streamer needs of the pre-roll ring buffer."""

    def read(self, start: int, end: int) -> np.ndarray:
        """Samples ``[start, end)`` by absolute position."""
        ...


class Streamer:
    """Cuts ``[start, ...)`` of the ring into ``audio_data`` messages for one id."""

    def __init__(
        self,
        ring: SampleStore,
        send: Callable[[protocol.ClientMessage], bool],
        chunk_samples: int,
        on_audio: Callable[[bytes], None] | None = None,
    ) -> None:
        self._ring = ring
        self._send = send
        self._chunk = chunk_samples
        self._on_audio = on_audio
        self.id: str | None = None
        self.next_pos = 0
        self.sent_samples = 0
        self._skip: tuple[int, int] | None = None

    @property
    def open(self) -> bool:
        """Whether a transaction is being streamed."""
        return self.id is not None

    def start(
        self,
        tid: str,
        start: int,
        options: dict[str, object] | None,
        skip: tuple[int, int] | None = None,
    ) -> bool:
        """Send ``audio_start`` and begin at sample ``start``; False if not sent."""
        self.id, self.next_pos, self.sent_samples = tid, start, 0
        self._skip = skip if skip and skip[1] > skip[0] else None
        return self._send(protocol.AudioStart(tid, options))

    def pump(self, available: int) -> None:
        """Send every whole chunk held below position ``available``."""
        while self.id is not None:
            if self._skip and self.next_pos >= self._skip[0]:
                # Inside the wake-sound window: its samples are never sent.
                if available < self._skip[1]:
                    return
                self.next_pos, self._skip = max(self.next_pos, self._skip[1]), None
                continue
            # A chunk stops short at the skip window, so the window is cut exactly.
            end = self.next_pos + self._chunk
            if self._skip:
                end = min(end, self._skip[0])
            if end > available:
                return
            self._emit(end)

    def finish(self, end: int) -> str | None:
        """Send what is left below ``end`` and ``audio_end``; returns the closed id."""
        tid = self.id
        if tid is None:
            return None
        self.pump(end)
        stop = min(end, self._skip[0]) if self._skip else end
        while self.next_pos < stop:
            self._emit(min(self.next_pos + self._chunk, stop))
        self._send(protocol.AudioEnd(tid))
        self.id, self._skip = None, None
        return tid

    def abandon(self) -> str | None:
        """Forget the transaction without sending anything (connection gone)."""
        tid, self.id, self._skip = self.id, None, None
        return tid

    def _emit(self, end: int) -> None:
        assert self.id is not None
        data = self._ring.read(self.next_pos, end).astype("<i2").tobytes()
        self._send(protocol.AudioData(self.id, data))
        if self._on_audio:
            self._on_audio(data)
        self.sent_samples += end - self.next_pos
        self.next_pos = end
