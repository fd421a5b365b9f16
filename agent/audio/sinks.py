"""Audio sinks: a PortAudio output device, or a WAV file standing in for a speaker.

A :class:`Sink` takes int16 mono samples at its own ``rate`` and blocks in
:meth:`~Sink.write` like a speaker would, so the caller (the
:class:`~agent.audio.playback.Player`'s thread) is paced by it.
:meth:`~Sink.interrupt` (any thread) drops whatever is buffered and wakes a
blocked ``write``/``drain`` at once: that is how barge-in stops the sound.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from agent.audio.devices import DeviceNotFound, find_device, supported
from agent.audio.frames import SAMPLE_RATE

log = logging.getLogger(__name__)


class Sink(Protocol):
    """Where played audio goes."""

    rate: int

    def write(self, samples: np.ndarray) -> None:
        """Play int16 mono ``samples`` at :attr:`rate`; blocks while the output is full."""
        ...

    def drain(self) -> None:
        """Block until everything written has been heard (or :meth:`interrupt`)."""
        ...

    def interrupt(self) -> None:
        """Drop buffered audio and wake a blocked write/drain. Thread-safe."""
        ...

    def close(self) -> None:
        """Release the device or file."""
        ...


class OutputSettings(Protocol):
    """The fields of the configuration's ``audio.output`` that sinks use."""

    @property
    def device(self) -> str | int: ...

    @property
    def file(self) -> str | None: ...

    @property
    def realtime(self) -> bool: ...


def open_sink(settings: OutputSettings, *, on_error: Callable[[str], None] | None = None) -> Sink:
    """Open the sink ``audio.output`` describes: ``file`` if set, else ``device``."""
    if settings.file:
        return FileSink(settings.file, realtime=settings.realtime)
    return PyAudioSink(settings.device, on_error=on_error)


