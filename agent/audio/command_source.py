"""A capture source that runs a command printing raw PCM (``audio.input.command``).

The command is restarted with backoff when it exits; the outage becomes a
gap in the frames' positions (see :mod:`agent.audio.frames`).
"""

from __future__ import annotations

import logging
import os
import queue
import shlex
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable

from agent.audio.frames import DEFAULT_FRAME_SAMPLES, SAMPLE_RATE, Converter, Frame
from agent.common.backoff import Backoff

log = logging.getLogger(__name__)


class SourceError(Exception):
    """A source cannot be set up at all (unreadable file, empty command)."""


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
        self._outage_start: float | None = None
        self._ever_data = False
        try:
            while not self._closed.is_set():
                started = time.monotonic()
                proc = self._start()
                if proc is None:
                    continue
                self._pump(proc)
                if not self._reap(proc, started):
                    break
        finally:
            try:
                self._queue.put_nowait(("end", 0))
            except queue.Full:
                pass  # close() puts one too, after the consumer has room

    def _outage_begins(self) -> None:
        if self._ever_data and self._outage_start is None:
            self._outage_start = time.monotonic()

    def _start(self) -> subprocess.Popen[bytes] | None:
        """Start the command (None after reporting why it could not start)."""
        try:
            proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                start_new_session=True,  # so close() can kill the whole group
            )
        except OSError as exc:
            self._outage_begins()
            self._failed(f"cannot start capture command {self.argv[0]!r}: {exc}")
            return None
        with self._proc_lock:
            self._proc = proc
        if self._closed.is_set():
            self._kill()
        return proc

    def _pump(self, proc: subprocess.Popen[bytes]) -> None:
        """Queue the command's audio (after a gap marker for any outage) until it ends."""
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        while True:
            try:
                data = os.read(fd, self._block_bytes)
            except OSError:
                data = b""
            if not data:
                return
            self._ever_data = True
            if self._outage_start is not None:
                gap = max(1, round((time.monotonic() - self._outage_start) * SAMPLE_RATE))
                self._outage_start = None
                if not self._put(("gap", gap)):
                    return
            if not self._put(("data", data)):
                return

    def _reap(self, proc: subprocess.Popen[bytes], started: float) -> bool:
        """Reap the command; report its exit and back off. False when closing."""
        assert proc.stdout is not None
        proc.stdout.close()
        code = proc.wait()
        with self._proc_lock:
            self._proc = None
        if self._closed.is_set():
            return False
        self._put(("flush", 0))
        self._outage_begins()
        if time.monotonic() - started >= self._healthy_run_s:
            self._backoff.reset()
        self.restarts += 1
        self._failed(f"capture command exited with status {code}")
        return True

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
