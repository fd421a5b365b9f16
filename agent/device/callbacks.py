"""Callbacks from gpiozero's threads, guarded so a bug in one is logged, not lost."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

def guarded(name: str, fn: Callable[..., None] | None) -> Callable[..., None]:
    """Wrap a daemon callback so a bug in it is logged, not lost in a gpiozero thread."""

    def call(*args: Any) -> None:
        if fn is None:
            return
        try:
            fn(*args)
        except Exception:
            log.exception("GPIO %s callback failed", name)

    return call
