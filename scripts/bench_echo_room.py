"""Harder simulated rooms for the echo benchmark, rendered offline with their timing.

Self-contained (NumPy and soxr only), so it does not depend on where the
project's real-time room (test equipment) lives. One :class:`Room` is drawn
from the ranges real rooms and devices show (issue 26):

* acoustic delay 30-150 ms, plus device buffering 20-200 ms between the
  moment the player hands a block to the sink (when the reference is stamped)
  and the moment the speaker plays it, plus 0-10 ms of start-up jitter per
  reply;
* reverberation tails (T60) of 150-500 ms, early reflections within 60 ms;
* a small loudspeaker: band-limited (high-pass 120-300 Hz, low-pass 5-8 kHz)
  with soft clipping (``tanh(k x) / k``, k = 1-3);
* clock drift of up to +-50 ppm for each of speaker and microphone (so up to
  100 ppm between them), rendered by resampling (soxr);
* the reference reaching the canceller in 40 ms blocks stamped when written,
  only once their write time has passed; capture frames (80 ms) read 5-30 ms
  after they end (the card's period) plus scheduling jitter;
* room noise at -60 to -50 dBFS.

:func:`render` turns a list of :class:`Segment` (replies with their echo level,
the user's speech) into the microphone signal, the echo alone, the reference
blocks with their stamps, and each frame's read time, all on the monotonic
clock the daemon's capture processor uses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import soxr

RATE = 16000
BLOCK = 640  # the player's 40 ms blocks
FRAME = 1280  # the capture frames


@dataclass(frozen=True)
class Room:
    """One room and device; see the module docstring for the ranges."""

    seed: int
    acoustic_ms: float
    buffer_ms: float
    tail_ms: float
    low_hz: float
    high_hz: float
    clip_k: float
    speaker_ppm: float
    mic_ppm: float
    noise_dbfs: float
    capture_ms: float

    def describe(self) -> str:
        """One line for the report."""
        return (
            f"delay {self.acoustic_ms:.0f}+{self.buffer_ms:.0f} ms, tail {self.tail_ms:.0f} ms, "
            f"{self.low_hz:.0f}-{self.high_hz / 1000:.1f} kHz, clip k={self.clip_k:.1f}, "
            f"drift {self.speaker_ppm - self.mic_ppm:+.0f} ppm, noise {self.noise_dbfs:.0f} dBFS"
        )


def draw_rooms(n: int, seed: int = 26) -> list[Room]:
    """``n`` rooms drawn uniformly from the ranges; the first four take the range's corners."""
    rng = np.random.default_rng(seed)
    rooms = []
    corners = [(150, 200, 500), (30, 20, 150), (150, 20, 500), (30, 200, 500)]
    for i in range(n):
        acoustic, buffer, tail = corners[i] if i < len(corners) else (
            rng.uniform(30, 150), rng.uniform(20, 200), rng.uniform(150, 500))
        rooms.append(Room(
            seed=seed * 100 + i,
            acoustic_ms=float(acoustic),
            buffer_ms=float(buffer),
            tail_ms=float(tail),
            low_hz=float(rng.uniform(120, 300)),
            high_hz=float(rng.uniform(5000, 8000)),
            clip_k=float(rng.uniform(1.0, 3.0)),
            speaker_ppm=float(rng.choice([-1, 1]) * rng.uniform(25, 50)),
            mic_ppm=float(rng.uniform(-50, 50)),
            noise_dbfs=float(rng.uniform(-60, -50)),
            capture_ms=float(rng.uniform(5, 30)),
        ))
    # Opposite signs at the extreme: 100 ppm between the clocks in the first room.
    first = rooms[0]
    rooms[0] = Room(**{**first.__dict__, "speaker_ppm": 50.0, "mic_ppm": -50.0})
    return rooms


