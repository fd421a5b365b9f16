"""Small helpers shared by the audio adapters: rate-limited logging."""

from __future__ import annotations

import logging
import time


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
