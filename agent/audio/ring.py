"""The pre-roll ring buffer and the chunker that turns it into ``audio_data`` chunks.

:class:`RingBuffer` keeps the most recent samples of the capture stream with
their absolute positions, so the daemon can start an utterance ``preroll_ms``
*before* the wake word's detection point. :class:`Chunker` then walks the
stream from that start position and cuts it into chunks of exactly
``chunk_samples`` (e.g. 1600 = 100 ms), so that the concatenation of every
chunk it returns equals source samples ``[start, end)``: nothing lost, nothing
repeated, and chunk boundaries independent of frame boundaries.

The one deliberate exception is :meth:`Chunker.skip`: a window of positions
left out of the utterance (the microphone's copy of the wake chime, see
:mod:`agent.audio.sounds`). Then the chunks concatenate to ``[start, end)``
minus exactly the skipped windows.

Typical use (conversation thread)::

    ring = RingBuffer(capacity=ring_samples)
    ...for every frame: ring.append(frame)
    # wake word detected at position D:
    chunker = Chunker(start=D - preroll, chunk_samples=1600)
    if wake_sound is not None:
        chunker.skip(*chime_window(D, len(wake_sound)))
    ...for every frame after ring.append(frame):
        for chunk in chunker.take(ring):
            send_audio_data(chunk.tobytes())
    # end of speech at position E:
    for chunk in chunker.finish(ring, E):
        send_audio_data(chunk.tobytes())

A gap in the capture (``frame.gap > 0``) empties the ring: samples on both
sides of a gap are not one stream, so a read across it raises
:class:`NotHeldError`, which tells the daemon to end the utterance.
"""

from __future__ import annotations

import numpy as np

from agent.audio.frames import SAMPLE_RATE, Frame


class NotHeldError(LookupError):
    """The requested samples are no longer (or not yet) in the ring."""


