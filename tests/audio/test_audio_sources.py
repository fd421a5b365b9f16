"""File and command capture sources: conversion to 16 kHz mono, positions, restarts."""

from __future__ import annotations

import os
import shlex
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from agent.audio.frames import Converter, Frame
from agent.audio.sources import CommandSource, FileSource, SourceError, open_source

RATE48 = 48_000


@dataclass(frozen=True)
class _Input:
    """The fields of config's audio.input (the real Settings is built elsewhere)."""

    device: str | int = "default"
    file: str | None = None
    realtime: bool = True
    command: str | None = None
    sample_rate: int = 16000
    channels: int = 1
    channel: int = 0


@pytest.fixture(scope="module")
def stereo48(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, np.ndarray]:
    """3 s of 48 kHz stereo: a 440 Hz tone left, noise-modulated 1.7 kHz right."""
    d = tmp_path_factory.mktemp("stereo48")
    t = np.arange(RATE48 * 3) / RATE48
    rng = np.random.default_rng(5)
    left = 0.4 * np.sin(2 * np.pi * 440 * t)
    right = 0.3 * np.sin(2 * np.pi * 1700 * t) * (0.5 + 0.5 * rng.random(len(t)))
    pcm = np.round(np.stack([left, right], axis=1) * 32767).astype(np.int16)
    wav = d / "stereo48.wav"
    sf.write(wav, pcm, RATE48, subtype="PCM_16")
    raw = d / "stereo48.raw"
    raw.write_bytes(pcm.astype("<i2").tobytes())
    return wav, raw, pcm


def _reference(pcm: np.ndarray, channel: int) -> np.ndarray:
    """soxr's one-shot conversion of the selected channel."""
    out: np.ndarray = soxr.resample(np.ascontiguousarray(pcm[:, channel]), RATE48, 16000)
    return out


def _read_all(source: FileSource) -> list[Frame]:
    frames = []
    while (frame := source.read()) is not None:
        frames.append(frame)
    return frames


def _assert_contiguous(frames: list[Frame]) -> None:
    for prev, nxt in zip(frames, frames[1:], strict=False):
        assert nxt.position == prev.end + nxt.gap


@pytest.mark.parametrize("channel", [0, 1])
def test_file_source_48k_stereo_matches_reference(
    stereo48: tuple[Path, Path, np.ndarray], channel: int
) -> None:
    wav, _, pcm = stereo48
    with FileSource(wav, realtime=False, channel=channel) as source:
        frames = _read_all(source)
    got = np.concatenate([f.samples for f in frames])
    ref = _reference(pcm, channel)
    other = _reference(pcm, 1 - channel)
    assert got.dtype == np.int16
    assert len(got) == len(ref) == 48_000
    assert np.abs(got.astype(int) - ref).max() <= 3  # streaming vs one-shot soxr
    assert np.abs(got.astype(int) - other).max() > 1000  # really the other channel
    assert frames[0].position == 0 and all(f.gap == 0 for f in frames)
    _assert_contiguous(frames)
    assert all(len(f.samples) == 1280 for f in frames[:-1])


def test_file_source_16k_mono_is_bit_exact(tmp_path: Path) -> None:
    sig = np.random.default_rng(1).integers(-20000, 20000, 20_000, dtype=np.int16)
    sf.write(tmp_path / "a.wav", sig, 16000, subtype="PCM_16")
    with FileSource(tmp_path / "a.wav", realtime=False, frame_samples=1600) as source:
        frames = _read_all(source)
    np.testing.assert_array_equal(np.concatenate([f.samples for f in frames]), sig)
    assert [len(f.samples) for f in frames] == [1600] * 12 + [800]


def test_realtime_file_source_is_paced_then_continues_with_silence(tmp_path: Path) -> None:
    sig = np.full(4000, 1234, dtype=np.int16)  # 0.25 s
    sf.write(tmp_path / "short.wav", sig, 16000, subtype="PCM_16")
    source = FileSource(tmp_path / "short.wav", realtime=True, frame_samples=640)
    started = time.monotonic()
    frames: list[Frame] = []
    while not frames or frames[-1].end < 8000:
        frame = source.read()
        assert frame is not None
        # Paced like a microphone: a frame is never handed out before its last sample is due.
        # (A lower bound only; an upper bound would be a timing assert on a noisy machine.)
        assert time.monotonic() - started >= frame.end / 16000 - 0.001
        frames.append(frame)
    got = np.concatenate([f.samples for f in frames])
    np.testing.assert_array_equal(got[:4000], sig)
    assert not got[4000:].any()
    _assert_contiguous(frames)

    # close() from another thread wakes a blocked read, which returns None.
    result: list[Frame | None] = []
    reader = threading.Thread(target=lambda: result.append(source.read()))
    source.close()
    reader.start()
    reader.join(timeout=10)
    assert result == [None]


