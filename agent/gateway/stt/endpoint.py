"""The gateway's own end-of-speech detection, in audio time.

A small energy detector: 20 ms frames, a noise floor tracked over the last
3 s, speech when a frame is well above the floor and above an absolute
minimum. Speech has
begun after :attr:`Endpointer.min_speech_ms` of speech frames; it has ended
after :attr:`Endpointer.silence_ms` of non-speech frames that follow it.
Everything is counted in samples, so the same recording gives the same
decision whether it arrives in real time or all at once.

Deliberately independent of the device's VAD (``agent/vad.py``): the gateway
must end utterances for clients that have none.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

RATE = 16000
FRAME = 320  # 20 ms at 16 kHz
_FLOOR_MIN_DB = -90.0  # digital silence (synthetic speech) pins the floor here


def frame_levels(pcm: bytes | np.ndarray) -> np.ndarray:
    """dBFS of each whole 20 ms frame of s16le mono ``pcm``."""
    samples = np.frombuffer(pcm, dtype="<i2") if isinstance(pcm, bytes | bytearray) else pcm
    n = len(samples) // FRAME
    if n == 0:
        return np.zeros(0)
    frames = samples[: n * FRAME].astype(np.float64).reshape(n, FRAME)
    rms = np.sqrt(np.mean(frames * frames, axis=1))
    return np.asarray(20 * np.log10(np.maximum(rms, 1e-3) / 32768.0))


class _Floor:
    """Noise floor: a low percentile of the last few seconds of frame levels.

    A minimum-statistics estimate: pauses between words keep it at the room's
    level during speech, and one dropout frame does not drag it down.
    """

    def __init__(self, window_frames: int = 150, percentile: float = 5.0) -> None:
        self._window = np.full(window_frames, np.nan)
        self._n = 0
        self._percentile = percentile

    @property
    def level(self) -> float | None:
        if self._n == 0:
            return None
        filled = self._window[: min(self._n, len(self._window))]
        return max(float(np.percentile(filled, self._percentile)), _FLOOR_MIN_DB)

    def add(self, db: float) -> None:
        self._window[self._n % len(self._window)] = db
        self._n += 1


class Endpointer:
    """Finds where speech starts and where the speaker has stopped.

    Feed s16le 16 kHz mono bytes in any chunk sizes with :meth:`feed`; it
    returns the sample index at which the utterance ended (the end of the
    trailing silence window) once, or ``None``. :attr:`speech_start` and
    :attr:`speech_end` are sample indices (``None`` until speech is seen).
    """

    def __init__(
        self,
        *,
        silence_ms: int = 700,
        min_speech_ms: int = 100,
        margin_db: float = 15.0,
        min_level_dbfs: float = -55.0,
    ) -> None:
        self.silence_frames = max(1, silence_ms * RATE // 1000 // FRAME)
        self.min_speech_frames = max(1, min_speech_ms * RATE // 1000 // FRAME)
        self.margin_db = margin_db
        self.min_level_dbfs = min_level_dbfs
        self._floor = _Floor()
        self._carry = b""
        self._frames = 0  # whole frames seen
        self._run = 0  # consecutive speech frames
        self._quiet = 0  # consecutive non-speech frames since the last speech
        self.speech_start: int | None = None
        self.speech_end: int | None = None
        self.ended_at: int | None = None
        self.on_frame: Callable[[int, bool], None] | None = None
        """Called with (frame index, is speech) for every frame (for analysis)."""

    @property
    def samples(self) -> int:
        """Samples of whole frames processed so far."""
        return self._frames * FRAME

    @property
    def in_speech(self) -> bool:
        """True once speech has begun (and until it has ended)."""
        return self.speech_start is not None and self.ended_at is None

    def is_speech(self, db: float, floor: float) -> bool:
        """The per-frame decision."""
        return db >= max(floor + self.margin_db, self.min_level_dbfs)

    def feed(self, pcm: bytes) -> int | None:
        """Process more audio; the end sample index when the utterance just ended."""
        if self.ended_at is not None:
            return None
        data = self._carry + pcm
        usable = len(data) - len(data) % (FRAME * 2)
        self._carry = data[usable:]
        if not usable:
            return None
        for level in frame_levels(data[:usable]):
            db = float(level)
            self._floor.add(db)
            floor = self._floor.level
            assert floor is not None
            speech = self.is_speech(db, floor)
            if self.on_frame is not None:
                self.on_frame(self._frames, speech)
            self._frames += 1
            if speech:
                self._run += 1
                self._quiet = 0
                if self.speech_start is None and self._run >= self.min_speech_frames:
                    self.speech_start = (self._frames - self._run) * FRAME
                if self.speech_start is not None:
                    self.speech_end = self._frames * FRAME
            else:
                self._run = 0
                if self.speech_start is not None:
                    self._quiet += 1
                    if self._quiet >= self.silence_frames:
                        self.ended_at = self._frames * FRAME
                        return self.ended_at
        return None


def speech_mask(pcm: bytes, min_run_ms: int = 100) -> np.ndarray:
    """Per 20 ms frame of a whole recording: True where the detector hears speech.

    Only runs of at least ``min_run_ms`` of speech frames count, so clicks and
    breaths do not.
    """
    ep = Endpointer(silence_ms=10**7)
    raw = np.zeros(len(pcm) // (2 * FRAME), dtype=bool)
    ep.on_frame = lambda index, speech: raw.__setitem__(index, speech)
    ep.feed(pcm)
    min_run = max(1, min_run_ms * RATE // 1000 // FRAME)
    mask = np.zeros_like(raw)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], raw.astype(np.int8), [0]))))
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        if stop - start >= min_run:
            mask[start:stop] = True
    return mask