class _Waiter:
    """Interruptible waits: :meth:`interrupt` wakes every wait in progress."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.generation = 0

    def wait_until(self, due: float, generation: int) -> bool:
        """Wait until monotonic ``due``; False if interrupted since ``generation``."""
        with self.cond:
            while self.generation == generation:
                delay = due - time.monotonic()
                if delay <= 0:
                    return True
                self.cond.wait(delay)
            return False

    def interrupt(self) -> None:
        with self.cond:
            self.generation += 1
            self.cond.notify_all()


class FileSink:
    """Write everything played to a 16 kHz mono 16-bit WAV file (created afresh).

    The header is rewritten after every write, so the file is a valid WAV at
    any moment, even while the daemon runs. With ``realtime`` each write takes
    as long as its audio would on a speaker (a monotonic clock that restarts
    after idle time, so it never drifts or bursts to catch up); without it,
    writes return at once.
    """

    rate = SAMPLE_RATE

    def __init__(self, path: str | os.PathLike[str], realtime: bool = True) -> None:
        self.path = Path(path)
        self.realtime = realtime
        self.samples_written = 0
        """Total samples written to the file."""
        self._lock = threading.Lock()
        self._wav: Any = wave.open(str(self.path), "wb")
        self._wav.setnchannels(1)
        self._wav.setsampwidth(2)
        self._wav.setframerate(self.rate)
        self._wav.writeframes(b"")  # a valid (empty) file from the start
        self._waiter = _Waiter()
        self._t0: float | None = None
        self._clock_samples = 0

    def write(self, samples: np.ndarray) -> None:
        """Append ``samples``; when realtime, return once they would have been heard."""
        data = np.asarray(samples, dtype="<i2").tobytes()
        generation = self._waiter.generation
        with self._lock:
            if self._wav is None:
                return
            self._wav.writeframes(data)
            self.samples_written += len(samples)
        if not self.realtime:
            return
        now = time.monotonic()
        if self._t0 is None or now > self._t0 + self._clock_samples / self.rate:
            self._t0, self._clock_samples = now, 0  # the speaker was idle: restart its clock
        self._clock_samples += len(samples)
        if not self._waiter.wait_until(self._t0 + self._clock_samples / self.rate, generation):
            self._t0 = None

    def drain(self) -> None:
        """Nothing is buffered: each write already waited for its audio."""

    def interrupt(self) -> None:
        """Wake a pacing wait at once."""
        self._waiter.interrupt()

    def close(self) -> None:
        """Finish the WAV file."""
        self._waiter.interrupt()
        with self._lock:
            if self._wav is not None:
                self._wav.close()
                self._wav = None


class PyAudioSink:
    """Play through a PortAudio output device at its default rate.

    The stream uses the callback API with a small buffer (``buffer_ms``): the
    callback takes what is buffered and fills the rest with silence, so an
    underrun is quiet and :meth:`interrupt` only has to clear the buffer. If
    the device cannot be opened, or stops taking audio, the error is counted
    in ``errors``, logged and passed to ``on_error``; writes then keep time
    without sound and the device is tried again every ``retry_s``.
    """

    def __init__(
        self,
        device: str | int = "default",
        *,
        buffer_ms: int = 100,
        on_error: Callable[[str], None] | None = None,
        retry_s: float = 5.0,
    ) -> None:
        self.device = device
        self.rate = SAMPLE_RATE
        self.channels = 1
        self.errors = 0
        self._buffer_ms = buffer_ms
        self._on_error = on_error
        self._retry_s = retry_s
        self._waiter = _Waiter()
        self._buf = bytearray()
        self._pa: Any = None
        self._stream: Any = None
        self._next_try = 0.0
        self._last_callback = 0.0
        self._open()

    @property
    def _capacity(self) -> int:
        return max(2, self.rate * self._buffer_ms // 1000 * 2)

    def write(self, samples: np.ndarray) -> None:
        """Queue ``samples`` for the device, blocking while its buffer is full."""
        generation = self._waiter.generation
        if self._stream is None and time.monotonic() >= self._next_try:
            self._open()
        data = np.asarray(samples, dtype="<i2").tobytes()
        if self._stream is None:  # no device: keep time so replies still end
            self._waiter.wait_until(time.monotonic() + len(samples) / self.rate, generation)
            return
        cond = self._waiter.cond
        while data:
            with cond:
                if self._waiter.generation != generation:
                    return
                room = self._capacity - len(self._buf)
                if room >= 2:
                    take = room - room % 2
                    self._buf += data[:take]
                    data = data[take:]
                    continue
                cond.wait(0.5)
                stalled = time.monotonic() - self._last_callback > 2.0
            if stalled:
                self._fail("the output device stopped taking audio")
                return

    def drain(self) -> None:
        """Wait until the buffer has gone to the device, plus the device's latency."""
        generation = self._waiter.generation
        cond = self._waiter.cond
        with cond:
            while self._buf and self._stream is not None:
                if self._waiter.generation != generation:
                    return
                cond.wait(0.5)
                if time.monotonic() - self._last_callback > 2.0:
                    break
        stream = self._stream
        latency = 0.0
        if stream is not None:
            try:
                latency = float(stream.get_output_latency())
            except OSError:
                latency = 0.0
        self._waiter.wait_until(time.monotonic() + latency, generation)

    def interrupt(self) -> None:
        """Drop the buffered audio and wake any waiting write/drain."""
        with self._waiter.cond:
            self._buf.clear()
        self._waiter.interrupt()

    def close(self) -> None:
        """Stop the stream and terminate PortAudio."""
        self.interrupt()
        self._teardown()

    def _callback(
        self, in_data: bytes | None, frame_count: int, time_info: Any, status: int
    ) -> tuple[bytes, int]:
        import pyaudio

        need = frame_count * 2
        with self._waiter.cond:
            chunk = bytes(self._buf[:need])
            del self._buf[:need]
            self._last_callback = time.monotonic()
            self._waiter.cond.notify_all()
        if len(chunk) < need:
            chunk += bytes(need - len(chunk))
        if self.channels > 1:
            mono = np.frombuffer(chunk, "<i2")
            chunk = np.repeat(mono, self.channels).astype("<i2").tobytes()
        return (chunk, pyaudio.paContinue)

    def _open(self) -> None:
        import pyaudio

        try:
            pa = pyaudio.PyAudio()
        except OSError as exc:
            self._report(f"cannot initialise PortAudio: {exc}")
            return
        try:
            info = find_device(pa, self.device, "output")
            index = int(info["index"])
            rate = int(info["defaultSampleRate"])
            channels = 1 if supported(pa, index, rate, 1, "output") else 2
            self._last_callback = time.monotonic()
            stream = pa.open(
                format=pyaudio.paInt16,
                channels=channels,
                rate=rate,
                output=True,
                output_device_index=index,
                frames_per_buffer=max(1, rate // 50),
                stream_callback=self._callback,
            )
        except (DeviceNotFound, OSError, ValueError) as exc:
            pa.terminate()
            self._report(f"cannot open output device {self.device!r}: {exc}")
            return
        self._pa, self._stream = pa, stream
        self.rate, self.channels = rate, channels
        log.info("audio output: %s at %d Hz, %d channel(s)", info["name"], rate, channels)

    def _fail(self, message: str) -> None:
        self._teardown()
        self._report(message)

    def _report(self, message: str) -> None:
        self.errors += 1
        self._next_try = time.monotonic() + self._retry_s
        log.error("audio output: %s; retrying in %.0f s", message, self._retry_s)
        if self._on_error is not None:
            try:
                self._on_error(message)
            except Exception:  # a faulty listener must not stop playback
                log.exception("on_error callback failed")

    def _teardown(self) -> None:
        stream, pa = self._stream, self._pa
        self._stream = self._pa = None
        with self._waiter.cond:
            self._buf.clear()
        if stream is not None:
            try:
                stream.stop_stream()
                stream.close()
            except OSError:
                pass
        if pa is not None:
            pa.terminate()
