"""The events that adapters post to the conversation's one queue.

Every adapter (capture thread, WebSocket thread, gpiozero callbacks, playback,
signal handlers) only constructs one of these and puts it on the queue; the
conversation thread is the only code that acts on them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from agent.link import protocol


@dataclass(frozen=True)
class WakeHit:
    """One wake word detection at an absolute sample position."""

    model: str
    score: float
    position: int


@dataclass(frozen=True)
class AudioFrame:
    """16 kHz mono samples starting at absolute sample ``position``."""

    samples: np.ndarray
    position: int
    wake: tuple[WakeHit, ...] = ()


@dataclass(frozen=True)
class SourceEnded:
    """A non-realtime file source reached its end."""


@dataclass(frozen=True)
class AudioFault:
    """The capture or playback device failed (it is being reopened)."""

    message: str


@dataclass(frozen=True)
class ButtonPressed:
    """The push-to-talk button went down."""


@dataclass(frozen=True)
class ButtonReleased:
    """The push-to-talk button came up after ``held_s`` seconds."""

    held_s: float


@dataclass(frozen=True)
class ButtonLongPress:
    """The button has been held for the long-press time: cancel the turn."""


@dataclass(frozen=True)
class Connected:
    """The gateway connection is up (options and location already sent)."""


@dataclass(frozen=True)
class Disconnected:
    """The gateway connection went down."""

    reason: str


@dataclass(frozen=True)
class GatewayMessage:
    """A decoded message from the gateway."""

    message: protocol.GatewayMessage | protocol.Unknown


@dataclass(frozen=True)
class PlaybackStarted:
    """The first sample of reply ``reply_id`` reached the output device."""

    reply_id: str


@dataclass(frozen=True)
class PlaybackFinished:
    """Reply ``reply_id`` finished playing (or was stopped)."""

    reply_id: str
    interrupted: bool


@dataclass(frozen=True)
class ControlRequest:
    """A request from the control socket (see :mod:`agent.device.control`).

    ``reply`` is called once, on the conversation thread, with the reply object;
    it only hands the object back to the socket's thread, so it never blocks.
    """

    command: str
    value: float | None
    reply: Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Reload:
    """SIGHUP: read the configuration again."""


@dataclass(frozen=True)
class Shutdown:
    """SIGTERM/SIGINT: end the open turn and stop."""

    reason: str = "signal"


Event = (
    AudioFrame
    | SourceEnded
    | AudioFault
    | ButtonPressed
    | ButtonReleased
    | ButtonLongPress
    | Connected
    | Disconnected
    | GatewayMessage
    | PlaybackStarted
    | PlaybackFinished
    | ControlRequest
    | Reload
    | Shutdown
)