def impulse_response(room: Room) -> np.ndarray:
    """Direct path after the acoustic delay, early reflections, an exponential tail; unit energy."""
    rng = np.random.default_rng(room.seed)
    d = int(round(room.acoustic_ms * RATE / 1000))
    tail = int(round(room.tail_ms * RATE / 1000))
    h = np.zeros(d + tail + 1)
    h[d] = 1.0
    early = min(tail // 3, int(0.06 * RATE))  # early reflections: walls within ~10 m
    for _ in range(8):
        h[d + int(rng.integers(16, max(17, early)))] += rng.uniform(-0.6, 0.6)
    t = np.arange(tail)
    h[d + 1 :] += 0.35 * rng.standard_normal(tail) * np.exp(-t * math.log(1000) / tail)
    return h / math.sqrt(float(np.sum(h * h)))


def loudspeaker(x: np.ndarray, room: Room) -> np.ndarray:
    """Band limits (2nd-order high-pass, 4th-order low-pass, magnitude only), then clipping."""
    n = 1 << int(math.ceil(math.log2(len(x) + 1)))
    f = np.fft.rfftfreq(n, 1 / RATE)
    with np.errstate(divide="ignore"):
        hp = 1 / np.sqrt(1 + (room.low_hz / np.maximum(f, 1e-3)) ** 4)
    lp = 1 / np.sqrt(1 + (f / room.high_hz) ** 8)
    y = np.fft.irfft(np.fft.rfft(x, n) * hp * lp, n)[: len(x)]
    return np.tanh(room.clip_k * y) / room.clip_k


def convolve(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    n = 1 << int(math.ceil(math.log2(len(x) + len(h))))
    return np.fft.irfft(np.fft.rfft(x, n) * np.fft.rfft(h, n), n)[: len(x) + len(h) - 1]


@dataclass
class Segment:
    """Something that happens in the room, at ``at_s`` seconds of room time (the clock)."""

    at_s: float
    samples: np.ndarray  # int16 at 16 kHz
    kind: str  # "reply" (played by the device) or "user" (said in the room)
    echo_gain: float = 1.0  # replies: linear gain of the echo path
    label: dict[str, object] = field(default_factory=dict)


@dataclass
class Rendered:
    """The room's signals on the microphone's sample grid, and the device's timing."""

    mic: np.ndarray  # int16: what the capture source delivers
    echo: np.ndarray  # float: the echo part of it
    user: np.ndarray  # float: the user's part
    blocks: list[tuple[float, np.ndarray]]  # (stamp, int16 16 kHz) as the reference tap sees
    read_times: np.ndarray  # clock when each 80 ms frame is read
    reply_spans: list[tuple[int, int]]  # mic sample where each reply's echo starts / ends


def mic_position(room: Room, t: float) -> float:
    """The microphone sample captured at clock time ``t`` (its clock runs mic_ppm fast)."""
    return t * RATE * (1 + room.mic_ppm * 1e-6)


def render(room: Room, segments: list[Segment], seconds: float) -> Rendered:
    """Render ``segments`` in ``room``; see :class:`Rendered`."""
    rng = np.random.default_rng(room.seed + 7)
    n = int(mic_position(room, seconds))
    echo = np.zeros(n)
    user = np.zeros(n)
    h = impulse_response(room)
    blocks: list[tuple[float, np.ndarray]] = []
    spans = []
    ratio = (1 + room.mic_ppm * 1e-6) / (1 + room.speaker_ppm * 1e-6)
    for seg in segments:
        x = seg.samples.astype(np.float64)
        if seg.kind == "user":
            start = int(round(mic_position(room, seg.at_s)))
            end = min(n, start + len(x))
            user[start:end] += x[: end - start]
            continue
        # The player writes 40 ms blocks: the first ones at once (the sink's buffer
        # fills), then as the speaker frees room, late by a little scheduling jitter.
        buffered = int(room.buffer_ms * RATE / 1000) // BLOCK
        stamp = seg.at_s
        for k in range(0, len(x), BLOCK):
            i = k // BLOCK
            due = seg.at_s + max(0, i - buffered) * BLOCK / (RATE * (1 + room.speaker_ppm * 1e-6))
            stamp = max(stamp, due + float(rng.uniform(0, 0.008)))  # writes stay in order
            blocks.append((stamp, seg.samples[k : k + BLOCK]))
        played_at = seg.at_s + room.buffer_ms / 1000 + float(rng.uniform(0, 0.010))
        y = convolve(loudspeaker(x / 32768, room) * 32768, h) * seg.echo_gain
        # The speaker's clock against the microphone's: resample by their ratio.
        y = soxr.resample(y.astype(np.float32), RATE, RATE * ratio, quality="HQ")
        start = mic_position(room, played_at)
        whole = int(math.floor(start))
        frac = start - whole
        if frac:  # the fractional part of the start, as a phase shift
            m = 1 << int(math.ceil(math.log2(len(y) + 2)))
            f = np.fft.rfftfreq(m)
            y = np.fft.irfft(np.fft.rfft(y, m) * np.exp(-2j * np.pi * f * frac), m)[: len(y) + 1]
        end = min(n, whole + len(y))
        if end > whole:
            echo[whole:end] += y[: end - whole]
        spans.append((whole, min(n, whole + len(seg.samples) + len(h))))
    blocks.sort(key=lambda b: b[0])  # replies do not overlap: each one's blocks stay in order
    noise = rng.standard_normal(n + 7)
    noise = np.convolve(noise, np.ones(8) / math.sqrt(8), mode="valid")[:n]
    noise *= 32768 * 10 ** (room.noise_dbfs / 20)
    mic = np.clip(np.rint(echo + user + noise), -32768, 32767).astype(np.int16)
    frames = n // FRAME
    ends = (np.arange(frames) + 1) * FRAME / (RATE * (1 + room.mic_ppm * 1e-6))
    late = room.capture_ms / 1000 + rng.exponential(0.002, frames)
    late[rng.random(frames) < 0.01] += 0.03  # now and then the capture thread is late
    return Rendered(mic, echo, user, blocks, ends + late, spans)


def echo_gain_for(user: np.ndarray, reply: np.ndarray, room: Room, echo_db: float) -> float:
    """The echo path gain that puts the reply's echo ``echo_db`` over the user's voice.

    Levels are RMS over the louder half of 10 ms blocks (the spoken parts).
    """

    def active_rms(x: np.ndarray) -> float:
        e = np.square(np.asarray(x, np.float64))
        blocks = e[: len(e) // 160 * 160].reshape(-1, 160).mean(axis=1)
        return math.sqrt(float(blocks[blocks >= np.median(blocks)].mean()))

    heard = convolve(loudspeaker(reply.astype(np.float64) / 32768, room) * 32768,
                     impulse_response(room))
    return active_rms(user) / active_rms(heard) * 10 ** (echo_db / 20)
