"""Retry delays: exponential backoff, with full jitter by default."""

from __future__ import annotations

import random


class Backoff:
    """Exponential backoff, with full jitter unless ``jitter=False``.

    The n-th delay (from 0) is ``uniform(0, min(max_s, initial_s * 2**n))``,
    or that bound itself without jitter (a local device reopening has nobody
    to collide with, so the audio adapters use the plain doubling).
    Hand-written (ten lines) rather than ``backoff``/``tenacity``: those wrap
    a function call in retries, while this loop needs a delay it can wait on
    interruptibly, report, and reset when a connection proves itself.
    """

    def __init__(
        self,
        initial_s: float,
        max_s: float,
        rng: random.Random | None = None,
        *,
        jitter: bool = True,
    ) -> None:
        self.initial_s = max(0.0, float(initial_s))
        self.max_s = max(self.initial_s, float(max_s))
        self.attempt = 0
        self.jitter = jitter
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        """The next delay in seconds, within ``[0, max_s]``."""
        cap = min(self.max_s, self.initial_s * 2.0 ** min(self.attempt, 64))
        self.attempt += 1
        return self._rng.uniform(0.0, cap) if self.jitter else cap

    def reset(self) -> None:
        """Start again from ``initial_s``."""
        self.attempt = 0
