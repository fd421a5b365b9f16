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
import queue
import shlex
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np
import soundfile as sf

from agent.audio.frames import (
    DEFAULT_FRAME_SAMPLES,
    SAMPLE_RATE,
    Converter,
    Frame,
    Source,
)
from agent.common.backoff import Backoff

log = logging.getLogger(__name__)

__all__ = ["CommandSource", "FileSource", "Frame", "Source", "SourceError", "open_source"]


class SourceError(Exception):
    """A source cannot be set up at all (unreadable file, empty command)."""


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


class CommandSource:
    """Frames from a command that prints raw s16le PCM on stdout (e.g. ``arecord -t raw``).

    The command (split with :func:`shlex.split`, run without a shell) is
    expected to produce ``sample_rate``/``channels`` audio in real time; the
    ``channel`` is kept and converted to 16 kHz. When it exits it is restarted
    with exponential backoff: ``errors`` and ``restarts`` count that,
    ``on_error(message)`` is told, and the first frame of the new run carries
    ``gap`` = the wall-clock outage in samples (at least 1). On :meth:`close`
    its process group gets SIGTERM, then SIGKILL.
    """

    def __init__(
        self,
        command: str,
        sample_rate: int = SAMPLE_RATE,
        channels: int = 1,
        channel: int = 0,
        frame_samples: int = DEFAULT_FRAME_SAMPLES,
        *,
        on_error: Callable[[str], None] | None = None,
        initial_backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        healthy_run_s: float = 10.0,
        queue_s: float = 10.0,
    ) -> None:
        self.argv = shlex.split(command)
        if not self.argv:
            raise SourceError("audio.input.command is empty")
        self.frame_samples = frame_samples
        self.errors = 0
        self.overflows = 0
        self.restarts = 0
        self._conv = Converter(sample_rate, channels, channel, frame_samples)
        self._on_error = on_error
        self._backoff = Backoff(initial_backoff_s, max_backoff_s, jitter=False)
        self._healthy_run_s = healthy_run_s
        block_frames = max(1, sample_rate * frame_samples // SAMPLE_RATE)
        self._block_bytes = block_frames * channels * 2
        self._queue: queue.Queue[tuple[str, bytes | int]] = queue.Queue(
            maxsize=max(4, int(queue_s * sample_rate / block_frames))
        )
        self._ready: deque[Frame] = deque()
        self._ended = False
        self._closed = threading.Event()
        self._proc_lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._thread = threading.Thread(target=self._run, name="capture-command", daemon=True)
        self._thread.start()

    def read(self) -> Frame | None:
        """Block until the next frame; ``None`` after :meth:`close`."""
        while True:
            if self._ready:
                return self._ready.popleft()
            if self._ended:
                return None
            try:
                kind, value = self._queue.get(timeout=0.25)
            except queue.Empty:
                if self._closed.is_set() and not self._thread.is_alive():
                    self._ended = True
                continue
            if kind == "data":
                assert isinstance(value, bytes)
                self._ready.extend(self._conv.push_bytes(value))
            elif kind == "flush":
                self._ready.extend(self._conv.flush())
            elif kind == "gap":
                assert isinstance(value, int)
                self._conv.add_gap(value)
            else:
                self._ended = True

    def close(self) -> None:
        """Kill the command (process group) and stop the reader thread."""
        self._closed.set()
        self._kill()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=10)
        try:  # wake a read() blocked on an empty queue
            self._queue.put_nowait(("end", 0))
        except queue.Full:
            pass

    def __enter__(self) -> CommandSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reader thread ----------------------------------------------------

    def _put(self, item: tuple[str, bytes | int]) -> bool:
        """Queue an item, waiting while the consumer is behind; False once closed."""
        while not self._closed.is_set():
            try:
                self._queue.put(item, timeout=0.25)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        # Gaps are measured from the end of the last audio to the first audio of the
        # next run; before any audio has arrived there is nothing to leave a gap in.
        outage_start: float | None = None
        ever_data = False
        try:
            while not self._closed.is_set():
                started = time.monotonic()
                try:
                    proc = subprocess.Popen(
                        self.argv,
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.PIPE,
                        start_new_session=True,  # so close() can kill the whole group
                    )
                except OSError as exc:
                    if ever_data and outage_start is None:
                        outage_start = time.monotonic()
                    self._failed(f"cannot start capture command {self.argv[0]!r}: {exc}")
                    continue
                with self._proc_lock:
                    self._proc = proc
                if self._closed.is_set():
                    self._kill()
                assert proc.stdout is not None
                fd = proc.stdout.fileno()
                while True:
                    try:
                        data = os.read(fd, self._block_bytes)
                    except OSError:
                        data = b""
                    if not data:
                        break
                    ever_data = True
                    if outage_start is not None:
                        gap = max(1, round((time.monotonic() - outage_start) * SAMPLE_RATE))
                        outage_start = None
                        if not self._put(("gap", gap)):
                            break
                    if not self._put(("data", data)):
                        break
                proc.stdout.close()
                code = proc.wait()
                with self._proc_lock:
                    self._proc = None
                if self._closed.is_set():
                    break
                self._put(("flush", 0))
                if ever_data and outage_start is None:
                    outage_start = time.monotonic()
                if time.monotonic() - started >= self._healthy_run_s:
                    self._backoff.reset()
                self.restarts += 1
                self._failed(f"capture command exited with status {code}")
        finally:
            try:
                self._queue.put_nowait(("end", 0))
            except queue.Full:
                pass  # close() puts one too, after the consumer has room

    def _failed(self, message: str) -> None:
        self.errors += 1
        delay = self._backoff.next_delay()
        log.error("audio input: %s; restarting in %.1f s", message, delay)
        if self._on_error is not None:
            try:
                self._on_error(message)
            except Exception:  # a faulty listener must not stop the capture
                log.exception("on_error callback failed")
        self._closed.wait(delay)

    def _kill(self) -> None:
        with self._proc_lock:
            proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        for sig, wait_s in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                proc.wait(timeout=wait_s)
                return
            except subprocess.TimeoutExpired:
                continue
