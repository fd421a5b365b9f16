"""The hook command (``hooks.command``): every event as one JSON line on its stdin.

The command is started once and kept running: LED scripts and MQTT bridges
keep their state between events. If it exits it is started again after an
exponential backoff (no jitter: nobody to collide with), reset once it has
stayed up for a while.

Never in the conversation's way: :meth:`HookRunner.observe` only puts a line
on a bounded queue (``put_nowait``) and returns; a writer thread feeds the
command. A hook that reads slowly or not at all fills its pipe, then the
queue, and from then on events are dropped: counted in :attr:`dropped` (and
the metrics) and logged at most every 10 s.
"""

from __future__ import annotations

import fcntl
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from agent.audio.util import RateLimitedLog
from agent.common.backoff import Backoff
from agent.common.event_sink import json_line

log = logging.getLogger(__name__)

QUEUE_LINES = 256
"""Events held for a hook that is behind (beyond its 64 KiB pipe) before drops begin."""

PIPE_BYTES = 4096
"""The hook's stdin pipe size (Linux's minimum, one page)."""

STABLE_S = 10.0
"""A hook that ran this long has proved itself: the restart backoff starts again."""


class HookRunner:
    """Runs ``argv`` and writes the events named in ``events`` (None: all) to its stdin."""

    def __init__(
        self,
        argv: Sequence[str],
        events: Sequence[str] | None = None,
        *,
        queue_lines: int = QUEUE_LINES,
        backoff: Backoff | None = None,
    ) -> None:
        self.argv = list(argv)
        self.events = frozenset(events) if events is not None else None
        self.dropped = 0
        self.restarts = 0  # starts after the first one
        self._queue: queue.Queue[str] = queue.Queue(maxsize=queue_lines)
        self._backoff = backoff or Backoff(0.5, 30.0, jitter=False)
        self._drop_log = RateLimitedLog(log)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None
        self._thread = threading.Thread(target=self._run, name="hook", daemon=True)

    @property
    def name(self) -> str:
        """The program's file name (its arguments may hold secrets, so they are never logged)."""
        return os.path.basename(self.argv[0])

    @property
    def pid(self) -> int | None:
        """The running command's process id, or None."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def start(self) -> None:
        """Start the writer thread (which starts the command)."""
        self._thread.start()

    def observe(self, record: dict[str, Any]) -> None:
        """Queue one event record (any thread; never blocks)."""
        if self.events is not None and record.get("event") not in self.events:
            return
        try:
            self._queue.put_nowait(json_line(record) + "\n")
        except queue.Full:
            with self._lock:
                self.dropped += 1
                dropped = self.dropped
                self._drop_log.warning(
                    f"hook {self.name} is not keeping up: {dropped} events dropped so far"
                )

    # ------------------------------------------------------------ writer thread
    def _run(self) -> None:
        while not self._stop.is_set():
            proc = self._spawn()
            if proc is None:
                self._stop.wait(self._backoff.next_delay())
                continue
            started = time.monotonic()
            self._feed(proc)
            if self._stop.is_set():
                return
            code = proc.wait()
            ran = time.monotonic() - started
            if ran >= STABLE_S:
                self._backoff.reset()
            delay = self._backoff.next_delay()
            log.warning(
                "hook %s exited with status %s after %.1f s; starting it again in %.1f s",
                self.name, code, ran, delay,
            )
            self._stop.wait(delay)

    def _spawn(self) -> subprocess.Popen[bytes] | None:
        try:
            out: Any = sys.stderr.fileno()  # its prints go to the journal, not the event log
        except (AttributeError, OSError, ValueError):
            out = subprocess.DEVNULL
        try:
            proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.PIPE,
                stdout=out,
                bufsize=0,  # raw writes: no buffer lock for close() to wait on
                start_new_session=True,  # its own process group, ended as one at close
            )
        except OSError as exc:
            log.error("hook %s cannot start: %s", self.name, exc.strerror or exc)
            return None
        assert proc.stdin is not None
        try:
            # The smallest pipe (one page): the bounded queue, where drops are
            # counted, is what holds a slow hook's backlog, not 64 KiB of stale
            # events in the kernel.
            fcntl.fcntl(proc.stdin.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        except OSError:
            pass
        with self._lock:
            if self._proc is not None:
                self.restarts += 1
            self._proc = proc
        log.info("hook %s started (pid %d)", self.name, proc.pid)
        return proc

    def _feed(self, proc: subprocess.Popen[bytes]) -> None:
        """Write queued lines until the command exits or the runner stops."""
        assert proc.stdin is not None
        while not self._stop.is_set():
            try:
                line = self._queue.get(timeout=0.5)
            except queue.Empty:
                if proc.poll() is not None:
                    return
                continue
            try:
                data = line.encode()
                while data:  # a raw pipe may take a long line in parts
                    data = data[proc.stdin.write(data) or 0 :]
            except (BrokenPipeError, OSError, ValueError):
                with self._lock:
                    self.dropped += 1  # it died; the line is lost with it
                return

    # ------------------------------------------------------------ closing
    def close(self, timeout: float = 2.0) -> None:
        """Stop feeding, give the command EOF and ``timeout`` s, then end its process group."""
        self._stop.set()
        proc = self._proc
        if proc is not None:
            _end(proc, timeout)
        if self._thread.is_alive():
            self._thread.join(timeout + 1.0)
        if self._proc is not None and self._proc is not proc:  # started while closing
            _end(self._proc, timeout)


def _end(proc: subprocess.Popen[bytes], timeout: float) -> None:
    if proc.stdin is not None:
        try:
            proc.stdin.close()  # EOF: a well-behaved hook exits by itself
        except OSError:
            pass
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            proc.wait(timeout)
            return
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, sig)  # also ends a writer blocked on its pipe
            except (ProcessLookupError, PermissionError):
                pass
    proc.wait(timeout)