class RingBuffer:
    """The last ``capacity`` samples of a 16 kHz int16 stream, addressed by position."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("ring capacity must be at least 1 sample")
        self.capacity = capacity
        self._buf = np.zeros(capacity, dtype=np.int16)
        self._start = 0
        self._end = 0
        self._empty = True

    @classmethod
    def for_seconds(cls, seconds: float) -> RingBuffer:
        """A ring holding ``seconds`` of 16 kHz audio."""
        return cls(max(1, round(seconds * SAMPLE_RATE)))

    @property
    def start(self) -> int:
        """Position of the oldest sample held."""
        return self._start

    @property
    def end(self) -> int:
        """Position just past the newest sample held (== start when empty)."""
        return self._end

    def append(self, frame: Frame) -> None:
        """Add the next frame. A frame after a gap restarts the ring at its position."""
        self.append_samples(frame.samples, frame.position)

    def append_samples(self, samples: np.ndarray, position: int) -> None:
        """Add int16 ``samples`` whose first sample is at ``position``."""
        if self._empty:
            self._start = self._end = position
            self._empty = False
        elif position < self._end:
            raise ValueError(
                f"samples at {position} overlap the ring, which already holds up to {self._end}"
            )
        elif position > self._end:
            # A gap: what came before is not contiguous with what follows.
            self._start = self._end = position
        samples = np.asarray(samples, dtype=np.int16)
        n = len(samples)
        if n >= self.capacity:  # only the newest `capacity` samples fit
            self._write(samples[-self.capacity :], self._end + n - self.capacity)
        else:
            self._write(samples, self._end)
        self._end += n
        self._start = max(self._start, self._end - self.capacity)

    def _write(self, samples: np.ndarray, at: int) -> None:
        i = at % self.capacity
        first = min(len(samples), self.capacity - i)
        self._buf[i : i + first] = samples[:first]
        self._buf[: len(samples) - first] = samples[first:]

    def read(self, start: int, end: int) -> np.ndarray:
        """Return a copy of samples ``[start, end)``; :class:`NotHeldError` if not all held."""
        if end < start:
            raise ValueError(f"empty range: end {end} is before start {start}")
        if start < self._start or end > self._end:
            raise NotHeldError(
                f"samples [{start}, {end}) are not held: "
                f"the ring holds [{self._start}, {self._end})"
            )
        n = end - start
        i = start % self.capacity
        first = min(n, self.capacity - i)
        out = np.empty(n, dtype=np.int16)
        out[:first] = self._buf[i : i + first]
        out[first:] = self._buf[: n - first]
        return out


class Chunker:
    """Cut the stream from ``start`` into chunks of exactly ``chunk_samples``.

    Chunks never depend on how the frames were cut; only the very last one
    (from :meth:`finish`) may be shorter.
    """

    def __init__(self, start: int, chunk_samples: int) -> None:
        if chunk_samples < 1:
            raise ValueError("chunks must hold at least 1 sample")
        self.start = start
        self.chunk_samples = chunk_samples
        self.position = start
        """The next source position to be taken (everything before it is done)."""
        self._skips: list[tuple[int, int]] = []
        self._pending = np.zeros(0, dtype=np.int16)
        self._finished = False
        self.skipped = 0
        """Samples left out so far by :meth:`skip` windows."""

    @classmethod
    def for_ms(cls, start: int, chunk_ms: int) -> Chunker:
        """A chunker for ``chunk_ms`` milliseconds per chunk at 16 kHz."""
        return cls(start, max(1, chunk_ms * SAMPLE_RATE // 1000))

    def skip(self, start: int, end: int) -> None:
        """Leave source samples ``[start, end)`` out of the chunks.

        The window must not begin before :attr:`position` (those samples may
        already have been sent). Overlapping windows merge.
        """
        if end <= start:
            return
        if start < self.position:
            raise ValueError(
                f"cannot skip from {start}: samples up to {self.position} are already taken"
            )
        self._skips.append((start, end))
        self._skips.sort()
        merged: list[tuple[int, int]] = []
        for s, e in self._skips:
            if merged and s <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], e))
            else:
                merged.append((s, e))
        self._skips = merged

    def take(self, ring: RingBuffer, end: int | None = None) -> list[np.ndarray]:
        """Every complete chunk available from the ring up to ``end`` (default: ``ring.end``).

        Raises :class:`NotHeldError` when the chunker fell behind the ring or
        the capture had a gap; the chunker's state is then unchanged.
        """
        if self._finished:
            raise RuntimeError("finish() was already called")
        end = ring.end if end is None else end
        if end <= self.position:
            return []
        kept = self._kept(ring, self.position, end)
        self.position = end
        if len(self._pending):
            kept = np.concatenate([self._pending, kept])
        n = len(kept) // self.chunk_samples * self.chunk_samples
        chunks = [kept[i : i + self.chunk_samples] for i in range(0, n, self.chunk_samples)]
        self._pending = kept[n:].copy()
        return chunks

    def finish(self, ring: RingBuffer, end: int | None = None) -> list[np.ndarray]:
        """The remaining chunks up to ``end``, the last one possibly short. Ends the chunker."""
        chunks = self.take(ring, end)
        if len(self._pending):
            chunks.append(self._pending)
            self._pending = np.zeros(0, dtype=np.int16)
        self._finished = True
        return chunks

    def _kept(self, ring: RingBuffer, start: int, end: int) -> np.ndarray:
        """Ring samples ``[start, end)`` minus the skip windows (reads before it mutates)."""
        pieces: list[np.ndarray] = []
        skipped = 0
        pos = start
        for s, e in self._skips:
            if e <= pos or s >= end:
                continue
            if s > pos:
                pieces.append(ring.read(pos, s))
            skipped += min(e, end) - max(s, pos)
            pos = min(e, end)
        if pos < end:
            pieces.append(ring.read(pos, end))
        self.skipped += skipped
        if not pieces:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate(pieces) if len(pieces) > 1 else pieces[0]