def test_file_source_errors(tmp_path: Path, stereo48: tuple[Path, Path, np.ndarray]) -> None:
    with pytest.raises(SourceError, match="cannot read"):
        FileSource(tmp_path / "missing.wav")
    with pytest.raises(SourceError, match="channel 2"):
        FileSource(stereo48[0], channel=2)


def test_command_source_48k_stereo_matches_reference(
    stereo48: tuple[Path, Path, np.ndarray],
) -> None:
    _, raw, pcm = stereo48
    ref = _reference(pcm, 1)
    source = CommandSource(
        f"cat {shlex.quote(str(raw))}", sample_rate=RATE48, channels=2, channel=1
    )
    try:
        frames: list[Frame] = []
        while True:  # the first run of the command, up to the restart gap
            frame = source.read()
            assert frame is not None
            if frame.gap:
                break
            frames.append(frame)
    finally:
        source.close()
    got = np.concatenate([f.samples for f in frames])
    assert len(got) == len(ref)
    assert np.abs(got.astype(int) - ref).max() <= 3
    _assert_contiguous(frames)


COUNTER = "import sys, numpy as np; sys.stdout.buffer.write(np.arange(8000, dtype='<i2').tobytes())"


def test_command_that_exits_is_restarted_with_reported_gaps() -> None:
    errors: list[str] = []
    source = CommandSource(
        f"{shlex.quote(sys.executable)} -c {shlex.quote(COUNTER)}",
        on_error=errors.append,
        initial_backoff_s=0.02,
        max_backoff_s=0.1,
    )
    runs: list[list[Frame]] = []
    frames: list[Frame] = []
    try:
        while len(runs) < 4:
            frame = source.read()
            assert frame is not None
            if frame.gap or not runs:
                runs.append([])
            runs[-1].append(frame)
            frames.append(frame)
    finally:
        source.close()
    assert frames[0].position == 0 and frames[0].gap == 0
    _assert_contiguous(frames)  # monotonic: each gap is in the positions, never a reset
    for run in runs[:3]:  # complete runs: every sample of each, once, in order
        samples = np.concatenate([f.samples for f in run])
        np.testing.assert_array_equal(samples, np.arange(8000, dtype=np.int16))
        assert [len(f.samples) for f in run] == [1280] * 6 + [320]
    assert all(run[0].gap >= 1 for run in runs[1:])
    assert source.restarts >= 3 and source.errors >= 3
    assert any("exited with status 0" in e for e in errors)


def test_command_source_kills_its_process_group_on_close(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    script = (
        "import os, sys, time; "
        f"open({str(pid_file)!r}, 'w').write(str(os.getpid())); "
        "[(sys.stdout.buffer.write(bytes(640)), sys.stdout.flush(), time.sleep(0.02)) "
        "for _ in iter(int, 1)]"
    )
    source = CommandSource(f"{shlex.quote(sys.executable)} -c {shlex.quote(script)}")
    frame = source.read()
    assert frame is not None and not frame.samples.any()
    pid = int(pid_file.read_text())
    source.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert source.read() is None


def test_command_that_cannot_start_reports_errors_and_close_ends_read() -> None:
    errors: list[str] = []
    two = threading.Event()

    def on_error(message: str) -> None:
        errors.append(message)
        if len(errors) >= 2:
            two.set()

    source = CommandSource(
        "/nonexistent/voice-agent-mic --raw", on_error=on_error, initial_backoff_s=0.01
    )
    result: list[Frame | None] = []
    reader = threading.Thread(target=lambda: result.append(source.read()))
    reader.start()
    assert two.wait(10)
    source.close()
    reader.join(timeout=10)
    assert result == [None]
    assert "cannot start capture command" in errors[0]
    assert source.errors >= 2


def test_open_source_picks_file_then_command_then_device(
    stereo48: tuple[Path, Path, np.ndarray],
) -> None:
    wav, raw, _ = stereo48
    src = open_source(_Input(file=str(wav), realtime=False, command="false"), 640)
    assert isinstance(src, FileSource) and src.frame_samples == 640
    src.close()
    src = open_source(_Input(command=f"cat {raw}", sample_rate=RATE48, channels=2))
    assert isinstance(src, CommandSource)
    src.close()


def test_converter_gap_and_short_frames() -> None:
    conv = Converter(16000, 2, 1, frame_samples=4)
    stereo = np.stack([np.zeros(10, np.int16), np.arange(10, dtype=np.int16)], axis=1)
    data = stereo.astype("<i2").tobytes()
    frames = conv.push_bytes(data[:7]) + conv.push_bytes(data[7:])  # split mid-sample
    frames += conv.flush()
    assert [f.samples.tolist() for f in frames] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    conv.add_gap(5)
    (frame,) = conv.push(stereo[:4])
    assert (frame.position, frame.gap) == (15, 5)
    with pytest.raises(ValueError):
        Converter(16000, 2, 2)
