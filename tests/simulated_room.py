"""A simulated room: a speaker and a microphone that hear each other.

Test equipment (not part of the product): for the tests and the benchmark of
echo cancellation (``scripts/bench_echo.py``), where there is no sound card.
:class:`SimulatedRoom` gives a real :class:`~agent.audio.frames.Source`
(:attr:`~SimulatedRoom.source`) and a real :class:`~agent.audio.sinks.Sink`
(:attr:`~SimulatedRoom.sink`) that share one clock, paced in real time like
hardware. What the sink plays goes through a small loudspeaker's soft
clipping (non-linear distortion) and the room's impulse response (a direct
path after ``delay_ms``, early reflections, a decaying reverberation tail of
``tail_ms``) and reaches the microphone at ``echo_gain``, mixed with the
user's voice (:meth:`~SimulatedRoom.say`, placed in room time) and room noise.

Room time is samples at 16 kHz since the room started (the first read or
write); the source's positions are room time, so a test can compare what the
daemon streamed with each part of what the microphone heard
(:attr:`~SimulatedRoom.user`, :attr:`~SimulatedRoom.echo`,
:attr:`~SimulatedRoom.mic`).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from agent.audio.frames import DEFAULT_FRAME_SAMPLES, SAMPLE_RATE, Frame

SLACK = SAMPLE_RATE // 20  # a write within 50 ms of the last one's end continues it


@dataclass(frozen=True)
class Acoustics:
    """How the room carries the speaker to the microphone."""

    delay_ms: float = 60.0
    """Direct path: speaker to microphone (20-120 ms in the benchmark)."""
    tail_ms: float = 250.0
    """Reverberation: the tail decays by 60 dB over this time (150-400 ms)."""
    echo_gain: float = 1.0
    """Linear gain of the echo path (the impulse response has unit energy)."""
    distortion: float = 1.5
    """Loudspeaker soft clipping: y = tanh(k x) / k, k = this (0 = linear)."""
    noise_dbfs: float | None = -60.0
    """Room noise (low-passed white noise) RMS level, or None."""
    seed: int = 0


def impulse_response(a: Acoustics) -> np.ndarray:
    """Direct path, six early reflections and an exponential noise tail; unit energy."""
    rng = np.random.default_rng(a.seed)
    d = int(round(a.delay_ms * SAMPLE_RATE / 1000))
    tail = int(round(a.tail_ms * SAMPLE_RATE / 1000))
    h = np.zeros(d + tail + 1)
    h[d] = 1.0
    for _ in range(6):
        k = d + int(rng.integers(16, max(17, tail // 4)))
        h[k] += rng.uniform(-0.5, 0.5)
    t = np.arange(tail)
    h[d + 1 :] += 0.3 * rng.standard_normal(tail) * np.exp(-t * math.log(1000) / tail)
    return h / math.sqrt(float(np.sum(h * h)))


def loudspeaker(x: np.ndarray, k: float) -> np.ndarray:
    """A small speaker's soft clipping of float audio in -1..1."""
    return np.tanh(k * x) / k if k > 0 else x


def render_echo(played: np.ndarray, acoustics: Acoustics) -> np.ndarray:
    """Offline: the echo (float, at the microphone) of int16 ``played`` in this room.

    The same loudspeaker, impulse response and gain as the real-time room.
    """
    x = loudspeaker(np.asarray(played, np.float32) / 32768, acoustics.distortion) * 32768
    h = impulse_response(acoustics)
    n = 1 << int(math.ceil(math.log2(len(x) + len(h))))
    y = np.fft.irfft(np.fft.rfft(x, n) * np.fft.rfft(h, n), n)[: len(x)]
    return (y * acoustics.echo_gain).astype(np.float32)


