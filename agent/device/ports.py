"""The ports the conversation drives: what it needs of each part of the device.

The conversation knows nothing of PortAudio, websockets or gpiozero; the
daemon (or a test) hands it objects with these shapes, built in one place.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from agent.link import protocol


class Link(Protocol):
    """The gateway connection, as the conversation sees it."""

    @property
    def connected(self) -> bool:
        """Whether messages can be sent now."""
        ...

    def send(self, msg: protocol.ClientMessage) -> bool:
        """Send one message; False when not connected."""
        ...


class Speaker(Protocol):
    """Reply playback and sounds."""

    def start(self, reply_id: str) -> None:
        """Begin reply ``reply_id``, stopping any other."""
        ...

    def feed(self, data: bytes) -> None:
        """Queue encoded reply audio for the current reply."""
        ...

    def finish(self) -> None:
        """No more audio for the current reply."""
        ...

    def stop(self) -> None:
        """Stop at once (barge-in)."""
        ...

    def command(self, feature: str, action: str) -> bool:
        """Apply a command card; False when unknown."""
        ...

    def sound(self, name: str) -> int:
        """Play sound ``name`` (wake/done/error/alarm); returns its length in samples."""
        ...

    @property
    def volume(self) -> float:
        """Playback volume, 0..1."""
        ...

    def set_volume(self, level: float) -> float:
        """Set the playback volume (clamped to 0..1); returns it."""
        ...


class Endpointer(Protocol):
    """End-of-speech detection for one listening period, in audio time."""

    def process(self, samples: np.ndarray, position: int) -> tuple[str, int] | None:
        """Feed samples; returns ``(kind, pos)`` with kind one of ``speech`` (speech
        began), ``end`` (silence after speech), ``no_speech`` or ``max_length``."""
        ...


class Indicator(Protocol):
    """The status LED (or nothing)."""

    def show(self, state: str) -> None:
        """Show idle/listening/waiting/speaking/error/disconnected."""
        ...


class EventOut(Protocol):
    """Where events go (log lines or JSON)."""

    def emit(self, event: str, **fields: Any) -> None:
        """Report one event."""
        ...


class Ring(Protocol):
    """The pre-roll ring buffer of capture samples by absolute position."""

    def append_samples(self, samples: np.ndarray, position: int) -> None:
        """Add samples starting at ``position`` (a gap restarts the ring)."""
        ...

    def read(self, start: int, end: int) -> np.ndarray:
        """Samples ``[start, end)``."""
        ...

    @property
    def start(self) -> int:
        """The oldest position still held."""
        ...


@dataclass
class Ports:
    """Everything the conversation drives, built by the daemon (or a test)."""

    link: Link
    speaker: Speaker
    ring: Ring
    new_endpointer: Callable[[int, float, float], Endpointer]  # (start, no_speech_s, max_s)
    events: EventOut
    indicator: Indicator | None = None
    set_speaking: Callable[[bool], None] = lambda _on: None
    say: Callable[[str], bytes | None] = lambda _text: None  # local TTS -> WAV bytes
    show: Callable[[str], None] = print
    on_state: Callable[[str], None] = lambda _s: None
    recorder: Any = None
    clock: Callable[[], float] = time.monotonic
