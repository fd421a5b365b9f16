"""The capture front end: echo cancellation, then noise suppression and auto gain.

:class:`CaptureProcessor` sits in the capture thread between the source and
everything that listens (the pre-roll ring, the wake word and its silence
gate, the VAD, the streamed audio). Each :class:`~agent.audio.frames.Frame` is
cut into 10 ms chunks; for each chunk it looks up, on the
:class:`~agent.audio.reference.ReferenceTimeline`, what the speaker was playing
at the moment the chunk was captured, feeds that to the echo canceller
(:mod:`agent.hearing.speex`) as the far-end reference, passes the result through
WebRTC's noise suppression and gain control when they are on
(:mod:`agent.hearing.apm`), and replaces the chunk with the cleaned audio. Positions and
lengths are unchanged, so the ring and the pre-roll work as before.

Capture time. A frame's position is audio time; the reference is stamped with
the clock. The processor ties the two with an anchor: the clock when a frame was
read, minus the audio after its first sample. Reads are only ever late (a
queue, a busy thread), never early, so the anchor follows the earliest reads
and is moved only when every read of the last few seconds was later than it
(clock drift between the sound card and the CPU), or after a gap. Between
moves, consecutive chunks map to consecutive reference samples: the delay the
canceller sees stays constant.

Delay. The :class:`~agent.hearing.echo_delay.DelayEstimator` measures how
late the echo comes back (the room, plus the sink's buffer); the reference is
then read that much earlier, less a 10 ms margin, so the canceller's filter
spends its length on the room's reverberation, not on the delay. A change of
the estimate by more than 10 ms moves the reference and restarts the filter.

Idle bypass. Chunks captured while nothing has played for ``tail_s`` skip the
canceller: an idle device costs nothing, and what it hears is bit-exact. Noise
suppression and auto gain, when on, process every chunk.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Protocol

import numpy as np

from agent.audio.frames import SAMPLE_RATE, Frame
from agent.audio.reference import ReferenceTimeline
from agent.hearing.apm import CHUNK
from agent.hearing.echo_delay import DelayEstimate, DelayEstimator

log = logging.getLogger(__name__)

DRIFT_WINDOW_S = 5.0  # how long every read must have been late before the anchor moves
DRIFT_SLACK_S = 0.03  # ... and by at least this much
MARGIN_MS = 10.0  # the reference is moved to lead the echo by this much
MOVE_MS = 40.0  # a delay estimate this far from the current one restarts the canceller
MOVE_CONFIDENCE = 16.0  # a restart needs a clearer peak than a first estimate (8)
PROBE_S = 0.5  # of echo at a reply's start, to find how far the echo path moved
PROBE_MS = 25.0  # the largest move the probe looks for, each way
PROBE_MATCH = 0.5  # correlation the predicted echo must reach for the probe to count


class Canceller(Protocol):
    """What the processor needs of :class:`~agent.hearing.speex.SpeexEchoCanceller`."""

    def cancel(self, near: np.ndarray, far: np.ndarray) -> np.ndarray: ...

    def reset(self) -> None: ...


class Cleaner(Protocol):
    """What the processor needs of :class:`~agent.hearing.apm.WebRtcApm`."""

    def process(self, near: np.ndarray) -> np.ndarray: ...


class CaptureProcessor:
    """Cleans captured frames; see the module docstring.

    Args:
        canceller: the echo canceller, or None (no echo cancellation).
        cleaner: noise suppression and/or auto gain, or None.
        timeline: what the speaker played (required with a canceller).
        tail_s: how long after the last played sample the canceller keeps
            running (the room's reverberation and the sink's buffer).
    """

    def __init__(
        self,
        canceller: Canceller | None,
        cleaner: Cleaner | None,
        timeline: ReferenceTimeline | None,
        *,
        tail_s: float = 1.0,
        delay: DelayEstimator | None = None,
    ) -> None:
        if canceller is not None and timeline is None:
            raise ValueError("echo cancellation needs a reference timeline")
        self.canceller = canceller
        self.cleaner = cleaner
        self.timeline = timeline
        self.tail_s = tail_s
        self.delay = delay if delay is not None else DelayEstimator()
        self.shift = 0
        """Samples by which the reference is read earlier (the estimated delay less a margin)."""
        self._anchor: tuple[int, float] | None = None  # (position, clock of that sample)
        self._lateness: deque[tuple[int, float]] = deque()  # (position, read lateness)
        self.chunks_processed = 0
        self.chunks_bypassed = 0
        self.active = False
        """Whether the canceller ran on the last chunk (False: bypassed, nothing played)."""
        self._logged_delay: float | None = None
        self._aligned = False  # a delay estimate has placed the reference
        self._probe: list[np.ndarray] | None = None  # raw chunks at a reply's start
        self._probe_at = 0.0  # capture time of the probe's first chunk
        self.chunks_held = 0

    @property
    def echo_cancel(self) -> bool:
        """Whether echo cancellation runs."""
        return self.canceller is not None

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
        if self.cleaner is None and self._idle(frame.position):
            # Nothing played for tail_s before the frame's first sample (so before any
            # of its chunks): the frame itself goes on, no copy, no per-chunk work.
            self.chunks_bypassed += -(-len(frame.samples) // CHUNK)
            return frame
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
        if self.canceller is not None:
            chunk = self._cancel(self.canceller, chunk, position)
        if self.cleaner is not None:
            chunk = self.cleaner.process(chunk)
        return chunk

    def _follow(self, found: DelayEstimate, canceller: Canceller) -> None:
        """Move the reference to a new delay estimate (and say so at INFO)."""
        shift = max(0, int(round((found.delay_ms - MARGIN_MS) * SAMPLE_RATE / 1000)))
        change = shift - self.shift
        # The first estimate, or a large change (another room, a new device), places
        # the reference and starts the filter again. Small moves (a sink's start-up
        # latency from one reply to the next, clock drift) are left to the probe at
        # each reply's start, which keeps the learnt filter valid.
        large = abs(change) > MOVE_MS * SAMPLE_RATE / 1000
        if self._aligned and large and found.confidence < MOVE_CONFIDENCE:
            # Double talk or a quiet reply give weak peaks anywhere; through PortAudio
            # they moved a right reference by hundreds of ms. A weak one is ignored.
            action, shift = f": ignored (peak under {MOVE_CONFIDENCE:g})", self.shift
        elif not self._aligned or large:
            action = ": reference moved, canceller restarted"
            canceller.reset()
            self._aligned = True
        else:  # small moves are the probe's (GCC-PHAT can pick a reflection by some ms)
            action, shift = "", self.shift
        if action or self._logged_delay is None or abs(found.delay_ms - self._logged_delay) >= 1:
            # A miss should be explainable from the log: every change of the estimate.
            log.info("echo delay estimate %.1f ms (echo %.1f dB re. reference, peak %.1f)%s",
                     found.delay_ms, found.level_db, found.confidence, action)
            self._logged_delay = found.delay_ms
        self.shift = shift

    def _probe_lag(self, canceller: Canceller) -> int:
        """How many samples later the echo comes than the learnt filter expects (0: unsure).

        The filter's impulse response, convolved with the reference, predicts the
        echo; the lag at which the prediction best matches the raw microphone is
        the move. Reflections are part of the prediction, so the match is sharp.
        """
        assert self.timeline is not None and self._probe is not None
        near = np.concatenate(self._probe).astype(np.float64)
        h = canceller.impulse_response()  # type: ignore[attr-defined]
        reach = int(PROBE_MS * SAMPLE_RATE / 1000)
        span = len(h) - 1 + reach
        start = self._probe_at - (self.shift + span) / SAMPLE_RATE
        far = self.timeline.read(start, len(near) + span + reach).astype(np.float64)
        if not far.any() or not near.any() or not h.any():
            return 0
        pred = _fft_valid(far, h)  # pred[reach + i] goes with near[i]
        corr = _fft_valid(pred, near[::-1])  # corr[k]: lag reach - k
        k = int(np.argmax(corr))
        energy = np.sqrt(np.dot(near, near) * np.dot(pred[k : k + len(near)],
                                                     pred[k : k + len(near)]))
        if energy <= 0 or corr[k] / energy < PROBE_MATCH:
            return 0
        return reach - k

    def _idle(self, position: int) -> bool:
        """Whether the canceller has nothing to do from ``position`` on (and log it once)."""
        if self.canceller is None or self.timeline is None:
            return True
        if self.timeline.active(self.capture_time(position) - self.tail_s):
            return False
        if self.active:
            self.active = False
            log.info("echo canceller idle (nothing played for %.1f s): bypassed, bit-exact",
                     self.tail_s)
        return True

    def _cancel(self, canceller: Canceller, chunk: np.ndarray, position: int) -> np.ndarray:
        assert self.timeline is not None
        when = self.capture_time(position)
        if not self.timeline.active(when - self.tail_s):
            self.chunks_bypassed += 1
            if self.active:
                self.active = False
                log.info("echo canceller idle (nothing played for %.1f s): bypassed, bit-exact",
                         self.tail_s)
            return chunk
        if not self.active:
            self.active = True
            # The sink's start-up moves the echo by some ms from one reply to the next.
            # Before the canceller learns a misaligned echo over its converged filter,
            # a probe finds how far it moved (see _probe_lag); the raw audio goes on.
            if self._aligned and hasattr(canceller, "impulse_response"):
                self._probe = []
                self._probe_at = when
            log.info("echo canceller active: reference read %.0f ms early (delay estimate %s)",
                     self.shift * 1000 / SAMPLE_RATE,
                     "none yet" if self.delay.estimate is None
                     else f"{self.delay.estimate.delay_ms:.0f} ms")
        now = self.timeline.read(when, CHUNK)  # what played at this very moment
        found = self.delay.push(now, chunk, self.timeline.active(when))
        if found is not None:
            self._follow(found, canceller)
        if self._probe is not None:
            self._probe.append(chunk)
            self.chunks_held += 1
            if len(self._probe) * CHUNK >= self.shift + PROBE_S * SAMPLE_RATE:
                lag = self._probe_lag(canceller)
                self._probe = None
                if lag:
                    log.info("echo path moved %+.1f ms since the last reply: reference "
                             "realigned, filter kept", lag * 1000 / SAMPLE_RATE)
                    self.shift = max(0, self.shift + lag)
            return chunk
        far = self.timeline.read(when - self.shift / SAMPLE_RATE, CHUNK) if self.shift else now
        self.chunks_processed += 1
        return canceller.cancel(chunk, far)


def _fft_valid(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """``np.convolve(x, h, "valid")`` by FFT (len(x) >= len(h))."""
    n = 1 << int(np.ceil(np.log2(len(x) + len(h))))
    y = np.fft.irfft(np.fft.rfft(x, n) * np.fft.rfft(h, n), n)
    return y[len(h) - 1 : len(x)]
