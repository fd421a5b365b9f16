"""Text to speech with espeak-ng, as 16 kHz mono s16le PCM: the built-in :class:`Speaker`.

espeak-ng runs as a subprocess writing WAV to stdout (``--stdout``), with the
text on stdin (so text that starts with ``-`` is never read as an option, and
no shell is involved). Its stdout WAV header carries placeholder sizes, so the
header is parsed here rather than with :mod:`wave`. Audio at another rate
(espeak-ng speaks at 22,050 Hz) is converted with soxr. Results are cached.
"""

from __future__ import annotations

import asyncio
import shutil
import struct
from collections import OrderedDict
from collections.abc import AsyncIterable, AsyncIterator

import numpy as np

from agent.gateway.settings import VOICE_RE
from agent.gateway.tts.engine import RATE, TtsError

MAX_TEXT = 1000
"""Characters spoken at most per sentence (the echo skill repeats what users say)."""


def parse_wav(data: bytes) -> tuple[int, int, bytes]:
    """(rate, channels, s16le frames) of a PCM WAV, tolerating bogus chunk sizes."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise TtsError("not a WAV file")
    pos, rate, channels = 12, 0, 0
    while pos + 8 <= len(data):
        chunk, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        body = pos + 8
        if chunk == b"fmt ":
            fmt, channels, rate = struct.unpack("<HHI", data[body : body + 8])
            bits = struct.unpack("<H", data[body + 14 : body + 16])[0]
            if fmt != 1 or bits != 16:
                raise TtsError(f"unsupported WAV format {fmt}/{bits} bits")
        elif chunk == b"data":
            if not rate:
                raise TtsError("WAV data before its format")
            # A streamed header says 0x7ffff000 or 0: take what is there.
            end = len(data) if size == 0 or body + size > len(data) else body + size
            frames = data[body:end]
            return rate, channels, frames[: len(frames) - len(frames) % (2 * channels)]
        pos = body + size + (size & 1)
    raise TtsError("WAV without data")


def to_16k_mono(rate: int, channels: int, frames: bytes) -> bytes:
    """s16le at any rate/channels -> 16 kHz mono s16le."""
    samples = np.frombuffer(frames, dtype="<i2")
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1).astype(np.int16)
    if rate == RATE:
        return samples.astype("<i2").tobytes()
    import soxr

    out = soxr.resample(samples.astype(np.float32), rate, RATE)
    return np.clip(np.round(out), -32768, 32767).astype("<i2").tobytes()


class Espeak:
    """espeak-ng speech, cached by (voice, speed, text)."""

    name = "espeak"

    def __init__(
        self,
        *,
        binary: str = "espeak-ng",
        timeout_s: float = 10.0,
        cache_size: int = 128,
        voice: str = "en-us",
        speed: int = 160,
    ) -> None:
        self.binary = binary
        self.timeout_s = timeout_s
        self.voice = voice
        """The voice when the client asks for none (``tts.voice``)."""
        self.speed = speed
        """Words per minute (``tts.speed``)."""
        self._cache: OrderedDict[tuple[str, int, str], bytes] = OrderedDict()
        self._cache_size = cache_size

    async def speak(self, sentences: AsyncIterable[str], voice: str | None) -> AsyncIterator[bytes]:
        """The :class:`~agent.gateway.tts.engine.Speaker` interface: each sentence as it comes."""
        chosen = voice if isinstance(voice, str) and VOICE_RE.match(voice) else self.voice
        async for sentence in sentences:
            if sentence.strip():
                yield await self.synthesize(sentence, chosen, self.speed)

    async def aclose(self) -> None:
        """Nothing is held between replies."""

    @property
    def available(self) -> bool:
        """True when the espeak-ng program is on PATH."""
        return shutil.which(self.binary) is not None

    async def synthesize(self, text: str, voice: str = "en-us", speed: int = 160) -> bytes:
        """PCM s16le 16 kHz mono of ``text`` (raises TtsError)."""
        text = " ".join(text.split())[:MAX_TEXT]
        key = (voice, speed, text)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        try:
            proc = await asyncio.create_subprocess_exec(
                self.binary,
                "-v",
                voice,
                "-s",
                str(speed),
                "--stdout",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise TtsError(f"cannot run {self.binary}: {exc.strerror}") from None
        try:
            out, err = await asyncio.wait_for(proc.communicate(text.encode()), self.timeout_s)
        except BaseException as exc:  # timed out or cancelled: never leave it running
            proc.kill()
            await proc.wait()
            if isinstance(exc, TimeoutError):
                raise TtsError(f"{self.binary} took longer than {self.timeout_s} s") from None
            raise
        if proc.returncode != 0:
            message = err.decode(errors="replace").strip()[:200]
            raise TtsError(f"{self.binary} failed ({proc.returncode}): {message}")
        rate, channels, frames = parse_wav(out)
        pcm = to_16k_mono(rate, channels, frames)
        self._cache[key] = pcm
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return pcm
