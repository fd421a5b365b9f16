"""Streaming decoding of reply audio: raw PCM, WAV or Ogg, detected by content.

:class:`ReplyDecoder` takes the reply's bytes as they arrive and returns mono
float32 samples (-1..1) as soon as they can be decoded; ``rate`` is known once
the format is. Detection looks at the first four bytes (``RIFF`` = WAV,
``OggS`` = Ogg), then at the declared content type, and otherwise assumes raw
PCM s16le (16 kHz mono unless the declared type says ``rate=``/``channels=``,
as in ``audio/l16; rate=22050; channels=1``; little-endian, as the gateway
protocol specifies).

- **PCM** and **WAV** (integer 8/16/24/32-bit or float 32/64-bit PCM) stream
  sample by sample; a WAV header is parsed as soon as it is complete.
- **Ogg** (Vorbis, or Opus if libsndfile has it) is decoded with libsndfile
  each time a new complete Ogg page arrives: libsndfile decodes a stream cut at
  a page boundary exactly (verified against a whole-file decode), so the
  decoder re-opens the bytes received so far, seeks to the samples it has
  already returned and returns only the new ones. Playback therefore starts
  after the first audio page (about 4 KB, a fraction of a second) instead of
  at the end. Libsndfile needs the headers plus one audio page before it will
  open the stream; the trailing samples of the last page come on ``finish()``.

Mono: channels are averaged.
"""

from __future__ import annotations

import io
import re
import struct

import numpy as np
import soundfile as sf

from agent.audio.frames import SAMPLE_RATE


class DecodeError(ValueError):
    """The reply's bytes cannot be decoded as the detected format."""


def _parse_declared(content_type: str | None) -> tuple[str | None, int, int]:
    """Return (kind, rate, channels) from a declared type such as ``audio/l16; rate=22050``."""
    if not content_type:
        return None, SAMPLE_RATE, 1
    text = content_type.lower()
    rate = SAMPLE_RATE
    channels = 1
    if m := re.search(r"rate\s*=\s*(\d+)", text):
        rate = int(m.group(1))
    if m := re.search(r"channels\s*=\s*(\d+)", text):
        channels = int(m.group(1))
    kind: str | None = None
    if "ogg" in text or "vorbis" in text or "opus" in text:
        kind = "ogg"
    elif "wav" in text:
        kind = "wav"
    elif "l16" in text or "pcm" in text or "raw" in text:
        kind = "pcm"
    if rate <= 0 or channels <= 0:
        raise DecodeError(f"bad declared audio type {content_type!r}")
    return kind, rate, channels


def _mono(x: np.ndarray) -> np.ndarray:
    if x.ndim == 2:
        x = x.mean(axis=1) if x.shape[1] > 1 else x[:, 0]
    return np.ascontiguousarray(x, dtype=np.float32)


class _Pcm:
    """Interleaved little-endian PCM of a given sample format."""

    def __init__(self, rate: int, channels: int, fmt: str) -> None:
        self.rate = rate
        self.channels = channels
        self.fmt = fmt  # 'u8', 's16', 's24', 's32', 'f32', 'f64'
        self.width = {"u8": 1, "s16": 2, "s24": 3, "s32": 4, "f32": 4, "f64": 8}[fmt]
        self._leftover = b""

    def feed(self, data: bytes) -> np.ndarray:
        data = self._leftover + data
        frame = self.width * self.channels
        usable = len(data) - len(data) % frame
        self._leftover = data[usable:]
        raw = data[:usable]
        if self.fmt == "u8":
            x = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128) / 128
        elif self.fmt == "s16":
            x = np.frombuffer(raw, "<i2").astype(np.float32) / 32768
        elif self.fmt == "s24":
            b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
            v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
            v = np.where(v >= 1 << 23, v - (1 << 24), v)
            x = v.astype(np.float32) / (1 << 23)
        elif self.fmt == "s32":
            x = (np.frombuffer(raw, "<i4").astype(np.float64) / 2**31).astype(np.float32)
        elif self.fmt == "f32":
            x = np.frombuffer(raw, "<f4").astype(np.float32)
        else:
            x = np.frombuffer(raw, "<f8").astype(np.float32)
        return _mono(x.reshape(-1, self.channels))


class _Wav:
    """A RIFF/WAVE stream: header first, then PCM samples from the data chunk."""

    def __init__(self) -> None:
        self._header = b""
        self._pcm: _Pcm | None = None
        self._remaining: int | None = None  # data bytes left; None = to the end

    @property
    def rate(self) -> int | None:
        return self._pcm.rate if self._pcm else None

    def feed(self, data: bytes) -> np.ndarray:
        if self._pcm is None:
            self._header += data
            data = self._parse_header()
            if self._pcm is None:
                return np.zeros(0, np.float32)
        if self._remaining is not None:
            data = data[: self._remaining]
            self._remaining -= len(data)
        return self._pcm.feed(data)

    def _parse_header(self) -> bytes:
        """Parse as much of the header as is there; return the bytes after it."""
        h = self._header
        if len(h) < 12:
            return b""
        if h[:4] != b"RIFF" or h[8:12] != b"WAVE":
            raise DecodeError("not a RIFF/WAVE file")
        pos = 12
        fmt: tuple[int, int, int, int] | None = None
        while len(h) >= pos + 8:
            cid = h[pos : pos + 4]
            size = struct.unpack_from("<I", h, pos + 4)[0]
            body = pos + 8
            if cid == b"data":
                if fmt is None:
                    raise DecodeError("WAV data chunk before its fmt chunk")
                self._pcm = _Pcm(fmt[1], fmt[2], self._sample_format(fmt))
                # 0 and 0xFFFFFFFF are what streaming writers put when the length is unknown.
                self._remaining = None if size in (0, 0xFFFFFFFF) else size
                rest = h[body:]
                self._header = b""
                return rest
            if len(h) < body + size + (size & 1):
                return b""  # the chunk is not complete yet
            if cid == b"fmt ":
                if size < 16:
                    raise DecodeError("WAV fmt chunk too short")
                tag, channels, rate = struct.unpack_from("<HHI", h, body)
                bits = struct.unpack_from("<H", h, body + 14)[0]
                if tag == 0xFFFE and size >= 26:  # EXTENSIBLE: the real tag opens the GUID
                    tag = struct.unpack_from("<H", h, body + 24)[0]
                fmt = (tag, rate, channels, bits)
            pos = body + size + (size & 1)
        return b""

    @staticmethod
    def _sample_format(fmt: tuple[int, int, int, int]) -> str:
        tag, rate, channels, bits = fmt
        if rate <= 0 or channels <= 0:
            raise DecodeError(f"WAV with {rate} Hz and {channels} channel(s)")
        if tag == 1 and bits in (8, 16, 24, 32):
            return {8: "u8", 16: "s16", 24: "s24", 32: "s32"}[bits]
        if tag == 3 and bits in (32, 64):
            return {32: "f32", 64: "f64"}[bits]
        raise DecodeError(f"unsupported WAV encoding (format tag {tag}, {bits} bits)")


