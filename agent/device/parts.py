"""What the daemon needs of each part it wires: Protocols, so mypy checks the wiring.

:class:`agent.device.ports.Ports` is what the *conversation* may touch; these
are what the *daemon* builds and runs (start, read, close). A test or a new
adapter (a simulated room, another wake engine) fits in by matching one of
these shapes, with no base class to inherit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from agent.audio.frames import Source
from agent.common.event_sink import EventEmitter
from agent.device.ports import Link
from agent.device.recorder import TurnRecorder


class Detection(Protocol):
    """One wake word detection, as a wake engine reports it."""

    @property
    def model(self) -> str: ...

    @property
    def score(self) -> float: ...

    @property
    def position(self) -> int: ...


class WakeEngine(Protocol):
    """Runs on the capture thread: frames in, detections out."""

    def process(self, frame: np.ndarray, position: int) -> Sequence[Detection]:
        """The detections in one frame of 16 kHz int16 samples at ``position``."""
        ...

    def set_speaking(self, speaking: bool) -> None:
        """While the device speaks, the raised self-trigger threshold applies."""
        ...


class Connection(Link, Protocol):
    """The gateway link as the daemon runs it (a ``GatewayConnection``)."""

    def start(self) -> None: ...

    def wait_connected(self, timeout: float | None = None) -> bool: ...

    def set_location(self, latitude: float, longitude: float) -> bool: ...

    def close(self, timeout: float = 5.0) -> None: ...


class Playback(Protocol):
    """The reply and sound player (:class:`~agent.audio.playback.Player`)."""

    volume: float
    volume_step: float

    @property
    def muted(self) -> bool: ...

    def start(self, reply_id: str, content_type: str | None = None) -> None: ...

    def feed(self, data: bytes) -> None: ...

    def finish(self) -> None: ...

    def stop(self) -> None: ...

    def play_sound(self, samples: np.ndarray, rate: int = ...) -> object: ...

    def mute(self) -> None: ...

    def unmute(self) -> None: ...

    def close(self) -> None: ...


class Led(Protocol):
    """The status LED (:class:`~agent.device.led.StatusLed`)."""

    @property
    def enabled(self) -> bool: ...

    def off(self) -> None: ...

    def on(self) -> None: ...

    def slow_blink(self) -> None: ...

    def fast_blink(self, duration_s: float | None = None) -> None: ...

    def disconnected(self) -> None: ...

    def muted(self) -> None: ...
    def ringing(self) -> None: ...


class GpioParts(Protocol):
    """The button and LED (:class:`~agent.device.gpio.Gpio`)."""

    @property
    def led(self) -> Led: ...

    def close(self) -> None: ...


class Notify(Protocol):
    """systemd's notify protocol (:class:`~agent.device.notify.Notifier`)."""

    def ready(self, status: str | None = None) -> bool: ...

    def status(self, text: str) -> bool: ...

    def watchdog(self) -> bool: ...

    def stopping(self) -> bool: ...

    def reloading(self) -> bool: ...


@dataclass
class Parts:
    """The adapters a daemon is built from (in :meth:`Daemon._build`, one place)."""

    source: Source
    detector: WakeEngine
    connection: Connection
    player: Playback
    gpio: GpioParts
    notifier: Notify
    events: EventEmitter
    recorder: TurnRecorder | None = None
