"""One doctor line (:class:`Check`: OK, WARN or FAIL with a fix) and level formatting."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    """The outcome of one check: ``ok`` True (OK), None (WARN) or False (FAIL)."""

    name: str
    ok: bool | None
    detail: str
    fix: str | None = None
    """What to do about a WARN or FAIL (None when there is nothing to do)."""

    @property
    def status(self) -> str:
        """``OK``, ``WARN`` or ``FAIL``."""
        return {True: "OK", None: "WARN", False: "FAIL"}[self.ok]


def dbfs(peak: float) -> float:
    """The level of a peak sample value (int16 scale) in dBFS; -inf for 0."""
    return 20 * math.log10(peak / 32768) if peak > 0 else -math.inf


def fmt_db(level: float) -> str:
    """A level in dB with one decimal ("-inf" for silence, never "-0.0")."""
    return f"{round(level, 1) + 0.0:.1f}" if math.isfinite(level) else "-inf"
