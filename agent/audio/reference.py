"""The far-end reference: what the speaker played, and when, for echo cancellation.

:class:`ReferenceTap` wraps the player's :class:`~agent.audio.sinks.Sink`: every
block the player writes goes to the sink unchanged and, converted to 16 kHz,
into a :class:`ReferenceTimeline` stamped with the monotonic time at which its
first sample is heard. The capture thread reads the timeline back by time
(:meth:`ReferenceTimeline.read`): "what was the speaker playing at that moment".

Why runs: stamping each block by the clock alone would make the reference
jitter by a few milliseconds from block to block, and an echo canceller's
linear filter takes every slip for a new echo path. Blocks written back to back
(the speaker still busy with the previous one) are therefore appended sample
for sample to the current *run*; a write after the speaker fell idle starts a
new run at the clock. Within a run the reference is continuous, so the delay
between it and the microphone is constant.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import soxr

from agent.audio.frames import SAMPLE_RATE
from agent.audio.sinks import Sink

IDLE_SLACK_S = 0.05
"""A write this long after the previous block's end starts a new run."""


@dataclass
class _Run:
    start: float  # monotonic time of the run's first sample at the speaker
    chunks: list[np.ndarray] = field(default_factory=list)
    length: int = 0  # samples (16 kHz)

    @property
    def end(self) -> float:
        return self.start + self.length / SAMPLE_RATE


class ReferenceTimeline:
    """Thread-safe record of the last ``keep_s`` seconds played, by monotonic time."""

    def __init__(self, keep_s: float = 4.0) -> None:
        self.keep_s = keep_s
        self._lock = threading.Lock()
        self._runs: deque[_Run] = deque()
        self.last_end = -float("inf")
        """Monotonic time at which the last sample played so far ends."""

    def add(self, when: float, samples: np.ndarray) -> None:
        """Record int16 16 kHz ``samples`` heard from ``when`` (or right after the last run)."""
        x = np.asarray(samples, dtype=np.int16)
        if not len(x):
            return
        with self._lock:
            run = self._runs[-1] if self._runs else None
            if run is None or when > run.end + IDLE_SLACK_S:
                run = _Run(max(when, run.end if run else when))
                self._runs.append(run)
            run.chunks.append(x.copy())
            run.length += len(x)
            self.last_end = run.end
            while len(self._runs) > 1 and self._runs[0].end < when - self.keep_s:
                self._runs.popleft()
            if len(run.chunks) > 64:  # keep reads cheap: few large chunks
                run.chunks = [np.concatenate(run.chunks)]
            self._trim(run, when)

    def _trim(self, run: _Run, now: float) -> None:
        """Drop the start of a long run that is older than ``keep_s``."""
        old = int((now - self.keep_s - run.start) * SAMPLE_RATE)
        if old > SAMPLE_RATE and len(run.chunks) == 1:
            run.chunks = [run.chunks[0][old:]]
            run.start += old / SAMPLE_RATE
            run.length -= old

    def cut(self, when: float) -> None:
        """The speaker was silenced at ``when``: forget what would have played after it."""
        with self._lock:
            for run in self._runs:
                keep = int(round((when - run.start) * SAMPLE_RATE))
                if 0 <= keep < run.length:
                    whole = np.concatenate(run.chunks)[:keep]
                    run.chunks, run.length = [whole], keep
            self.last_end = min(self.last_end, when)

    def read(self, when: float, n: int) -> np.ndarray:
        """The ``n`` samples (int16, zeros where nothing played) heard from ``when``."""
        out = np.zeros(n, dtype=np.int16)
        with self._lock:
            for run in self._runs:
                offset = int(round((when - run.start) * SAMPLE_RATE))
                if offset >= run.length or offset + n <= 0:
                    continue
                if len(run.chunks) > 1:
                    run.chunks = [np.concatenate(run.chunks)]
                data = run.chunks[0]
                lo, hi = max(0, offset), min(run.length, offset + n)
                out[lo - offset : hi - offset] = data[lo:hi]
        return out

    def active(self, since: float) -> bool:
        """Whether anything was heard at or after monotonic ``since``."""
        return self.last_end >= since


class ReferenceTap:
    """A :class:`Sink` that passes writes through and records them on a timeline.

    The stamp of a block is the clock when :meth:`write` is called: a speaker
    that keeps time (the file sink, the simulated room) starts hearing it then;
    PortAudio's sink plays it after its small buffer, a constant lag that the
    echo canceller's delay estimation absorbs.
    """

    def __init__(
        self,
        sink: Sink,
        timeline: ReferenceTimeline,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sink = sink
        self.timeline = timeline
        self._clock = clock
        self._resampler: soxr.ResampleStream | None = None
        self._resampler_rate = 0
        self.rate = sink.rate
        """The wrapped sink's rate (refreshed after each write: a device may reopen)."""

    def write(self, samples: np.ndarray) -> None:
        """Record ``samples`` as played from now, then write them to the sink."""
        when = self._clock()
        self.timeline.add(when, self._to_16k(np.asarray(samples, dtype=np.int16)))
        self.sink.write(samples)
        self.rate = self.sink.rate

    def _to_16k(self, x: np.ndarray) -> np.ndarray:
        rate = self.sink.rate
        if rate == SAMPLE_RATE:
            return x
        if self._resampler is None or self._resampler_rate != rate:
            self._resampler = soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="int16")
            self._resampler_rate = rate
        out: np.ndarray = self._resampler.resample_chunk(x)
        return out

    def drain(self) -> None:
        """Forwarded."""
        self.sink.drain()

    def interrupt(self) -> None:
        """Forwarded; what the sink drops is cut from the reference too."""
        self.timeline.cut(self._clock())
        self.sink.interrupt()

    def close(self) -> None:
        """Forwarded."""
        self.sink.close()
