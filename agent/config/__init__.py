"""The device's settings: frozen dataclasses, YAML parsing, errors naming the key.

- :mod:`agent.config.settings`: :class:`Settings` and its sections (audio, wake,
  listen, location, gpio, sounds, output, debug, log).
- :mod:`agent.config.link`: the ``gateway`` section (URL, auth, TLS, reconnect).
- :mod:`agent.config.operate`, :mod:`agent.config.parse_operate`: the ``hooks``,
  ``control`` and ``metrics`` sections.
- :mod:`agent.config.parse`, :mod:`agent.config.parse_link`: a YAML mapping into
  :class:`Settings`, every value checked, every error a :class:`ConfigError`.
- :mod:`agent.config.load`: :func:`load_config`, :func:`load_or_exit`, :func:`redact`.

May import: :mod:`agent.common`. Nothing else of the project.
"""
