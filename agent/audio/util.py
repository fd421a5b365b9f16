"""Small helpers shared by the audio adapters: backoff and rate-limited logging."""

from __future__ import annotations

import logging
import time


class Backoff:
    """Exponential backoff between ``initial_s`` and ``max_s`` (doubling, no jitter).

    No jitter: one device on one machine has nobody to collide with.
    """

    def __init__(self, initial_s: float = 0.5, max_s: float = 30.0) -> None:
        if initial_s <= 0 or max_s < initial_s:
            raise ValueError("backoff needs 0 < initial_s <= max_s")
        self.initial_s = initial_s
        self.max_s = max_s
        self._next = initial_s

    def next(self) -> float:
        """Return the delay to wait now and double the following one."""
        delay = self._next
        self._next = min(self._next * 2, self.max_s)
        return delay

    def reset(self) -> None:
        """Start again from ``initial_s`` (after a run that went well)."""
        self._next = self.initial_s


class RateLimitedLog:
    """Log a recurring condition at most once per ``interval_s``, with a count.

    The first occurrence is logged at once; later ones are summarised
    ("... (N times since last report)") so a flood never fills the journal
    and never goes unreported.
    """

    def __init__(self, logger: logging.Logger, interval_s: float = 10.0) -> None:
        self._logger = logger
        self._interval_s = interval_s
        self._last: float | None = None
        self._suppressed = 0

    def warning(self, message: str) -> None:
        """Log ``message`` now, or count it if one was logged recently."""
        now = time.monotonic()
        if self._last is not None and now - self._last < self._interval_s:
            self._suppressed += 1
            return
        if self._suppressed:
            message = f"{message} ({self._suppressed + 1} times since last report)"
        self._logger.warning("%s", message)
        self._last = now
        self._suppressed = 0
