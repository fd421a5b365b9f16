"""The doctor's echo check: play a chirp, hear it come back, cancel it.

:func:`check_echo` plays two logarithmic chirps (200 Hz to 6 kHz) and then 4 s of
speech-shaped noise through a sink while it records the microphone, then
reports how late and how loud the sound came back (the echo delay, from what
the sink was given to what the capture read, and the echo level relative to
what was played) and whether the echo canceller converges: its echo return
loss enhancement over the last second. (Speex's adaptive filter learns a room
slowly from chirps alone, which excite one frequency at a time: 4-7 dB after
five seconds of them in the simulated room, against 15 dB or more from the
noise.) It needs a speaker and a microphone in one room; here it is tested in
the simulated room of the tests (``tests/simulated_room.py``), which stands in
for both.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

import numpy as np

from agent.audio.frames import SAMPLE_RATE, Frame, Source
from agent.audio.reference import ReferenceTap, ReferenceTimeline
from agent.audio.sinks import Sink
from agent.doctor.report import Check, fmt_db
from agent.hearing.apm import ApmUnavailable
from agent.hearing.echo import MARGIN_MS, CaptureProcessor
from agent.hearing.echo_delay import DelayEstimator, estimate_delay
from agent.hearing.speex import SpeexEchoCanceller

CHIRP_S = 0.5
GAP_S = 0.1
CHIRPS = 2
NOISE_S = 4.0
CONVERGED_DB = 10.0
"""ERLE over the last second that counts as converged."""


def chirp(seconds: float = CHIRP_S, level_dbfs: float = -12.0) -> np.ndarray:
    """A logarithmic sweep, 200 Hz to 6 kHz, with 10 ms fades, as int16."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    f0, f1 = 200.0, 6000.0
    k = math.log(f1 / f0)
    x = np.sin(2 * math.pi * f0 * seconds / k * (np.exp(t / seconds * k) - 1))
    fade = np.minimum(1.0, np.minimum(t, seconds - t) / 0.01)
    return (x * fade * 32768 * 10 ** (level_dbfs / 20) * math.sqrt(2)).astype(np.int16)


def speech_noise(seconds: float = NOISE_S, level_dbfs: float = -18.0) -> np.ndarray:
    """Low-passed noise in syllable-like bursts (3 per second), as int16."""
    rng = np.random.default_rng(7)
    n = int(seconds * SAMPLE_RATE)
    x = np.convolve(rng.standard_normal(n), np.ones(4) / 2, mode="same")
    x *= 0.3 + np.abs(np.sin(np.arange(n) * math.pi * 3 / SAMPLE_RATE))
    x *= 32768 * 10 ** (level_dbfs / 20) / math.sqrt(float(np.mean(x * x)))
    return np.clip(x, -32768, 32767).astype(np.int16)


def _db(x: np.ndarray) -> float:
    ms = float(np.mean(np.square(x.astype(np.float64)))) if len(x) else 0.0
    return 10 * math.log10(ms) if ms > 0 else -math.inf


def check_echo(
    source: Source, sink: Sink, clock: Callable[[], float] = time.monotonic
) -> Check:
    """Play the chirps on ``sink``, record ``source``; report delay, level, convergence."""
    name = "echo"
    try:
        canceller = SpeexEchoCanceller()
    except ApmUnavailable as exc:
        return Check(name, False, str(exc), "apt-get install libspeexdsp1")
    timeline = ReferenceTimeline(keep_s=30)
    tap = ReferenceTap(sink, timeline, clock)
    one = np.concatenate((chirp(), np.zeros(int(GAP_S * SAMPLE_RATE), np.int16)))
    played = np.concatenate([one] * CHIRPS + [speech_noise()])
    block = SAMPLE_RATE // 25

    def play() -> None:
        for i in range(0, len(played), block):
            tap.write(played[i : i + block])

    captured: list[tuple[Frame, float]] = []
    first = source.read()
    if first is None:
        return Check(name, False, "the microphone gave no audio", "see the microphone check")
    captured.append((first, clock()))
    player = threading.Thread(target=play, name="doctor-chirp", daemon=True)
    player.start()
    want = len(played) + SAMPLE_RATE  # and one second for the echo to come back
    got = 0
    while got < want:
        frame = source.read()
        if frame is None:
            break
        captured.append((frame, clock()))
        got += len(frame.samples)
    player.join(timeout=10)
    # Pass 1: tie the frames to the clock and measure the delay on the raw audio.
    clocking = CaptureProcessor(canceller, None, timeline, delay=DelayEstimator(every_s=1e9))
    mic, far = [], []
    for frame, when in captured:
        clocking._update_anchor(frame, when)
        mic.append(frame.samples)
        far.append(timeline.read(clocking.capture_time(frame.position), len(frame.samples)))
    m, f = np.concatenate(mic), np.concatenate(far)
    found = estimate_delay(f, m)
    if found is None or found.confidence < 8.0:
        return Check(
            name, None, "the chirp was not heard back: no echo to cancel",
            "check that the speaker and the microphone are in the same room and not muted",
        )
    # Pass 2: the canceller, as the daemon runs it, with the delay taken out.
    canceller.reset()
    proc = CaptureProcessor(canceller, None, timeline, delay=DelayEstimator(every_s=1e9))
    proc.shift = max(0, int(round((found.delay_ms - MARGIN_MS) * SAMPLE_RATE / 1000)))
    o = np.concatenate([proc.process(frame, when).samples for frame, when in captured])
    last = slice(len(m) - 2 * SAMPLE_RATE, len(m) - SAMPLE_RATE)  # the noise's last second
    erle = _db(m[last]) - _db(o[last])
    detail = (
        f"delay {found.delay_ms:.0f} ms, level {fmt_db(found.level_db)} dB re. played; "
        f"echo canceller {'converged' if erle >= CONVERGED_DB else 'did not converge'}: "
        f"{fmt_db(erle)} dB less echo after 4 s"
    )
    if erle < CONVERGED_DB:
        return Check(name, False, detail, "lower the volume or move the speaker from the mic")
    return Check(name, True, detail)
