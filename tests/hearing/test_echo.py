"""The echo canceller's parts, offline: the reference timeline and tap, the delay
estimate, the processor's capture clock and bypass, and the config keys.

These drive :class:`CaptureProcessor` with explicit clock values (the timeline's
stamps and the frames' read times), so nothing waits on the wall clock; the
end-to-end run with the real daemon in real time is tests/device/test_daemon_room.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from simulated_room import Acoustics, render_echo

from agent.audio.frames import Frame
from agent.audio.reference import ReferenceTap, ReferenceTimeline
from agent.common.settings_values import ConfigError
from agent.config.load import load_config, parse_config
from agent.hearing.echo import CaptureProcessor
from agent.hearing.echo_delay import estimate_delay
from agent.hearing.speex import SpeexEchoCanceller

RATE = 16000
T0 = 1000.0


def speechlike(seconds: float, seed: int = 0) -> np.ndarray:
    """Amplitude-modulated coloured noise: broadband like speech, with pauses."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    x = np.convolve(rng.standard_normal(n), np.ones(4) / 2, mode="same")
    envelope = np.clip(np.sin(np.arange(n) * 2 * np.pi * 3 / RATE), 0, None)
    return np.clip(x * envelope * 4000, -32768, 32767).astype(np.int16)


def db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.square(x.astype(np.float64))) + 1e-9))


def played_timeline(played: np.ndarray, lag_s: float = 0.0) -> ReferenceTimeline:
    """``played`` stamped block by block as a paced speaker would, from T0 - lag_s."""
    timeline = ReferenceTimeline(keep_s=3600)
    for i in range(0, len(played), 640):
        timeline.add(T0 - lag_s + i / RATE, played[i : i + 640])
    return timeline


def run(proc: CaptureProcessor, mic: np.ndarray) -> np.ndarray:
    out = np.zeros_like(mic)
    for p in range(0, len(mic) - 1279, 1280):
        frame = proc.process(Frame(mic[p : p + 1280], p), T0 + (p + 1280) / RATE)
        assert frame.position == p and len(frame.samples) == 1280
        out[p : p + 1280] = frame.samples
    return out


def test_timeline_keeps_back_to_back_writes_contiguous_and_cuts_on_interrupt() -> None:
    timeline = ReferenceTimeline()
    a, b = np.arange(1, 641, dtype=np.int16), np.arange(641, 1281, dtype=np.int16)
    timeline.add(T0, a)
    timeline.add(T0 + 0.043, b)  # 3 ms late by the clock: still the same run
    np.testing.assert_array_equal(timeline.read(T0, 1280), np.concatenate((a, b)))
    timeline.cut(T0 + 0.05)  # silenced after 800 samples
    got = timeline.read(T0, 1280)
    np.testing.assert_array_equal(got[:800], np.arange(1, 801))
    assert not got[800:].any()
    assert not timeline.read(T0 + 10, 160).any()


class _Sink:
    rate = 48000

    def __init__(self) -> None:
        self.written: list[np.ndarray] = []

    def write(self, samples: np.ndarray) -> None:
        self.written.append(samples)

    def drain(self) -> None: ...

    def interrupt(self) -> None: ...

    def close(self) -> None: ...


def test_tap_passes_samples_through_and_records_them_at_16k() -> None:
    sink, timeline = _Sink(), ReferenceTimeline()
    clock = iter([T0, T0 + 0.04])
    tap = ReferenceTap(sink, timeline, clock=lambda: next(clock))
    block = (np.sin(np.arange(1920) * 2 * np.pi * 440 / 48000) * 10000).astype(np.int16)
    tap.write(block)
    tap.write(block)
    assert all(w is block for w in sink.written)  # the sink gets exactly what was written
    ref = timeline.read(T0, 1280)
    # 80 ms at 48 kHz became 16 kHz samples (less the streaming resampler's latency),
    # still a 440 Hz tone:
    heard = ref[np.flatnonzero(ref)]
    assert 900 < len(heard) <= 1280
    spectrum = np.abs(np.fft.rfft(heard[:512] * np.hanning(512)))
    assert abs(int(np.argmax(spectrum)) * RATE / 512 - 440) < 40
    assert tap.rate == 48000