def echo_level_gain(user: np.ndarray, reply: np.ndarray, echo_db: float) -> float:
    """The ``echo_gain`` that puts the reply's echo ``echo_db`` over the user's voice.

    Both levels are RMS over their louder half (the spoken parts, not pauses).
    """

    def active_rms(x: np.ndarray) -> float:
        e = np.square(np.asarray(x, np.float64))
        frames = e[: len(e) // 160 * 160].reshape(-1, 160).mean(axis=1)
        loud = frames[frames >= np.median(frames)]
        return math.sqrt(float(loud.mean()))

    return active_rms(user) / active_rms(reply) * 10 ** (echo_db / 20)


class SimulatedRoom:
    """A speaker and a microphone in one room, in real time; see the module docstring."""

    def __init__(
        self,
        acoustics: Acoustics,
        seconds: float,
        *,
        frame_samples: int = DEFAULT_FRAME_SAMPLES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        n = int(seconds * SAMPLE_RATE)
        self.capacity = n
        self.user = np.zeros(n, np.float32)
        """The user's voice as the microphone hears it, by room sample."""
        self.echo = np.zeros(n, np.float32)
        """The speaker's sound as the microphone hears it."""
        self.mic = np.zeros(n, np.int16)
        """What the microphone delivered (user + echo + noise, clipped)."""
        self.emitted = np.zeros(n, np.float32)
        """What the speaker emitted (after its distortion, before the room)."""
        self.frame_samples = frame_samples
        self._clock = clock
        self._cond = threading.Condition()
        self._generation = 0
        self._t0: float | None = None
        self._next_free = 0
        self._closed = False
        self._read_pos = 0
        self._rng = np.random.default_rng(acoustics.seed + 1)
        self._noise_tail = np.zeros(7)
        self.set_acoustics(acoustics)
        self.source = _RoomSource(self)
        self.sink = _RoomSink(self)

    def set_acoustics(self, acoustics: Acoustics) -> None:
        """Change the room (as if the device were moved) from now on. Any thread."""
        ir = impulse_response(acoustics)
        span = len(ir) - 1 + self.frame_samples
        n_fft = 1 << int(math.ceil(math.log2(span + len(ir))))
        # One assignment, so the capture thread never sees half of a change.
        self._path = (acoustics, len(ir), n_fft, np.fft.rfft(ir, n_fft))

    @property
    def acoustics(self) -> Acoustics:
        """The room as it is now."""
        return self._path[0]

    # -- room time ----------------------------------------------------------

    def _start(self) -> float:
        if self._t0 is None:
            self._t0 = self._clock()
        return self._t0

    def now(self) -> int:
        """The current room time in samples (0 before the room started)."""
        with self._cond:
            if self._t0 is None:
                return 0
            return int((self._clock() - self._t0) * SAMPLE_RATE)

    def say(self, samples: np.ndarray, at: int) -> None:
        """The user speaks int16 ``samples`` starting at room sample ``at``."""
        x = np.asarray(samples, np.float32)
        end = min(self.capacity, at + len(x))
        if end > at:
            self.user[at:end] += x[: end - at]

    # -- the speaker ----------------------------------------------------------

    def _play(self, samples: np.ndarray) -> None:
        with self._cond:
            t0 = self._start()
            generation = self._generation
            now = int((self._clock() - t0) * SAMPLE_RATE)
            start = self._next_free if self._next_free >= now - SLACK else now
            x = np.asarray(samples, np.float32) / 32768
            y = loudspeaker(x, self.acoustics.distortion) * 32768
            end = min(self.capacity, start + len(y))
            if end > start:
                self.emitted[start:end] = y[: end - start]
            self._next_free = start + len(y)
            due = t0 + self._next_free / SAMPLE_RATE
            while self._generation == generation and not self._closed:
                left = due - self._clock()
                if left <= 0:
                    break
                self._cond.wait(left)

    def _interrupt(self) -> None:
        with self._cond:
            if self._t0 is not None:
                now = max(0, int((self._clock() - self._t0) * SAMPLE_RATE))
                self.emitted[now : max(now, self._next_free)] = 0
                self._next_free = min(self._next_free, now)
            self._generation += 1
            self._cond.notify_all()

    # -- the microphone ---------------------------------------------------------

    def _read(self) -> Frame | None:
        with self._cond:
            t0 = self._start()
            a = self._read_pos
            b = a + self.frame_samples
            if b > self.capacity:
                return None
            due = t0 + b / SAMPLE_RATE
            while not self._closed:
                left = due - self._clock()
                if left <= 0:
                    break
                self._cond.wait(left)
            if self._closed:
                return None
            self._read_pos = b
        echo = self._echo(a, b)
        self.echo[a:b] = echo
        mixed = self.user[a:b] + echo + self._noise(b - a)
        frame = np.clip(np.rint(mixed), -32768, 32767).astype(np.int16)
        self.mic[a:b] = frame
        return Frame(frame, a)

    def _echo(self, a: int, b: int) -> np.ndarray:
        acoustics, taps, n_fft, ir_fft = self._path
        span = taps - 1
        lo = a - span
        seg = self.emitted[max(0, lo) : b]
        if lo < 0:
            seg = np.concatenate((np.zeros(-lo, np.float32), seg))
        y = np.fft.irfft(np.fft.rfft(seg, n_fft) * ir_fft, n_fft)
        return (y[span : span + (b - a)] * acoustics.echo_gain).astype(np.float32)

    def _noise(self, n: int) -> np.ndarray:
        level = self.acoustics.noise_dbfs
        if level is None:
            return np.zeros(n, np.float32)
        # Low-passed white noise (an 8-tap moving average): room rumble, not hiss.
        white = np.concatenate((self._noise_tail, self._rng.standard_normal(n)))
        self._noise_tail = white[-7:]
        out = np.convolve(white, np.ones(8) / math.sqrt(8), mode="valid")
        return (out * 32768 * 10 ** (level / 20)).astype(np.float32)

    def close(self) -> None:
        """End reads and writes at once."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class _RoomSource:
    """The room's microphone as a :class:`~agent.audio.frames.Source`."""

    def __init__(self, room: SimulatedRoom) -> None:
        self.room = room
        self.frame_samples = room.frame_samples
        self.errors = 0
        self.overflows = 0

    def read(self) -> Frame | None:
        return self.room._read()

    def close(self) -> None:
        self.room.close()


class _RoomSink:
    """The room's speaker as a :class:`~agent.audio.sinks.Sink` (16 kHz, paced)."""

    rate = SAMPLE_RATE

    def __init__(self, room: SimulatedRoom) -> None:
        self.room = room

    def write(self, samples: np.ndarray) -> None:
        self.room._play(samples)

    def drain(self) -> None:
        """Each write already waited for its audio."""

    def interrupt(self) -> None:
        self.room._interrupt()

    def close(self) -> None:
        """The room closes with its source."""
