"""Pre-roll ring buffer and Chunker: sample-exact pre-roll, continuity and skip windows."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.audio.frames import Frame
from agent.audio.ring import Chunker, NotHeldError, RingBuffer
from agent.audio.sounds import builtin_sound, chime_window


def _signal(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(-32768, 32767, n, dtype=np.int16)


def _frames(sig: np.ndarray, sizes: list[int], start: int = 0) -> list[Frame]:
    out = []
    pos = 0
    i = 0
    while pos < len(sig):
        n = sizes[i % len(sizes)]
        out.append(Frame(sig[pos : pos + n].copy(), start + pos))
        pos += n
        i += 1
    return out


def test_ring_reads_exact_ranges_across_wraparound() -> None:
    sig = _signal(10_000)
    ring = RingBuffer(capacity=3000)
    for frame in _frames(sig, [1280, 700, 1]):
        ring.append(frame)
    assert ring.end == 10_000 and ring.start == 7000
    for a, b in [(7000, 10_000), (7001, 9999), (8000, 8000), (9999, 10_000), (7500, 9100)]:
        np.testing.assert_array_equal(ring.read(a, b), sig[a:b])


def test_ring_raises_for_samples_no_longer_or_not_yet_held() -> None:
    sig = _signal(5000)
    ring = RingBuffer(capacity=2000)
    for frame in _frames(sig, [1280]):
        ring.append(frame)
    with pytest.raises(NotHeldError):
        ring.read(2999, 3500)  # one sample too old
    with pytest.raises(NotHeldError):
        ring.read(4500, 5001)  # one sample in the future
    np.testing.assert_array_equal(ring.read(3000, 5000), sig[3000:5000])


def test_ring_starts_at_first_frame_position_and_a_gap_empties_it() -> None:
    ring = RingBuffer(capacity=4000)
    ring.append(Frame(np.arange(100, dtype=np.int16), 500))
    assert (ring.start, ring.end) == (500, 600)
    ring.append(Frame(np.arange(100, dtype=np.int16), 700, gap=100))
    assert (ring.start, ring.end) == (700, 800)
    with pytest.raises(NotHeldError):
        ring.read(550, 750)  # across the gap: not one stream
    with pytest.raises(ValueError):
        ring.append(Frame(np.zeros(10, dtype=np.int16), 790))  # overlaps


def test_ring_frame_longer_than_capacity_keeps_newest() -> None:
    sig = _signal(5000)
    ring = RingBuffer(capacity=1000)
    ring.append(Frame(sig, 0))
    assert (ring.start, ring.end) == (4000, 5000)
    np.testing.assert_array_equal(ring.read(4000, 5000), sig[4000:])


@settings(max_examples=150, deadline=None)
@given(
    frame_sizes=st.lists(st.integers(1, 3000), min_size=1, max_size=5).filter(
        lambda sizes: max(sizes) >= 100
    ),
    detect=st.integers(0, 40_000),
    preroll=st.integers(0, 8000),
    chunk=st.integers(1, 4000),
    tail=st.integers(0, 30_000),
    origin=st.integers(0, 10**9),
)
def test_chunks_concatenate_to_the_exact_source_slice(
    frame_sizes: list[int], detect: int, preroll: int, chunk: int, tail: int, origin: int
) -> None:
    """Pre-roll from before the detection point, then everything up to the end, nothing twice."""
    sig = _signal(80_000, seed=len(frame_sizes))
    start = max(0, detect - preroll)
    end = min(len(sig), detect + tail)
    ring = RingBuffer(capacity=preroll + max(frame_sizes) + 1)
    chunker: Chunker | None = None
    chunks: list[np.ndarray] = []
    for frame in _frames(sig, frame_sizes, start=origin):
        ring.append(frame)
        if chunker is None and frame.end - origin >= detect:
            chunker = Chunker(origin + start, chunk)
        if chunker is not None:
            chunks += chunker.take(ring, min(ring.end, origin + end))
        if frame.end - origin >= end and chunker is not None:
            break
    assert chunker is not None
    chunks += chunker.finish(ring, origin + end)
    got = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
    np.testing.assert_array_equal(got, sig[start:end])
    assert all(len(c) == chunk for c in chunks[:-1])
    assert 0 < len(chunks[-1]) <= chunk if chunks else end == start


@settings(max_examples=150, deadline=None)
@given(
    frame_sizes=st.lists(st.integers(1, 2000), min_size=1, max_size=4).filter(
        lambda sizes: max(sizes) >= 100
    ),
    detect=st.integers(8000, 30_000),
    window=st.integers(0, 6000),
    chunk=st.integers(1, 2000),
)
def test_skip_window_is_removed_exactly(
    frame_sizes: list[int], detect: int, window: int, chunk: int
) -> None:
    sig = _signal(60_000, seed=7)
    preroll, end = 8000, detect + 20_000
    ring = RingBuffer(capacity=16_000 + max(frame_sizes))
    chunker: Chunker | None = None
    chunks: list[np.ndarray] = []
    for frame in _frames(sig, frame_sizes):
        ring.append(frame)
        if chunker is None and frame.end >= detect:
            chunker = Chunker(detect - preroll, chunk)
            chunker.skip(detect, detect + window)
        if chunker is not None:
            chunks += chunker.take(ring, min(ring.end, end))
        if frame.end >= end:
            break
    assert chunker is not None
    chunks += chunker.finish(ring, end)
    expected = np.concatenate([sig[detect - preroll : detect], sig[detect + window : end]])
    np.testing.assert_array_equal(np.concatenate(chunks), expected)
    assert chunker.skipped == window
    assert all(len(c) == chunk for c in chunks[:-1])


def test_chime_window_with_builtin_wake_sound() -> None:
    """The policy end to end: pre-roll + audio to D, then audio after the chime window."""
    sig = _signal(64_000, seed=3)
    wake = builtin_sound("wake")
    detect = 24_000
    skip_start, skip_end = chime_window(detect, len(wake), margin_ms=150)
    assert (skip_start, skip_end) == (detect, detect + len(wake) + 2400)
    ring = RingBuffer.for_seconds(2.0)
    chunker = Chunker.for_ms(detect - 8000, 100)
    chunker.skip(skip_start, skip_end)
    chunks: list[np.ndarray] = []
    for frame in _frames(sig, [1280]):
        ring.append(frame)
        if frame.end >= detect - 8000 + 1:
            chunks += chunker.take(ring)
    chunks += chunker.finish(ring)
    assert all(len(c) == 1600 for c in chunks[:-1])
    expected = np.concatenate([sig[detect - 8000 : detect], sig[skip_end:]])
    np.testing.assert_array_equal(np.concatenate(chunks), expected)


def test_no_wake_sound_means_one_contiguous_slice() -> None:
    assert chime_window(1000, 0) == (1000, 1000)
    chunker = Chunker(0, 100)
    chunker.skip(*chime_window(1000, 0))
    ring = RingBuffer(5000)
    sig = _signal(3000)
    ring.append(Frame(sig, 0))
    np.testing.assert_array_equal(np.concatenate(chunker.finish(ring)), sig)


def test_chunker_behind_the_ring_raises_and_keeps_its_state() -> None:
    sig = _signal(10_000)
    ring = RingBuffer(capacity=2000)
    chunker = Chunker(0, 1600)
    ring.append(Frame(sig[:1000], 0))
    assert chunker.take(ring) == []
    for frame in _frames(sig[1000:], [1280], start=1000):
        ring.append(frame)
    with pytest.raises(NotHeldError):
        chunker.take(ring)
    assert chunker.position == 1000


def test_skip_cannot_reach_back_into_taken_samples() -> None:
    ring = RingBuffer(5000)
    ring.append(Frame(_signal(3000), 0))
    chunker = Chunker(0, 100)
    chunker.take(ring, 2000)
    with pytest.raises(ValueError):
        chunker.skip(1500, 2500)
    chunker.skip(2000, 2500)  # from the current position on is fine
    assert sum(len(c) for c in chunker.finish(ring)) == 1000 - 500
