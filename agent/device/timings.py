"""Optional timestamps of a few moments inside the daemon, for the benchmarks.

Off unless the environment variable ``VOICE_AGENT_TIMINGS`` names a file when
this module is first imported. Then every :func:`mark` appends one JSON line
``{"mark": NAME, "t": SECONDS, ...fields}`` to it, where ``t`` is
``time.monotonic()``: CLOCK_MONOTONIC on Linux, one clock for every process
of the machine, so ``scripts/bench.py`` compares these marks with its own
timestamps on the gateway side. When off, :func:`mark` returns at once and
nothing else changes: the daemon behaves exactly the same either way.

Marks written by the daemon (see ``agent/daemon.py``):

* ``wake_detected`` (``position``): the wake detector returned a detection
  (capture thread).
* ``gateway_message`` (``action``, ``id``): a message from the gateway was
  decoded (connection thread), before it is queued for the conversation.
* ``playback_started`` (``id``): the first sample of a reply is about to be
  written to the output device (playback thread, the Player's ``on_started``).
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any, TextIO

__all__ = ["ENV", "enabled", "mark"]

ENV = "VOICE_AGENT_TIMINGS"
"""The environment variable naming the file marks are appended to."""

_lock = threading.Lock()
_out: TextIO | None = None


def _open_from_environment() -> None:
    global _out
    path = os.environ.get(ENV)
    if path:
        # Line-buffered: each mark reaches the file at once, so a benchmark can
        # read the marks of a process that is still running (or was killed).
        _out = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 - lives as long as the process


def enabled() -> bool:
    """Whether marks are being recorded in this process."""
    return _out is not None


def mark(name: str, **fields: Any) -> None:
    """Record that ``name`` happened now (a no-op unless enabled)."""
    out = _out
    if out is None:
        return
    now = time.monotonic()
    line = json.dumps({"mark": name, "t": now, **fields}, separators=(",", ":"), default=str)
    with _lock:
        out.write(line + "\n")


_open_from_environment()
