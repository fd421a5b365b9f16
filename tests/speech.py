"""Test speech made with espeak-ng and sox (Debian packages), cached per session.

``compose(tmp, [("say", "hey jarvis"), ("pause", 0.5), ...])`` writes a 16 kHz
mono WAV and returns its path and the sample position where each segment
starts, so a test can check results against audio time.
"""

from __future__ import annotations

import functools
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

RATE = 16000
_CACHE = Path(tempfile.mkdtemp(prefix="voice-agent-speech-"))


@functools.cache
def say(text: str, voice: str = "en-gb", speed: int = 140) -> np.ndarray:
    """``text`` spoken by espeak-ng, as int16 samples at 16 kHz, trimmed of silence."""
    raw = _CACHE / f"raw-{abs(hash((text, voice, speed)))}.wav"
    out = raw.with_name(raw.name.replace("raw-", "s16-"))
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(raw), text],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["sox", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(out)],
        check=True,
        capture_output=True,
    )
    return read_wav(out)


def read_wav(path: str | Path) -> np.ndarray:
    """int16 samples of a 16 kHz mono WAV."""
    with wave.open(str(path), "rb") as w:
        assert w.getframerate() == RATE and w.getnchannels() == 1
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").copy()


def write_wav(path: str | Path, samples: np.ndarray, rate: int = RATE) -> Path:
    """Write int16 mono samples as a WAV."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.asarray(samples, dtype="<i2").tobytes())
    return Path(path)


def compose(path: str | Path, parts: list[tuple[str, object]]) -> tuple[Path, list[int]]:
    """Concatenate ``("say", text)``, ``("pause", seconds)`` and ``("audio", array)``."""
    chunks: list[np.ndarray] = []
    starts: list[int] = []
    pos = 0
    for kind, value in parts:
        if kind == "say":
            x = say(str(value))
        elif kind == "pause":
            x = np.zeros(int(float(value) * RATE), dtype=np.int16)  # type: ignore[arg-type]
        else:
            x = np.asarray(value, dtype=np.int16)
        starts.append(pos)
        chunks.append(x)
        pos += len(x)
    return write_wav(path, np.concatenate(chunks)), starts


def tone(seconds: float, freq: float = 440.0, level: float = 0.2) -> np.ndarray:
    """A sine tone, as a stand-in for spoken reply audio."""
    t = np.arange(int(seconds * RATE)) / RATE
    return (np.sin(2 * np.pi * freq * t) * level * 32767).astype(np.int16)


def spoken_extent(audio: np.ndarray) -> tuple[int, int]:
    """First and last sample louder than 2% of the peak: where the words are."""
    loud = np.nonzero(np.abs(audio.astype(np.int32)) > 0.02 * np.abs(audio).max())[0]
    return int(loud[0]), int(loud[-1])


def espeak(text: str, voice: str, wpm: int, directory: Path) -> np.ndarray:
    """``text`` spoken by espeak-ng into ``directory``, as int16 at 16 kHz (untrimmed)."""
    raw = Path(directory) / "raw.wav"
    out = Path(directory) / f"{voice}_{wpm}_{text.replace(' ', '_')}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(wpm), "-w", str(raw), text], check=True)
    subprocess.run(["sox", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(out)], check=True)
    return read_wav(out)


def announcement(
    aid: str, text: str, audio: np.ndarray | None, timer: dict[str, object] | None = None
) -> list:
    """The announcement form: response, text and audio all under ``aid`` (protocol.md)."""
    from agent.link import protocol as p

    data: dict[str, object] = {"speech": {"text": text}}
    if timer is not None:
        data["timer"] = timer
    out: list = [p.Response(aid, data), p.TextReply(aid, text)]
    if audio is not None:
        pcm = np.asarray(audio, dtype="<i2").tobytes()
        out.append(p.ReplyAudioStart(aid))
        out += [p.ReplyAudioData(aid, pcm[i : i + 3200]) for i in range(0, len(pcm), 3200)]
        out.append(p.ReplyAudioEnd(aid))
    return out
