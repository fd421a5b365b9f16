"""The echo front end across replies: the per-reply probe, the log, residual suppression.

Offline, with explicit clock values (reference stamps and frame read times) and
the real libspeexdsp; nothing waits on the wall clock. The rooms here are
plain convolutions written in the test, so a failure points at the code, not
at a room model.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

from agent.audio.frames import Frame
from agent.audio.reference import ReferenceTimeline
from agent.hearing.echo import CaptureProcessor
from agent.hearing.speex import SpeexEchoCanceller

RATE = 16000
T0 = 1000.0
DELAY = 800  # 50 ms: speaker to microphone, with the sink's buffer


def speechlike(seconds: float, seed: int) -> np.ndarray:
    """Amplitude-modulated coloured noise: broadband like speech, with pauses."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    x = np.convolve(rng.standard_normal(n), np.ones(4) / 2, mode="same")
    envelope = 0.2 + np.clip(np.sin(np.arange(n) * 2 * np.pi * 3 / RATE), 0, None)
    return np.clip(x * envelope * 4000, -32768, 32767).astype(np.int16)


def db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.square(x.astype(np.float64))) + 1e-9))


def room_ir() -> np.ndarray:
    """A direct path and two reflections (within the canceller's 128 ms filter)."""
    h = np.zeros(1200)
    h[0], h[200], h[700] = 0.8, -0.35, 0.2
    return h


def session(moves_ms: list[float]) -> tuple[np.ndarray, list[tuple[float, np.ndarray]], list]:
    """Replies 4 s long, 3 s apart; reply i's echo comes ``moves_ms[i]`` later than the first's.

    Returns the microphone, the reference blocks (stamp, samples) as the player
    writes them, and each reply's (start sample, samples).
    """
    replies, blocks = [], []
    n = int((len(moves_ms) * 7 + 1) * RATE)
    mic = np.zeros(n)
    for i, move in enumerate(moves_ms):
        played = speechlike(4.0, seed=i)
        start = int((1 + 7 * i) * RATE)
        for k in range(0, len(played), 640):
            blocks.append((T0 + (start + k) / RATE, played[k : k + 640]))
        echo = np.convolve(played.astype(np.float64), room_ir())
        at = start + DELAY + int(round(move * RATE / 1000))
        mic[at : at + len(echo)] += echo
        replies.append((at, played))
    return np.clip(np.rint(mic), -32768, 32767).astype(np.int16), blocks, replies


def run(proc: CaptureProcessor, mic: np.ndarray, blocks: list) -> np.ndarray:
    """Frames read on time; each reference block reaches the timeline at its stamp."""
    assert proc.timeline is not None
    out = np.zeros_like(mic)
    b = 0
    for p in range(0, len(mic) - 1279, 1280):
        read = T0 + (p + 1280) / RATE
        while b < len(blocks) and blocks[b][0] <= read:
            proc.timeline.add(*blocks[b])
            b += 1
        out[p : p + 1280] = proc.process(Frame(mic[p : p + 1280], p), read).samples
    return out


def erle(mic: np.ndarray, out: np.ndarray, at: int) -> float:
    """Echo reduction over the last 2 s of the reply whose echo starts at ``at``."""
    part = slice(at + 2 * RATE, at + 4 * RATE)
    return db(mic[part]) - db(out[part])


