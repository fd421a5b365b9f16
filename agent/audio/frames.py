"""Frames of 16 kHz mono audio, the Source protocol, and the streaming converter.

Every capture source yields :class:`Frame` objects: int16 samples at 16 kHz,
mono, with ``position``, the absolute index of the frame's first sample since
the source started. Positions are monotonic and contiguous
(``next.position == prev.end``) except after a loss, where the next frame
carries ``gap > 0`` and ``next.position == prev.end + next.gap``: a device
reopen, a restarted capture command or a full capture queue leaves a gap in
the positions that is reported, never hidden and never reset.

Frames are ``frame_samples`` long (default 1280 = 80 ms), except the last
frame before a gap or before the end of a finite stream, which may be shorter:
no captured sample is dropped to square a frame off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import soxr

SAMPLE_RATE = 16000
"""The rate of every Frame, and of the gateway's audio."""

DEFAULT_FRAME_SAMPLES = 1280
"""80 ms at 16 kHz: what openWakeWord consumes per step."""


@dataclass(frozen=True, eq=False)
class Frame:
    """A block of 16 kHz mono int16 samples with its absolute sample position."""

    samples: np.ndarray
    """int16, shape ``(n,)``."""
    position: int
    """Index of ``samples[0]`` since the source started (includes earlier gaps)."""
    gap: int = 0
    """Samples known or estimated to be missing right before this frame (0 = contiguous)."""

    @property
    def end(self) -> int:
        """Position just past the last sample: where the next frame starts if no gap."""
        return self.position + len(self.samples)


class Source(Protocol):
    """A capture source: blocking :meth:`read` of 16 kHz mono frames.

    ``errors`` counts device errors, failed opens and command restarts;
    ``overflows`` counts input overflows and capture-queue drops.
    """

    @property
    def frame_samples(self) -> int:
        """Samples per frame (the last one before a gap or the end may be shorter)."""
        ...

    @property
    def errors(self) -> int:
        """Device errors, failed opens and command restarts so far."""
        ...

    @property
    def overflows(self) -> int:
        """Input overflows and capture-queue drops so far."""
        ...

    def read(self) -> Frame | None:
        """Block until the next frame; ``None`` at the end of a finite stream or after close."""
        ...

    def close(self) -> None:
        """Stop capturing and release the device, process or file. Safe to call twice."""
        ...


class Converter:
    """Streaming conversion of captured audio to 16 kHz mono frames with positions.

    Feed interleaved s16le bytes (:meth:`push_bytes`) or int16 arrays
    (:meth:`push`) at ``rate``/``channels``; keeps ``channel``; resamples with a
    soxr streaming resampler so block boundaries leave no trace in the output.
    :meth:`flush` ends a contiguous run (resampler tail, short last frame),
    :meth:`add_gap` records missing samples before the next frame.
    """

    def __init__(
        self,
        rate: int,
        channels: int,
        channel: int,
        frame_samples: int = DEFAULT_FRAME_SAMPLES,
        start_position: int = 0,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"sample rate must be positive, got {rate}")
        if channels < 1:
            raise ValueError(f"channels must be at least 1, got {channels}")
        if not 0 <= channel < channels:
            raise ValueError(f"channel {channel} does not exist in {channels}-channel audio")
        if frame_samples < 1:
            raise ValueError(f"frame length must be at least 1 sample, got {frame_samples}")
        self.rate = rate
        self.channels = channels
        self.channel = channel
        self.frame_samples = frame_samples
        self.position = start_position
        """Position of the first sample not yet emitted in a frame (gaps included)."""
        self._resampler: soxr.ResampleStream | None = None
        self._leftover = b""
        self._pending: list[np.ndarray] = []
        self._pending_len = 0
        self._gap = 0

    def _resample(self, mono: np.ndarray, last: bool = False) -> np.ndarray:
        if self.rate == SAMPLE_RATE:
            return mono
        if self._resampler is None:
            self._resampler = soxr.ResampleStream(self.rate, SAMPLE_RATE, 1, dtype="int16")
        out: np.ndarray = self._resampler.resample_chunk(mono, last=last)
        return out

    def push_bytes(self, data: bytes) -> list[Frame]:
        """Add interleaved s16le bytes; returns the frames completed by them."""
        if self._leftover:
            data = self._leftover + data
        width = 2 * self.channels
        usable = len(data) - len(data) % width
        self._leftover = data[usable:]
        if not usable:
            return []
        samples = np.frombuffer(data[:usable], dtype="<i2").astype(np.int16)
        return self.push(samples.reshape(-1, self.channels))

    def push(self, samples: np.ndarray) -> list[Frame]:
        """Add int16 samples, shape ``(n, channels)`` or ``(n,)`` when mono."""
        if samples.ndim == 2:
            mono = samples[:, self.channel]
        elif self.channels == 1:
            mono = samples
        else:
            raise ValueError("multi-channel samples must have shape (n, channels)")
        mono = np.ascontiguousarray(mono, dtype=np.int16)
        return self._frame(self._resample(mono), final=False)

    def flush(self) -> list[Frame]:
        """End a contiguous run: emit the resampler tail and any short last frame."""
        self._leftover = b""
        tail = np.zeros(0, dtype=np.int16)
        if self._resampler is not None:
            tail = self._resample(tail, last=True)
            # A fresh resampler for the next run: the old one's state belongs to audio
            # that is no longer adjacent.
            self._resampler = None
        return self._frame(tail, final=True)

    def add_gap(self, samples: int) -> None:
        """Record ``samples`` missing before the next frame. Call :meth:`flush` first."""
        if samples < 0:
            raise ValueError("a gap cannot be negative")
        if self._pending_len:
            raise RuntimeError("flush() the run before adding a gap")
        self.position += samples
        self._gap += samples

    def _frame(self, new: np.ndarray, final: bool) -> list[Frame]:
        if len(new):
            self._pending.append(new)
            self._pending_len += len(new)
        if self._pending_len < self.frame_samples and not (final and self._pending_len):
            return []
        buf = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
        frames: list[Frame] = []
        n = self.frame_samples
        start = 0
        while len(buf) - start >= n or (final and start < len(buf)):
            chunk = buf[start : start + n].copy()
            frames.append(Frame(chunk, self.position, gap=self._gap))
            self._gap = 0
            self.position += len(chunk)
            start += len(chunk)
        rest = buf[start:]
        self._pending = [rest] if len(rest) else []
        self._pending_len = len(rest)
        return frames
