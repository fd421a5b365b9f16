"""The sections for operating the device from outside: ``hooks``, ``control``, ``metrics``.

Kept apart from :mod:`agent.config.settings` because they are about the
house around the device (LED scripts, home automation, monitoring), not
about listening and talking.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_CONTROL_SOCKET = "/run/voice-agent/control.sock"
"""Where ``RuntimeDirectory=voice-agent`` in the systemd unit puts the control socket."""

DEFAULT_METRICS_PORT = 9466
"""The port ``metrics.listen`` uses when it names only a host."""

EVENT_NAMES = (
    "connected",
    "disconnected",
    "wake",
    "listening",
    "audio_start",
    "audio_end",
    "transcript",
    "text",
    "response",
    "playback_start",
    "playback_end",
    "followup",
    "error",
    "state",
    "reloaded",
    "mute",
)
"""Every event the daemon emits (the README's table), the names ``hooks.events`` may list."""


@dataclass(frozen=True)
class HooksSettings:
    """A command fed every event as one JSON object per line on its stdin (``hooks``)."""

    command: tuple[str, ...] | None = None
    """The program and its arguments (an argv list, no shell), or None: no hook."""

    events: tuple[str, ...] | None = None
    """The event names the hook gets; None = all of them."""


@dataclass(frozen=True)
class ControlSettings:
    """The local control socket (``control``): listen, stop, mute, volume, status."""

    socket: str | None = DEFAULT_CONTROL_SOCKET
    """Absolute path of the Unix socket (mode 0660, the service's group), or None: off."""


@dataclass(frozen=True)
class MetricsSettings:
    """Prometheus metrics over HTTP (``metrics``)."""

    listen: tuple[str, int] | None = None
    """(host, port) to serve ``/metrics`` on, or None: off. Written ``HOST:PORT``
    or ``PORT`` (host 127.0.0.1); port 0 picks a free one (``ctl status`` says which)."""
