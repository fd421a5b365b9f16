"""Capture sources: a WAV file, a command's stdout, or a PortAudio device.

:func:`open_source` builds the one the configuration's ``audio.input`` asks
for. Every source yields 16 kHz mono :class:`~agent.audio.frames.Frame`
objects with absolute sample positions (see :mod:`agent.audio.frames` for the
position and gap rules)::

    source = open_source(settings.audio.input)
    while (frame := source.read()) is not None:
        ...
    source.close()
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np
import soundfile as sf

from agent.audio.command_source import CommandSource, SourceError
from agent.audio.frames import (
    DEFAULT_FRAME_SAMPLES,
    SAMPLE_RATE,
    Converter,
    Frame,
    Source,
)

log = logging.getLogger(__name__)

__all__ = ["CommandSource", "FileSource", "Frame", "Source", "SourceError", "open_source"]


class InputSettings(Protocol):
    """The fields of the configuration's ``audio.input`` that sources use."""

    @property
    def device(self) -> str | int: ...

    @property
    def file(self) -> str | None: ...

    @property
    def realtime(self) -> bool: ...

    @property
    def command(self) -> str | None: ...

    @property
    def sample_rate(self) -> int: ...

    @property
    def channels(self) -> int: ...

    @property
    def channel(self) -> int: ...


def open_source(
    settings: InputSettings,
    frame_samples: int = DEFAULT_FRAME_SAMPLES,
    *,
    on_error: Callable[[str], None] | None = None,
) -> Source:
    """Open the source ``audio.input`` describes: ``file``, else ``command``, else ``device``."""
    if settings.file:
        return FileSource(
            settings.file,
            realtime=settings.realtime,
            channel=settings.channel,
            frame_samples=frame_samples,
        )
    if settings.command:
        return CommandSource(
            settings.command,
            sample_rate=settings.sample_rate,
            channels=settings.channels,
            channel=settings.channel,
            frame_samples=frame_samples,
            on_error=on_error,
        )
    from agent.audio.pyaudio_source import PyAudioSource

    return PyAudioSource(
        settings.device,
        sample_rate=settings.sample_rate,
        channels=settings.channels,
        channel=settings.channel,
        frame_samples=frame_samples,
        on_error=on_error,
    )


class FileSource:
    """Frames from an audio file (WAV, or anything libsndfile reads), any rate/channels.

    ``realtime=True`` paces frames like a microphone: each frame is returned
    once its last sample is "due" (start time + ``frame.end`` / 16000 on the
    monotonic clock, so pacing never drifts), and after the end of the file the
    source goes on with silence, as a quiet microphone would, until closed.
    ``realtime=False`` returns frames as fast as they are read and ``None`` at
    the end of the file.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        realtime: bool = True,
        channel: int = 0,
        frame_samples: int = DEFAULT_FRAME_SAMPLES,
    ) -> None:
        self.path = Path(path)
        self.realtime = realtime
        self.frame_samples = frame_samples
        self.errors = 0
        self.overflows = 0
        try:
            self._file = sf.SoundFile(str(self.path))
        except (sf.LibsndfileError, RuntimeError, OSError) as exc:
            raise SourceError(f"cannot read audio file {self.path}: {exc}") from exc
        if not 0 <= channel < self._file.channels:
            self._file.close()
            raise SourceError(
                f"{self.path} has {self._file.channels} channel(s); "
                f"channel {channel} does not exist"
            )
        self.channel = channel
        self._conv = Converter(self._file.samplerate, 1, 0, frame_samples)
        # Eight frames per read: libsndfile's per-call cost is most of a small read's,
        # and the frames are paced one by one anyway (realtime), so reading ahead is free.
        self._block = 8 * math.ceil(frame_samples * self._file.samplerate / SAMPLE_RATE)
        self._ready: deque[Frame] = deque()
        self._eof = False
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._t0 = time.monotonic()

    def read(self) -> Frame | None:
        """Next frame (paced when realtime); ``None`` at the end (non-realtime) or after close."""
        while True:
            if self._closed.is_set():
                return None
            if self._ready:
                frame = self._ready.popleft()
                if self.realtime:
                    due = self._t0 + frame.end / SAMPLE_RATE
                    delay = due - time.monotonic()
                    if delay > 0 and self._closed.wait(delay):
                        return None
                return frame
            if self._eof:
                if not self.realtime:
                    return None
                # A realtime file behaves like a microphone in a quiet room after its end.
                self._ready.extend(self._conv.push(np.zeros(self._block, dtype=np.int16)))
                continue
            with self._lock:
                if self._closed.is_set():
                    return None
                try:
                    data = self._file.read(self._block, dtype="int16", always_2d=True)
                except (sf.LibsndfileError, RuntimeError) as exc:
                    self.errors += 1
                    log.error("audio input: reading %s failed: %s", self.path, exc)
                    data = np.zeros((0, 1), dtype=np.int16)
            if len(data) == 0:
                self._eof = True
                if not self.realtime:
                    self._ready.extend(self._conv.flush())
                continue
            self._ready.extend(self._conv.push(data[:, self.channel]))

    def close(self) -> None:
        """Close the file; a blocked :meth:`read` returns ``None``."""
        self._closed.set()
        with self._lock:
            self._file.close()

    def __enter__(self) -> FileSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


