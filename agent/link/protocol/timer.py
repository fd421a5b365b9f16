"""The ``timer`` card of a ``response``: what a reply (or an announcement) is about.

``response.data.timer = {"id": str, "name": str, "event": "started|finished|cancelled",
"seconds": number}``. ``finished`` asks the device to ring until the user stops it.
:func:`timer_card` checks every field: a card with bad fields raises
:class:`ProtocolError`, so the caller can log it and drop the card alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agent.link.protocol.messages import ProtocolError

TIMER_EVENTS = ("started", "finished", "cancelled")


@dataclass(frozen=True)
class TimerCard:
    """A checked ``timer`` card."""

    id: str
    name: str
    event: str
    seconds: float


def timer_card(data: Mapping[str, Any]) -> TimerCard | None:
    """The ``timer`` card of a response's ``data``; None when there is none."""
    card = data.get("timer")
    if card is None:
        return None
    if not isinstance(card, Mapping):
        raise ProtocolError(f"'timer' must be an object, got {type(card).__name__}")
    tid, name, event, seconds = (card.get(k) for k in ("id", "name", "event", "seconds"))
    if not isinstance(tid, str) or not tid or len(tid) > 200:
        raise ProtocolError("timer 'id' must be a non-empty string")
    if not isinstance(name, str) or len(name) > 200:
        raise ProtocolError("timer 'name' must be a string")
    if event not in TIMER_EVENTS:
        raise ProtocolError(f"timer 'event' must be one of {'|'.join(TIMER_EVENTS)}, got {event!r}")
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not math.isfinite(seconds)
        or seconds < 0
    ):
        raise ProtocolError(f"timer 'seconds' must be a number >= 0, got {seconds!r}")
    return TimerCard(tid, name, str(event), float(seconds))
