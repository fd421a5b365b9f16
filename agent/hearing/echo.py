"""The capture front end: echo cancellation, noise suppression and auto gain.

:class:`CaptureProcessor` sits in the capture thread between the source and
everything that listens (the pre-roll ring, the wake word and its silence
gate, the VAD, the streamed audio). Each :class:`~agent.audio.frames.Frame` is
cut into 10 ms chunks; for each chunk it looks up, on the
:class:`~agent.audio.reference.ReferenceTimeline`, what the speaker was playing
at the moment the chunk was captured, feeds that to WebRTC's AEC3 as the
far-end reference, and replaces the chunk with the cleaned audio. Positions and
lengths are unchanged, so the ring and the pre-roll work as before.

Capture time. A frame's position is audio time; the reference is stamped with
the clock. The processor ties the two with an anchor: the clock when a frame was
read, minus the audio after its first sample. Reads are only ever late (a
queue, a busy thread), never early, so the anchor follows the earliest reads
and is moved only when every read of the last few seconds was later than it
(clock drift between the sound card and the CPU), or after a gap. Between
moves, consecutive chunks map to consecutive reference samples: the delay the
canceller sees stays constant.

Idle bypass. With only echo cancellation on, chunks captured while nothing has
played for ``tail_s`` pass through unchanged and WebRTC is not called: an idle
device costs nothing, and what it hears is bit-exact. With noise suppression or
auto gain on, every chunk is processed.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Protocol

import numpy as np

from agent.audio.frames import SAMPLE_RATE, Frame
from agent.audio.reference import ReferenceTimeline
from agent.hearing.apm import CHUNK
from agent.hearing.echo_delay import DelayEstimator

log = logging.getLogger(__name__)

DRIFT_WINDOW_S = 5.0  # how long every read must have been late before the anchor moves
DRIFT_SLACK_S = 0.03  # ... and by at least this much


class Apm(Protocol):
    """What the processor needs of :class:`~agent.hearing.apm.WebRtcApm`."""

    echo_cancel: bool

    def reverse(self, far: np.ndarray) -> None: ...

    def set_delay_ms(self, delay_ms: int) -> None: ...

    def process(self, near: np.ndarray) -> np.ndarray: ...


class CaptureProcessor:
    """Cleans captured frames with WebRTC; see the module docstring.

    Args:
        apm: the processing module (its ``echo_cancel`` says whether a
            reference is used).
        timeline: what the speaker played (required for echo cancellation).
        tail_s: how long after the last played sample the canceller keeps
            running (the room's reverberation and the sink's buffer).
        always_on: process every chunk (noise suppression or auto gain on);
            False allows the idle bypass.
    """

    def __init__(
        self,
        apm: Apm,
        timeline: ReferenceTimeline | None,
        *,
        tail_s: float = 1.0,
        always_on: bool = False,
        delay: DelayEstimator | None = None,
    ) -> None:
        if apm.echo_cancel and timeline is None:
            raise ValueError("echo cancellation needs a reference timeline")
        self.apm = apm
        self.timeline = timeline
        self.tail_s = tail_s
        self.always_on = always_on or not apm.echo_cancel
        self.delay = delay if delay is not None else DelayEstimator()
        self._anchor: tuple[int, float] | None = None  # (position, clock of that sample)
        self._lateness: deque[tuple[int, float]] = deque()  # (position, read lateness)
        self.chunks_processed = 0
        self.chunks_bypassed = 0
        if apm.echo_cancel:
            apm.set_delay_ms(0)  # WebRTC wants a delay before the first chunk

    # -- capture clock ------------------------------------------------------

    def capture_time(self, position: int) -> float:
        """The clock at which sample ``position`` was captured (anchor required)."""
        assert self._anchor is not None
        pos, t = self._anchor
        return t + (position - pos) / SAMPLE_RATE

    def _update_anchor(self, frame: Frame, read_time: float) -> None:
        """Tie the frame to the clock: it ended (at the latest) at ``read_time``."""
        start = read_time - len(frame.samples) / SAMPLE_RATE
        if self._anchor is None or frame.gap:
            self._anchor = (frame.position, start)
            self._lateness.clear()
            return
        late = start - self.capture_time(frame.position)
        if late < 0:  # an earlier read than any so far: the anchor was late
            self._anchor = (frame.position, start)
            self._lateness.clear()
            return
        self._lateness.append((frame.position, late))
        window = int(DRIFT_WINDOW_S * SAMPLE_RATE)
        full = False
        while self._lateness[0][0] < frame.position - window:
            self._lateness.popleft()
            full = True
        least = min(v for _, v in self._lateness)
        if full and least > DRIFT_SLACK_S:  # every read of the window late: clocks drifted
            pos, t = self._anchor
            self._anchor = (pos, t + least)
            self._lateness.clear()
            log.debug("echo: capture clock moved by %.1f ms", least * 1000)

    # -- processing ---------------------------------------------------------

    def process(self, frame: Frame, read_time: float) -> Frame:
        """The cleaned frame (same position, same length)."""
        self._update_anchor(frame, read_time)
        x = frame.samples
        out = np.empty_like(x)
        for i in range(0, len(x), CHUNK):
            chunk = x[i : i + CHUNK]
            short = len(chunk)
            if short < CHUNK:  # the last frame before a gap or the end: pad, then cut
                chunk = np.concatenate((chunk, np.zeros(CHUNK - short, np.int16)))
            out[i : i + short] = self._chunk(chunk, frame.position + i)[:short]
        return Frame(out, frame.position, frame.gap)

    def _chunk(self, chunk: np.ndarray, position: int) -> np.ndarray:
        if not self.apm.echo_cancel:
            self.chunks_processed += 1
            return self.apm.process(chunk)
        assert self.timeline is not None
        when = self.capture_time(position)
        playing = self.timeline.active(when)
        if not self.always_on and not self.timeline.active(when - self.tail_s):
            self.chunks_bypassed += 1
            return chunk
        far = self.timeline.read(when, CHUNK)
        found = self.delay.push(far, chunk, playing)
        if found is not None:
            log.debug("echo: delay %.0f ms, level %.1f dB", found.delay_ms, found.level_db)
            self.apm.set_delay_ms(int(round(found.delay_ms)))
        self.apm.reverse(far)
        self.chunks_processed += 1
        return self.apm.process(chunk)
