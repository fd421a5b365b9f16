"""Microphone capture through PortAudio (PyAudio), converted to 16 kHz mono frames.

The stream uses PortAudio's callback API: the callback only puts the block on
a bounded queue, so the ALSA thread never waits for the consumer. Everything
else (conversion, framing, error handling) happens in :meth:`PyAudioSource.read`.

Faults never raise out of ``read()``:

- an input overflow flagged by PortAudio is counted in ``overflows`` and
  logged (rate-limited); how many samples the device lost is unknown, so the
  positions stay contiguous;
- a full capture queue (the consumer fell more than ``queue_s`` behind) drops
  the block, counts it in ``overflows`` and reports the exact loss as a gap;
- a device that fails to open, stops delivering (``stall_timeout_s``) or
  becomes inactive is closed and reopened with exponential backoff, PortAudio
  re-initialised each time so a re-plugged USB microphone is found again.
  Each fault increments ``errors`` and calls ``on_error(message)``; the first
  frame after a successful reopen carries ``gap`` = the estimated outage.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from agent.audio.devices import DeviceNotFound, find_device, supported
from agent.audio.frames import DEFAULT_FRAME_SAMPLES, SAMPLE_RATE, Converter, Frame
from agent.audio.util import RateLimitedLog
from agent.common.backoff import Backoff

log = logging.getLogger(__name__)

_POLL_S = 0.25


class PyAudioSource:
    """Capture from a PortAudio input device as 16 kHz mono :class:`Frame` objects.

    ``device`` is an index, a name substring or ``"default"``. The stream is
    opened at ``sample_rate``/``channels`` when the device supports them,
    otherwise at the device's own default rate (and 1 or 2 channels); either
    way ``channel`` is kept and the audio converted to 16 kHz with soxr.
    """

    def __init__(
        self,
        device: str | int = "default",
        sample_rate: int = SAMPLE_RATE,
        channels: int = 1,
        channel: int = 0,
        frame_samples: int = DEFAULT_FRAME_SAMPLES,
        *,
        on_error: Callable[[str], None] | None = None,
        initial_backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        stall_timeout_s: float = 2.0,
        queue_s: float = 10.0,
    ) -> None:
        if not 0 <= channel < channels:
            raise ValueError(f"channel {channel} does not exist in {channels}-channel audio")
        self.device = device
        self.sample_rate = sample_rate
        self.channels = channels
        self.channel = channel
        self.frame_samples = frame_samples
        self.errors = 0
        self._flagged_overflows = 0  # written by the consumer only
        self._queue_drops = 0  # written by the PortAudio callback only
        self.opened_rate: int | None = None
        """The rate the device is open at (None while it is not open)."""
        self.opened_channels: int | None = None
        self._on_error = on_error
        self._backoff = Backoff(initial_backoff_s, max_backoff_s, jitter=False)
        self._stall_timeout_s = stall_timeout_s
        self._queue_s = queue_s
        self._closed = threading.Event()
        self._lock = threading.Lock()  # guards _pa/_stream against close() from another thread
        self._pa: Any = None
        self._stream: Any = None
        self._queue: queue.Queue[tuple[bytes, int, int]] = queue.Queue()
        self._dropped = 0  # samples dropped by the callback since the last queued block
        self._last_data = 0.0  # monotonic time of the last callback
        self._last_outage_start = 0.0  # _last_data when the stream was last torn down
        self._converter: Converter | None = None
        self._position = 0
        self._ever_opened = False
        self._ready: deque[Frame] = deque()
        self._overflow_log = RateLimitedLog(log)
        self._next_open = 0.0
        self._open()

    # -- public API -------------------------------------------------------

    @property
    def overflows(self) -> int:
        """Overflows PortAudio flagged plus blocks dropped because the queue was full."""
        return self._flagged_overflows + self._queue_drops

    def read(self) -> Frame | None:
        """Block until the next frame; ``None`` only after :meth:`close`."""
        while True:
            if self._ready:
                return self._ready.popleft()
            if self._closed.is_set():
                return None
            if self._stream is None:
                delay = self._next_open - time.monotonic()
                if delay > 0 and self._closed.wait(delay):
                    return None
                self._open()
                continue
            try:
                block = self._queue.get(timeout=_POLL_S)
            except queue.Empty:
                self._check_alive()
                continue
            self._handle(block)

    def close(self) -> None:
        """Stop the stream and terminate PortAudio. Safe to call twice, from any thread."""
        self._closed.set()
        self._teardown()

    def __enter__(self) -> PyAudioSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals --------------------------------------------------------

    def _callback(
        self, in_data: bytes | None, frame_count: int, time_info: Any, status: int
    ) -> tuple[None, int]:
        import pyaudio

        self._last_data = time.monotonic()
        if in_data is not None:
            try:
                self._queue.put_nowait((in_data, status, self._dropped))
                self._dropped = 0
            except queue.Full:
                self._dropped += frame_count
                self._queue_drops += 1
        return (None, pyaudio.paContinue)

    def _handle(self, block: tuple[bytes, int, int]) -> None:
        import pyaudio

        data, status, dropped = block
        conv = self._converter
        assert conv is not None
        if status & pyaudio.paInputOverflow:
            self._flagged_overflows += 1
            self._overflow_log.warning(f"microphone input overflow ({self.overflows} so far)")
        if dropped:
            self._overflow_log.warning(
                f"capture queue full: dropped {dropped * 1000 // conv.rate} ms of audio"
            )
            self._ready.extend(conv.flush())
            conv.add_gap(max(1, round(dropped * SAMPLE_RATE / conv.rate)))
        self._ready.extend(conv.push_bytes(data))

    def _check_alive(self) -> None:
        stream = self._stream
        if stream is None:
            return
        try:
            active = bool(stream.is_active())
        except OSError:
            active = False
        if not active:
            self._fail("the microphone stream stopped")
        elif time.monotonic() - self._last_data > self._stall_timeout_s:
            self._fail(f"no audio from the microphone for {self._stall_timeout_s:g} s")

    def _fail(self, message: str) -> None:
        """Close a failed stream, keep every block it delivered, schedule a reopen."""
        if self._closed.is_set():
            return  # close() stopped the stream: not a device fault
        self._teardown()
        conv = self._converter
        if conv is not None:
            while True:
                try:
                    self._handle(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._ready.extend(conv.flush())
            self._position = conv.position
        self._report(message)

    def _report(self, message: str) -> None:
        self.errors += 1
        delay = self._backoff.next_delay()
        self._next_open = time.monotonic() + delay
        log.error("audio input: %s; retrying in %.1f s", message, delay)
        if self._on_error is not None:
            try:
                self._on_error(message)
            except Exception:  # a faulty listener must not stop the capture
                log.exception("on_error callback failed")

    def _open(self) -> None:
        import pyaudio

        try:
            pa = pyaudio.PyAudio()
        except OSError as exc:
            self._report(f"cannot initialise PortAudio: {exc}")
            return
        try:
            info = find_device(pa, self.device, "input")
            index = int(info["index"])
            rate, channels = self._choose_format(pa, info)
            channel = self.channel if self.channel < channels else 0
            if channel != self.channel:
                log.warning(
                    "audio input: %s has %d channel(s); using channel 0, not %d",
                    info["name"],
                    channels,
                    self.channel,
                )
            per_buffer = max(1, rate * self.frame_samples // SAMPLE_RATE)
            self._queue = queue.Queue(maxsize=max(4, int(self._queue_s * rate / per_buffer)))
            self._dropped = 0
            self._last_data = time.monotonic()
            stream = pa.open(
                format=pyaudio.paInt16,
                channels=channels,
                rate=rate,
                input=True,
                input_device_index=index,
                frames_per_buffer=per_buffer,
                stream_callback=self._callback,
            )
        except (DeviceNotFound, OSError, ValueError) as exc:
            pa.terminate()
            self._report(f"cannot open input device {self.device!r}: {exc}")
            return
        gap = 0
        if self._ever_opened:
            gap = max(1, round((time.monotonic() - self._last_outage_start) * SAMPLE_RATE))
        converter = Converter(rate, channels, channel, self.frame_samples, self._position)
        if gap:
            converter.add_gap(gap)
        with self._lock:
            self._pa, self._stream = pa, stream
        if self._closed.is_set():  # close() raced with the open
            self._teardown()
            return
        self._converter = converter
        self.opened_rate, self.opened_channels = rate, channels
        self._ever_opened = True
        self._backoff.reset()
        log.info(
            "audio input: %s at %d Hz, %d channel(s), keeping channel %d",
            info["name"],
            rate,
            channels,
            channel,
        )

    def _choose_format(self, pa: Any, info: dict[str, Any]) -> tuple[int, int]:
        index = int(info["index"])
        default_rate = int(info["defaultSampleRate"])
        max_channels = int(info["maxInputChannels"])
        for rate in dict.fromkeys((self.sample_rate, default_rate)):
            for channels in dict.fromkeys((self.channels, 1, 2)):
                if channels <= max_channels and supported(pa, index, rate, channels, "input"):
                    return rate, channels
        # Let PortAudio say what is wrong when the stream is opened.
        return default_rate, min(self.channels, max_channels)

    def _teardown(self) -> None:
        with self._lock:
            stream, pa = self._stream, self._pa
            self._stream = self._pa = None
        if stream is None and pa is None:
            return
        self._last_outage_start = self._last_data
        self.opened_rate = self.opened_channels = None
        if stream is not None:
            try:
                stream.stop_stream()
            except OSError:
                pass
            try:
                stream.close()
            except OSError:
                pass
        if pa is not None:
            pa.terminate()