def test_a_moved_echo_path_is_found_at_the_next_reply_and_the_filter_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The second reply comes 6 ms later (a sink's start-up), the third 3 ms earlier.
    mic, blocks, replies = session([0.0, 6.0, -3.0])
    proc = CaptureProcessor(SpeexEchoCanceller(), None, ReferenceTimeline())
    with caplog.at_level(logging.INFO, logger="agent.hearing.echo"):
        out = run(proc, mic, blocks)
    text = caplog.text
    assert "echo delay estimate" in text and "canceller restarted" in text  # the first
    assert text.count("canceller restarted") == 1  # small moves keep the filter
    assert "echo path moved +6.0 ms" in text
    assert "echo path moved -9.0 ms" in text  # -3 ms against the second reply's +6
    assert "echo canceller active" in text and "echo canceller idle" in text
    # The reference follows the echo: the filter learnt on the first reply still fits.
    for at, _ in replies[1:]:
        assert erle(mic, out, at) >= 25.0
    # Idle stretches between replies are untouched (bit-exact).
    gap = slice(replies[0][0] + 4 * RATE + RATE + 2 * RATE, replies[1][0] - RATE)
    assert np.array_equal(out[gap], mic[gap])


def test_without_the_probe_a_moved_echo_path_costs_the_filter() -> None:
    """The same session with the probe's result thrown away: the 6 ms move hurts.

    (Shows the test above measures the probe, not an easy room.)
    """
    mic, blocks, replies = session([0.0, 6.0])
    proc = CaptureProcessor(SpeexEchoCanceller(), None, ReferenceTimeline())
    proc._probe_lag = lambda canceller: 0  # type: ignore[method-assign]
    out = run(proc, mic, blocks)
    with_probe = CaptureProcessor(SpeexEchoCanceller(), None, ReferenceTimeline())
    out_probe = run(with_probe, mic, blocks)
    at = replies[1][0]
    assert erle(mic, out_probe, at) >= erle(mic, out, at) + 6.0


def test_residual_echo_suppression_takes_out_what_the_linear_filter_leaves() -> None:
    """A clipping loudspeaker: the linear filter leaves the distortion; the suppressor more."""
    far = speechlike(8.0, seed=3)
    near = np.tanh(np.convolve(far.astype(np.float64), room_ir())[: len(far)] / 6000) * 6000
    near16 = np.clip(np.rint(near), -32768, 32767).astype(np.int16)
    results = {}
    for residual in (None, -40):
        canceller = SpeexEchoCanceller(residual_db=residual)
        out = np.concatenate(
            [canceller.cancel(near16[i : i + 160], far[i : i + 160])
             for i in range(0, len(far) - 159, 160)]
        )
        half = len(out) // 2
        results[residual] = db(near16[half : len(out)]) - db(out[half:])
        canceller.close()
    assert results[-40] >= results[None] + 6.0


def test_echo_suppression_key_builds_the_suppressor_and_names_itself_when_bad() -> None:
    from agent.audio.sinks import FileSink
    from agent.common.settings_values import ConfigError
    from agent.config.load import parse_config
    from agent.hearing.front_end import RESIDUAL_DB, build_front_end

    base = {"gateway": {"url": "ws://127.0.0.1:1/a"}}
    assert parse_config(base, "t").audio.echo_suppression is False  # off by default
    on = parse_config({**base, "audio": {"echo_cancel": True, "echo_suppression": True}}, "t")
    with pytest.raises(ConfigError) as info:
        parse_config({**base, "audio": {"echo_suppression": "yes"}}, "t")
    assert info.value.exit_code == 78 and ": audio.echo_suppression: expected" in str(info.value)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        sink = FileSink(f"{tmp}/out.wav", realtime=False)
        front = build_front_end(on.audio, sink)
        assert front.processor is not None
        canceller = front.processor.canceller
        assert isinstance(canceller, SpeexEchoCanceller) and canceller.residual_db == RESIDUAL_DB
        off = parse_config({**base, "audio": {"echo_cancel": True}}, "t")
        plain = build_front_end(off.audio, sink).processor
        assert plain is not None and plain.canceller.residual_db is None  # type: ignore[union-attr]
        sink.close()


def test_a_weak_delay_peak_does_not_move_a_placed_reference(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from agent.hearing.echo_delay import DelayEstimate

    canceller = SpeexEchoCanceller()
    proc = CaptureProcessor(canceller, None, ReferenceTimeline())
    with caplog.at_level(logging.INFO, logger="agent.hearing.echo"):
        proc._follow(DelayEstimate(450.0, -6.0, 9.0), canceller)  # the first places it
        placed = proc.shift
        proc._follow(DelayEstimate(54.0, -7.0, 9.3), canceller)  # double talk: weak
        assert proc.shift == placed
        proc._follow(DelayEstimate(180.0, -5.0, 25.0), canceller)  # a clear move
    assert proc.shift == int(round((180.0 - 10.0) * RATE / 1000))
    assert "ignored (peak under 16)" in caplog.text
    assert caplog.text.count("canceller restarted") == 2
