"""Shared ground used by every room: nothing here knows about devices or gateways.

- :mod:`agent.common.redact`: the secret scrubber applied to every log record and event.
- :mod:`agent.common.logs`: :func:`configure_logging` (text or JSON lines).
- :mod:`agent.common.event_sink`: :class:`EventSink`, the JSON event log on stdout.
- :mod:`agent.common.backoff`: exponential backoff with full jitter.
- :mod:`agent.common.settings_values`, :mod:`agent.common.settings_yaml`,
  :mod:`agent.common.settings_reader`: :class:`ConfigError` (exit 78, one line naming
  the key), the strict YAML loader and the typed :class:`Reader` that the device's
  configuration and the gateway's settings are both parsed with.

May import: the standard library and third-party packages only; no other room.
"""
