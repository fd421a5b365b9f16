"""The streamer sends exactly the samples [start, end) in chunk_ms pieces."""

from __future__ import annotations

import numpy as np
import pytest

from agent.device.streamer import Streamer
from agent.link import protocol

SIGNAL = (np.arange(100_000) % 30_000).astype(np.int16)


class ArrayStore:
    """A stand-in ring that holds the whole signal (the real ring has its own tests)."""

    end = len(SIGNAL)

    def read(self, start: int, end: int) -> np.ndarray:
        assert 0 <= start <= end <= len(SIGNAL)
        return SIGNAL[start:end]


def run(start: int, end: int, frame: int, chunk: int, skip: tuple[int, int] | None = None):
    sent: list[protocol.ClientMessage] = []
    s = Streamer(ArrayStore(), lambda m: sent.append(m) or True, chunk)
    assert s.start("t1", start, {"stt": {}}, skip=skip)
    pos = start
    while pos < end:
        pos = min(pos + frame, end)
        s.pump(pos)
    assert s.finish(end) == "t1"
    assert not s.open
    return sent


@pytest.mark.parametrize("frame", [1280, 1000, 1600, 37])
@pytest.mark.parametrize("start,end", [(0, 16000), (7003, 40_111), (5, 6)])
def test_concatenation_is_the_exact_slice(frame: int, start: int, end: int) -> None:
    sent = run(start, end, frame, 1600)
    assert isinstance(sent[0], protocol.AudioStart) and sent[0].options == {"stt": {}}
    assert isinstance(sent[-1], protocol.AudioEnd)
    data = [m for m in sent if isinstance(m, protocol.AudioData)]
    assert all(m.id == "t1" for m in data)
    # every chunk but the last is exactly chunk_ms long
    assert all(len(m.audio) == 3200 for m in data[:-1])
    audio = np.frombuffer(b"".join(m.audio for m in data), dtype="<i2")
    np.testing.assert_array_equal(audio, SIGNAL[start:end])


def test_skip_window_is_cut_exactly() -> None:
    sent = run(1000, 30_000, 1280, 1600, skip=(9000, 12_000))
    audio = np.frombuffer(
        b"".join(m.audio for m in sent if isinstance(m, protocol.AudioData)), dtype="<i2"
    )
    expected = np.concatenate([SIGNAL[1000:9000], SIGNAL[12_000:30_000]])
    np.testing.assert_array_equal(audio, expected)


def test_end_inside_skip_window_sends_only_before_it() -> None:
    sent = run(0, 10_000, 1280, 1600, skip=(8000, 12_000))
    audio = b"".join(m.audio for m in sent if isinstance(m, protocol.AudioData))
    np.testing.assert_array_equal(np.frombuffer(audio, dtype="<i2"), SIGNAL[:8000])


def test_abandon_sends_nothing() -> None:
    sent: list[protocol.ClientMessage] = []
    s = Streamer(ArrayStore(), lambda m: sent.append(m) or True, 1600)
    s.start("t", 0, None)
    assert s.abandon() == "t"
    assert s.finish(5000) is None
    assert sent == [protocol.AudioStart("t", None)]
