"""How late, and how loud, the speaker's sound comes back into the microphone.

:func:`estimate_delay` cross-correlates what was played with what was heard
(GCC-PHAT: the phase transform whitens both, so speech and chirps give one
sharp peak at the echo's direct path, not a broad hump at the talker's pitch).
:class:`DelayEstimator` runs it every few seconds of audio over the recent
past while the speaker is playing, in audio time (it counts samples, not the
clock). The echo canceller passes its estimate to WebRTC as a hint, and
``voice-agent doctor`` reports it.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class DelayEstimate:
    """An echo delay: ``delay_ms`` after the reference, at ``level_db`` relative to it."""

    delay_ms: float
    level_db: float
    """Echo level relative to what was played, dB (meaningful with no one speaking)."""
    confidence: float
    """Peak of the whitened correlation over its mean magnitude (> ~6: a clear peak)."""


def _rms_db(x: np.ndarray) -> float:
    ms = float(np.mean(np.square(x, dtype=np.float64))) if len(x) else 0.0
    return 10 * math.log10(ms) if ms > 0 else -math.inf


def estimate_delay(
    far: np.ndarray, near: np.ndarray, max_delay_ms: float = 500.0
) -> DelayEstimate | None:
    """Delay of ``far`` inside ``near`` (same length, same start time), or None if silent."""
    far = np.asarray(far, dtype=np.float64)
    near = np.asarray(near, dtype=np.float64)
    if not len(far) or _rms_db(far) == -math.inf or _rms_db(near) == -math.inf:
        return None
    max_lag = min(len(near) - 1, int(max_delay_ms * SAMPLE_RATE / 1000))
    n = 1 << int(math.ceil(math.log2(len(far) + len(near))))
    cross = np.fft.rfft(near, n) * np.conj(np.fft.rfft(far, n))
    magnitude = np.abs(cross)
    cross /= magnitude + 1e-6 * float(magnitude.max()) + 1e-12
    r = np.fft.irfft(cross, n)[: max_lag + 1]
    lag = int(np.argmax(r))
    confidence = float(r[lag] / (np.mean(np.abs(r)) + 1e-12))
    level = _rms_db(near[lag:]) - _rms_db(far[: len(far) - lag])
    return DelayEstimate(lag * 1000 / SAMPLE_RATE, level, confidence)


class DelayEstimator:
    """Estimates the echo delay every ``every_s`` seconds of audio with the speaker on
    until one estimate is clear, then every ``then_every_s`` (the room rarely changes).

    :meth:`push` takes the reference and the raw microphone audio of the same
    moment (same length, any chunking). An estimate replaces the previous one
    only when its peak is clear (``min_confidence``).
    """

    def __init__(
        self,
        window_s: float = 2.0,
        every_s: float = 2.0,
        then_every_s: float = 10.0,
        # 800: through PortAudio, ALSA and a pipe the echo came back 451 ms after the
        # reference (scripts/bench_echo_portaudio.py); a room's 150 ms come on top.
        max_delay_ms: float = 800.0,
        min_confidence: float = 8.0,
    ) -> None:
        self.max_delay_ms = max_delay_ms
        self.min_confidence = min_confidence
        keep = int((window_s + max_delay_ms / 1000) * SAMPLE_RATE)
        self._far: deque[np.ndarray] = deque()
        self._near: deque[np.ndarray] = deque()
        self._kept = 0
        self._keep = keep
        self._every = int(every_s * SAMPLE_RATE)
        self._then_every = int(then_every_s * SAMPLE_RATE)  # once an estimate stands
        self._active = 0  # samples with the reference playing since the last estimate
        self.estimate: DelayEstimate | None = None
        """The last clear estimate, or None."""

    def push(self, far: np.ndarray, near: np.ndarray, playing: bool) -> DelayEstimate | None:
        """Add audio; returns a new estimate when one was made (else None)."""
        self._far.append(np.asarray(far, dtype=np.int16))
        self._near.append(np.asarray(near, dtype=np.int16))
        self._kept += len(far)
        while self._kept - len(self._far[0]) >= self._keep:
            self._kept -= len(self._far.popleft())
            self._near.popleft()
        if playing:
            self._active += len(far)
        if self._active < self._every or self._kept < self._keep:
            return None
        self._active = 0
        found = estimate_delay(
            np.concatenate(self._far), np.concatenate(self._near), self.max_delay_ms
        )
        if found is None or found.confidence < self.min_confidence:
            return None
        self.estimate = found
        self._every = self._then_every
        return found