@pytest.mark.parametrize("delay_ms", [20, 60, 120])
def test_delay_estimate_finds_the_room_delay(delay_ms: int) -> None:
    far = speechlike(3.0)
    near = render_echo(far, Acoustics(delay_ms=delay_ms, tail_ms=300, echo_gain=0.5))
    found = estimate_delay(far, near)
    assert found is not None and abs(found.delay_ms - delay_ms) <= 1.0
    assert estimate_delay(np.zeros(1000, np.int16), near[:1000]) is None


def test_processor_cancels_the_echo_and_moves_the_reference_by_the_delay() -> None:
    played = speechlike(12.0)
    room = Acoustics(delay_ms=80, tail_ms=250, echo_gain=1.0, noise_dbfs=None)
    mic = np.clip(np.rint(render_echo(played, room)), -32768, 32767).astype(np.int16)
    proc = CaptureProcessor(SpeexEchoCanceller(), None, played_timeline(played))
    out = run(proc, mic)
    last = slice(8 * RATE, 12 * RATE - 1280)
    assert db(mic[last]) - db(out[last]) >= 15.0  # echo return loss enhancement, converged
    assert proc.delay.estimate is not None
    assert abs(proc.delay.estimate.delay_ms - 80) <= 2
    assert proc.shift == round((80 - 10) * RATE / 1000)
    assert proc.chunks_bypassed == 0


def test_processor_is_bit_exact_while_nothing_plays() -> None:
    mic = speechlike(3.0, seed=3)
    timeline = ReferenceTimeline()
    proc = CaptureProcessor(SpeexEchoCanceller(), None, timeline)
    np.testing.assert_array_equal(run(proc, mic), mic)
    assert proc.chunks_processed == 0


def test_processor_follows_the_earliest_read_for_the_capture_clock() -> None:
    proc = CaptureProcessor(SpeexEchoCanceller(), None, ReferenceTimeline())
    frame = Frame(np.zeros(1280, np.int16), 0)
    proc.process(frame, T0 + 0.2)  # read late (a queue)
    proc.process(Frame(np.zeros(1280, np.int16), 1280), T0 + 0.16)  # on time
    assert proc.capture_time(1280) == pytest.approx(T0 + 0.08)


def write(tmp_path: Path, audio: dict[str, object]) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump({"gateway": {"url": "ws://127.0.0.1:1/a"}, "audio": audio}))
    return path


def test_config_keys_and_defaults(tmp_path: Path) -> None:
    base = {"gateway": {"url": "ws://127.0.0.1:1/a"}}
    s = parse_config(base, "t")
    assert s.audio.echo_cancel == "auto" and s.audio.echo_cancel_on  # a real output device
    assert not s.audio.noise_suppression and not s.audio.auto_gain
    to_file = parse_config({**base, "audio": {"output": {"file": str(tmp_path / "o.wav")}}}, "t")
    assert not to_file.audio.echo_cancel_on and not to_file.audio.processing_on
    forced = parse_config({**base, "audio": {"echo_cancel": False, "auto_gain": True}}, "t")
    assert not forced.audio.echo_cancel_on and forced.audio.processing_on


@pytest.mark.parametrize(
    ("audio", "key"),
    [({"echo_cancel": "yes"}, "audio.echo_cancel"),
     ({"noise_suppression": 1}, "audio.noise_suppression"),
     ({"auto_gain": "on"}, "audio.auto_gain")],
)
def test_bad_values_name_the_key(tmp_path: Path, audio: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, audio))
    assert info.value.exit_code == 78
    assert f": {key}: expected" in str(info.value) and "\n" not in str(info.value)


def test_noise_suppression_and_auto_gain_run_on_the_same_path() -> None:
    from agent.hearing.apm import WebRtcApm  # livekit: in the test extra


    rng = np.random.default_rng(5)
    noise = (rng.standard_normal(6 * RATE) * 300).astype(np.int16)  # steady hiss
    ns = CaptureProcessor(None, WebRtcApm(noise_suppression=True, auto_gain=False), None)
    out = run(ns, noise)
    assert db(noise[3 * RATE :]) - db(out[3 * RATE :]) >= 6.0  # the hiss is suppressed
    quiet = (speechlike(6.0, seed=9) // 30).astype(np.int16)  # about -50 dBFS
    agc = CaptureProcessor(None, WebRtcApm(noise_suppression=False, auto_gain=True), None)
    louder = run(agc, quiet)
    assert db(louder[3 * RATE :]) - db(quiet[3 * RATE :]) >= 3.0  # brought up
