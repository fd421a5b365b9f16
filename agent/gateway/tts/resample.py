"""Streaming conversion of PCM to the gateway's 16 kHz mono s16le (soxr).

A speech server says its format once (Diatheke's model, Wyoming's
``audio-start``: rate, sample width, channels) and then streams pieces of
any length: :class:`Resampler` keeps the partial frame between pieces and
soxr's filter state between calls, so the output is what soxr makes of the
whole stream, and each piece's output can go to the device at once.

soxr works in float32 here: its int16 mode dithers with a random seed (two
runs over the same audio differ by a sample value or two), while float32 is
exact and independent of how the stream is cut, so the result equals
``soxr.resample`` over the whole (rounded like :func:`~agent.gateway.tts.espeak.to_16k_mono`).
"""

from __future__ import annotations

import numpy as np
import soxr

from agent.gateway.tts.engine import RATE

WIDTHS = (1, 2, 4)
"""Sample widths in bytes: unsigned 8-bit, s16le, s32le."""


class Resampler:
    """PCM at ``rate`` (``width`` bytes, ``channels``) -> s16le mono at ``to``, streaming."""

    def __init__(self, rate: int, to: int = RATE, *, width: int = 2, channels: int = 1) -> None:
        if width not in WIDTHS or not 1 <= channels <= 16:
            raise ValueError(f"unsupported PCM: {width}-byte samples, {channels} channels")
        self.rate = rate or to  # 0: the server did not say; take it as ours
        self.width = width
        self.channels = channels
        self._stream = soxr.ResampleStream(self.rate, to, 1, dtype="float32") \
            if self.rate != to else None
        self._odd = b""

    def convert(self, data: bytes, last: bool = False) -> bytes:
        """The converted audio so far (``last``: flush the filter's tail)."""
        data, self._odd = self._odd + data, b""
        frame = self.width * self.channels
        if len(data) % frame:
            cut = len(data) - len(data) % frame
            data, self._odd = data[:cut], data[cut:]
        samples = self._mono16(data)
        if self._stream is None:
            return samples.tobytes()
        out = self._stream.resample_chunk(samples.astype(np.float32), last=last)
        return np.clip(np.round(out), -32768, 32767).astype("<i2").tobytes()

    def _mono16(self, data: bytes) -> np.ndarray:
        if self.width == 2:
            samples = np.frombuffer(data, dtype="<i2")
        elif self.width == 1:
            samples = ((np.frombuffer(data, dtype=np.uint8).astype(np.int16) - 128) << 8)
        else:
            samples = (np.frombuffer(data, dtype="<i4") >> 16).astype(np.int16)
        if self.channels > 1:
            mixed = samples.reshape(-1, self.channels).astype(np.int32).mean(axis=1)
            samples = np.round(mixed).astype(np.int16)
        return samples.astype("<i2", copy=False)