class _Ogg:
    """An Ogg stream decoded by libsndfile up to the last complete page."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._scan = 0  # start of the first page not yet known to be complete
        self._decoded_upto = 0  # byte length of the prefix last handed to libsndfile
        self._emitted = 0  # samples returned so far
        self.rate: int | None = None

    def feed(self, data: bytes) -> np.ndarray:
        self._buf += data
        complete = self._scan_pages()
        if complete <= self._decoded_upto:
            return np.zeros(0, np.float32)
        return self._decode(complete, final=False)

    def finish(self) -> np.ndarray:
        # A truncated last page cannot be decoded; stop at the last complete one.
        upto = self._scan_pages()
        if upto == 0:
            if self._buf:
                raise DecodeError("Ogg stream ended before its first complete page")
            return np.zeros(0, np.float32)
        return self._decode(upto, final=True)

    def _scan_pages(self) -> int:
        buf = self._buf
        while len(buf) >= self._scan + 27:
            if buf[self._scan : self._scan + 4] != b"OggS":
                raise DecodeError(f"broken Ogg stream at byte {self._scan}")
            nseg = buf[self._scan + 26]
            if len(buf) < self._scan + 27 + nseg:
                break
            size = 27 + nseg + sum(buf[self._scan + 27 : self._scan + 27 + nseg])
            if len(buf) < self._scan + size:
                break
            self._scan += size
        return self._scan

    def _decode(self, upto: int, final: bool) -> np.ndarray:
        try:
            with sf.SoundFile(io.BytesIO(bytes(self._buf[:upto]))) as f:
                self.rate = f.samplerate
                if f.frames <= self._emitted:
                    out = np.zeros(0, np.float32)
                else:
                    f.seek(self._emitted)
                    out = _mono(f.read(dtype="float32", always_2d=True))
        except (sf.LibsndfileError, RuntimeError) as exc:
            if not final:
                # Headers only so far (libsndfile needs an audio page): wait for more.
                return np.zeros(0, np.float32)
            raise DecodeError(f"cannot decode Ogg audio: {exc}") from exc
        self._decoded_upto = upto
        self._emitted += len(out)
        return out


class ReplyDecoder:
    """Decode one reply's audio as its bytes arrive; see the module docstring.

    ``feed(data)`` and ``finish()`` return mono float32 samples at :attr:`rate`
    (``None`` until the format is known, i.e. until something was returned).
    Raises :class:`DecodeError` on bytes that cannot be the detected format.
    """

    def __init__(self, content_type: str | None = None) -> None:
        self._declared, self._raw_rate, self._raw_channels = _parse_declared(content_type)
        self._head = b""
        self._impl: _Pcm | _Wav | _Ogg | None = None
        self.kind: str | None = None
        """'pcm', 'wav' or 'ogg' once detected."""

    @property
    def rate(self) -> int | None:
        """Sample rate of the returned samples, once known."""
        return None if self._impl is None else self._impl.rate

    def feed(self, data: bytes) -> np.ndarray:
        """Add bytes; return the samples they complete (maybe none)."""
        if self._impl is None:
            self._head += data
            if len(self._head) < 4:
                return np.zeros(0, np.float32)
            self._detect(self._head[:4])
            data, self._head = self._head, b""
        assert self._impl is not None
        return self._impl.feed(data)

    def finish(self) -> np.ndarray:
        """No more bytes: return whatever is left."""
        if self._impl is None:
            if not self._head:
                return np.zeros(0, np.float32)
            self._detect(self._head[:4])
            head, self._head = self._head, b""
            assert self._impl is not None
            out = self._impl.feed(head)
        else:
            out = np.zeros(0, np.float32)
        if isinstance(self._impl, _Ogg):
            out = np.concatenate([out, self._impl.finish()])
        return out

    def _detect(self, magic: bytes) -> None:
        if magic == b"RIFF":
            self.kind, self._impl = "wav", _Wav()
        elif magic == b"OggS":
            self.kind, self._impl = "ogg", _Ogg()
        elif self._declared in ("ogg", "wav"):
            raise DecodeError(
                f"reply declared as {self._declared} but starts with {magic!r}, not its magic"
            )
        else:
            self.kind = "pcm"
            self._impl = _Pcm(self._raw_rate, self._raw_channels, "s16")
