"""Reply decoding (PCM, WAV, Ogg Vorbis), the Player on a FileSink, volume and sounds."""

from __future__ import annotations

import io
import struct
import threading
import wave
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from agent.audio.decode import DecodeError, ReplyDecoder
from agent.audio.playback import Player
from agent.audio.sinks import FileSink
from agent.audio.sounds import SoundError, builtin_sound, load_sound

WAIT_S = 30


def _speechlike(n: int, rate: int = 16000, seed: int = 0) -> np.ndarray:
    """A tone with a wandering pitch and noise: not trivially compressible."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate
    f = 300 + 200 * np.sin(2 * np.pi * 0.7 * t)
    x = 0.4 * np.sin(2 * np.pi * np.cumsum(f) / rate) + 0.05 * rng.standard_normal(n)
    return np.clip(x, -1, 1)


def _int16(x: np.ndarray) -> np.ndarray:
    return np.round(x * 32767).astype(np.int16)


def _feed_in_pieces(decoder: ReplyDecoder, data: bytes, size: int) -> list[np.ndarray]:
    return [decoder.feed(data[i : i + size]) for i in range(0, len(data), size)]


def _read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.int16)


def _wav_bytes(x: np.ndarray, rate: int, subtype: str = "PCM_16") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, x, rate, format="WAV", subtype=subtype)
    return buf.getvalue()


# -- decoding ---------------------------------------------------------------


def test_raw_pcm_decodes_exactly_across_odd_splits() -> None:
    pcm = _int16(_speechlike(5000))
    decoder = ReplyDecoder()
    parts = _feed_in_pieces(decoder, pcm.astype("<i2").tobytes(), 333)  # splits mid-sample
    got = np.concatenate(parts + [decoder.finish()])
    assert decoder.kind == "pcm" and decoder.rate == 16000
    np.testing.assert_array_equal(np.round(got * 32768).astype(np.int16), pcm)


def test_declared_rate_and_channels_for_raw_pcm() -> None:
    decoder = ReplyDecoder("audio/l16; rate=22050; channels=2")
    stereo = np.array([[1000, 3000], [-2000, -4000]], dtype="<i2")
    got = decoder.feed(stereo.tobytes())
    assert decoder.rate == 22050
    np.testing.assert_allclose(got * 32768, [2000, -3000])


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "FLOAT", "PCM_U8"])
def test_wav_streams_and_matches_soundfile(subtype: str) -> None:
    stereo = np.stack([_speechlike(6000, 22050), _speechlike(6000, 22050, seed=1)], 1) * 0.9
    data = _wav_bytes(stereo, 22050, subtype)
    expected, _ = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    decoder = ReplyDecoder()
    parts = _feed_in_pieces(decoder, data, 101)
    assert decoder.kind == "wav" and decoder.rate == 22050
    assert sum(len(p) for p in parts[:5]) > 0 or len(data) < 600  # streams, no wait for the end
    got = np.concatenate(parts + [decoder.finish()])
    np.testing.assert_allclose(got, expected.mean(axis=1), atol=1e-6)


def test_wav_with_extra_chunks_and_unknown_length() -> None:
    pcm = _int16(_speechlike(1000))
    fmt = struct.pack("<HHIIHH", 1, 1, 16000, 32000, 2, 16)
    body = pcm.astype("<i2").tobytes()
    riff = (
        b"RIFF"
        + struct.pack("<I", 0xFFFFFFFF)
        + b"WAVE"
        + b"LIST"
        + struct.pack("<I", 5)
        + b"hello\x00"  # odd size: padded
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", 0xFFFFFFFF)
        + body
    )
    decoder = ReplyDecoder()
    got = np.concatenate(_feed_in_pieces(decoder, riff, 7) + [decoder.finish()])
    np.testing.assert_array_equal(np.round(got * 32768).astype(np.int16), pcm)


def test_ogg_vorbis_streams_page_by_page_and_matches_a_whole_decode() -> None:
    x = _speechlike(16000 * 4).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, x, 16000, format="OGG", subtype="VORBIS")
    data = buf.getvalue()
    whole, _ = sf.read(io.BytesIO(data), dtype="float32")
    decoder = ReplyDecoder("audio/ogg;codecs=vorbis")
    parts = _feed_in_pieces(decoder, data, 500)
    before_end = sum(len(p) for p in parts)
    got = np.concatenate(parts + [decoder.finish()])
    assert decoder.kind == "ogg" and decoder.rate == 16000
    assert before_end > 16000  # playable long before the last byte arrived
    np.testing.assert_allclose(got, whole, atol=1e-6)
    assert abs(len(got) - len(x)) <= 1280
    n = min(len(got), len(x))
    assert np.corrcoef(got[:n], x[:n])[0, 1] > 0.99


def test_bad_bytes_raise_decode_error() -> None:
    with pytest.raises(DecodeError):
        ReplyDecoder().feed(b"RIFF\x00\x00\x00\x00JUNKmore")
    with pytest.raises(DecodeError):
        ReplyDecoder("audio/ogg").feed(b"\x01\x02\x03\x04\x05")


# -- the player ---------------------------------------------------------------


class _Events:
    """Collects player callbacks and lets a test wait for them."""

    def __init__(self) -> None:
        self.log: list[tuple[object, ...]] = []
        self.finished = threading.Event()
        self.started = threading.Event()
        self._lock = threading.Lock()

    def on_started(self, reply_id: str) -> None:
        with self._lock:
            self.log.append(("started", reply_id))
        self.started.set()

    def on_finished(self, reply_id: str, interrupted: bool) -> None:
        with self._lock:
            self.log.append(("finished", reply_id, interrupted))
        self.finished.set()

    def player(self, sink: FileSink, volume: float = 1.0) -> Player:
        return Player(sink, volume=volume, on_started=self.on_started, on_finished=self.on_finished)


def test_player_writes_exactly_the_pcm_it_was_fed(tmp_path: Path) -> None:
    pcm = _int16(_speechlike(24_000))
    events = _Events()
    player = events.player(FileSink(tmp_path / "out.wav", realtime=False))
    player.start("r1")
    data = pcm.astype("<i2").tobytes()
    for i in range(0, len(data), 3201):
        player.feed(data[i : i + 3201])
    player.finish()
    assert events.finished.wait(WAIT_S)
    player.close()
    assert events.log == [("started", "r1"), ("finished", "r1", False)]
    np.testing.assert_array_equal(_read_wav(tmp_path / "out.wav"), pcm)


def test_wav_reply_at_22050_is_converted_to_the_sink_rate(tmp_path: Path) -> None:
    x = _speechlike(22050 * 2, 22050)
    data = _wav_bytes(x, 22050)
    expected = soxr.resample(sf.read(io.BytesIO(data), dtype="float32")[0], 22050, 16000)
    events = _Events()
    player = events.player(FileSink(tmp_path / "out.wav", realtime=False))
    player.start("r2")
    for i in range(0, len(data), 4000):
        player.feed(data[i : i + 4000])
    player.finish()
    assert events.finished.wait(WAIT_S)
    player.close()
    got = _read_wav(tmp_path / "out.wav").astype(np.float64) / 32768
    assert len(got) == len(expected)
    assert np.abs(got - expected).max() < 1e-3


def test_ogg_reply_plays(tmp_path: Path) -> None:
    x = _speechlike(16000 * 3)
    buf = io.BytesIO()
    sf.write(buf, x, 16000, format="OGG", subtype="VORBIS")
    data = buf.getvalue()
    events = _Events()
    player = events.player(FileSink(tmp_path / "out.wav", realtime=False))
    player.start("r3", "audio/ogg;codecs=vorbis")
    for i in range(0, len(data), 1000):
        player.feed(data[i : i + 1000])
    player.finish()
    assert events.finished.wait(WAIT_S)
    player.close()
    got = _read_wav(tmp_path / "out.wav").astype(np.float64) / 32768
    assert abs(len(got) - len(x)) <= 1280
    n = min(len(got), len(x))
    assert np.corrcoef(got[:n], x[:n])[0, 1] > 0.99


def test_stop_interrupts_and_drops_queued_audio(tmp_path: Path) -> None:
    pcm = _int16(_speechlike(16000 * 30))  # 30 s: far longer than the test takes to stop it
    events = _Events()
    sink = FileSink(tmp_path / "out.wav", realtime=True)
    player = events.player(sink)
    player.start("long")
    player.feed(pcm.astype("<i2").tobytes())
    player.finish()
    assert events.started.wait(WAIT_S)
    player.stop()
    assert events.finished.wait(WAIT_S)
    assert not player.playing
    player.feed(bytes(3200))  # after stop(): dropped, not played
    player.close()
    assert events.log == [("started", "long"), ("finished", "long", True)]
    written = _read_wav(tmp_path / "out.wav")
    assert 0 < len(written) < len(pcm)
    np.testing.assert_array_equal(written, pcm[: len(written)])  # a prefix, nothing else


def test_a_newer_reply_replaces_the_current_one(tmp_path: Path) -> None:
    events = _Events()
    player = events.player(FileSink(tmp_path / "out.wav", realtime=True))
    player.start("old")
    player.feed(bytes(16000 * 2 * 30))
    assert events.started.wait(WAIT_S)
    second = threading.Event()

    def on_finished(reply_id: str, interrupted: bool) -> None:
        events.on_finished(reply_id, interrupted)
        if reply_id == "new":
            second.set()

    player.on_finished = on_finished
    player.start("new")
    player.feed(np.full(1600, 1000, dtype="<i2").tobytes())
    player.finish()
    assert second.wait(WAIT_S)
    player.close()
    assert events.log == [
        ("started", "old"),
        ("finished", "old", True),
        ("started", "new"),
        ("finished", "new", False),
    ]
    assert (_read_wav(tmp_path / "out.wav")[-1600:] == 1000).all()


def test_volume_scales_samples_and_mute_silences(tmp_path: Path) -> None:
    pcm = _int16(_speechlike(8000))
    events = _Events()
    player = events.player(FileSink(tmp_path / "out.wav", realtime=False), volume=0.5)
    for reply_id, action in (("half", None), ("muted", "mute"), ("back", "unmute")):
        if action:
            getattr(player, action)()
        events.finished.clear()
        player.start(reply_id)
        player.feed(pcm.astype("<i2").tobytes())
        player.finish()
        assert events.finished.wait(WAIT_S)
    player.close()
    out = _read_wav(tmp_path / "out.wav").reshape(3, -1)
    expected_half = np.clip(np.rint(pcm.astype(np.float64) * 0.5), -32768, 32767)
    np.testing.assert_array_equal(out[0], expected_half)
    assert not out[1].any()
    np.testing.assert_array_equal(out[2], expected_half)


def test_volume_steps_clamp() -> None:
    class _NullSink:
        rate = 16000

        def write(self, samples: np.ndarray) -> None: ...
        def drain(self) -> None: ...
        def interrupt(self) -> None: ...
        def close(self) -> None: ...

    player = Player(_NullSink(), volume=0.95, volume_step=0.1)
    player.increase()
    assert player.volume == 1.0
    for _ in range(12):
        player.decrease()
    assert player.volume == 0.0 and player.gain == 0.0
    player.increase()
    player.mute()
    assert player.gain == 0.0 and player.volume == pytest.approx(0.1)
    player.increase()  # a step up also unmutes
    assert player.gain == pytest.approx(0.2)
    player.close()


def test_empty_and_undecodable_replies_still_finish(tmp_path: Path) -> None:
    events = _Events()
    errors: list[str] = []
    player = Player(
        FileSink(tmp_path / "out.wav", realtime=False),
        on_started=events.on_started,
        on_finished=events.on_finished,
        on_error=errors.append,
    )
    player.start("empty")
    player.finish()
    assert events.finished.wait(WAIT_S)
    events.finished.clear()
    player.start("broken")
    player.feed(b"RIFF\x10\x00\x00\x00JUNK" + bytes(64))
    player.finish()
    assert events.finished.wait(WAIT_S)
    player.close()
    assert events.log == [
        ("started", "empty"),
        ("finished", "empty", False),
        ("started", "broken"),
        ("finished", "broken", False),
    ]
    assert errors and "broken" in errors[0]


def test_sounds_play_exactly_and_signal_when_done(tmp_path: Path) -> None:
    player = Player(FileSink(tmp_path / "out.wav", realtime=False))
    wake = builtin_sound("wake")
    done = builtin_sound("done")
    assert player.play_sound(wake).wait(WAIT_S)
    assert player.play_sound(done).wait(WAIT_S)
    player.close()
    np.testing.assert_array_equal(_read_wav(tmp_path / "out.wav"), np.concatenate([wake, done]))


def test_file_sink_is_a_valid_wav_while_open_and_paced(tmp_path: Path) -> None:
    import time

    sink = FileSink(tmp_path / "live.wav", realtime=True)
    started = time.monotonic()
    for _ in range(5):
        sink.write(np.full(1600, 7, dtype=np.int16))
    # A speaker takes 0.5 s for 0.5 s of audio (lower bound only: no timing upper bound).
    assert time.monotonic() - started >= 0.5 - 0.001
    np.testing.assert_array_equal(_read_wav(tmp_path / "live.wav"), np.full(8000, 7))
    sink.close()


# -- sounds -------------------------------------------------------------------


def test_builtin_sounds() -> None:
    for name, ms in (("wake", 150), ("done", 150), ("error", 350)):
        x = builtin_sound(name)  # type: ignore[arg-type]
        assert x.dtype == np.int16 and len(x) == 16 * ms
        assert 5000 < np.abs(x).max() < 32767
        assert abs(int(x[0])) < 500 and abs(int(x[-1])) < 500  # faded: no click
    assert not np.array_equal(builtin_sound("wake"), builtin_sound("done"))


def test_load_sound(tmp_path: Path) -> None:
    assert load_sound(None, "wake") is None
    np.testing.assert_array_equal(load_sound("builtin", "error"), builtin_sound("error"))
    t = np.arange(44100 // 5) / 44100
    tone = 0.5 * np.sin(2 * np.pi * 500 * t)
    sf.write(tmp_path / "ding.wav", np.stack([tone, tone], 1), 44100)
    x = load_sound(tmp_path / "ding.wav", "done")
    assert x is not None and x.dtype == np.int16 and len(x) == 3200
    ref = soxr.resample(tone.astype(np.float32), 44100, 16000)
    assert np.abs(x / 32768 - ref).max() < 1e-3
    with pytest.raises(SoundError, match="sounds.wake"):
        load_sound(tmp_path / "nope.wav", "wake")
