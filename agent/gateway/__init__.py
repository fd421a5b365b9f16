"""The local reference gateway: the server side of the audio gateway protocol.

- :mod:`agent.gateway.server`: the asyncio WebSocket server.
- :mod:`agent.gateway.in_thread`: :func:`serve_in_thread`, the gateway in a thread (tests, demo).
- :mod:`agent.gateway.session`: one device connection and its transactions.
- :mod:`agent.gateway.settings`: the gateway's settings (``config/gateway.yaml``).
- :mod:`agent.gateway.forms`: which reply form a client gets (by its ``User-Agent``).
- :mod:`agent.gateway.reply`: the spoken reply, chunked and paced near real time.
- :mod:`agent.gateway.endpoint`: the gateway's own end-of-speech detection.
- :mod:`agent.gateway.transaction`: one transaction's state and its ear on the STT stream.
- :mod:`agent.gateway.check`: ``voice-agent gateway --check`` (the engine's network, key).
- :mod:`agent.gateway.records`: what each transaction received (tests, benchmarks).
- :mod:`agent.gateway.grammar`: phrases to JSGF grammars, normalisation.
- :mod:`agent.gateway.tts`: espeak-ng speech.
- :mod:`agent.gateway.timers`: the timers' SQLite store (``state_dir``).
- :mod:`agent.gateway.alarms`: firing timers, delivery per device, ``announce`` requests.
- :mod:`agent.gateway.announce`: one session's side of announcements.
- :mod:`agent.gateway.stt`: speech-to-text engines behind one streaming interface.
- :mod:`agent.gateway.dialog`: what answers: the built-in skills, or a Diatheke server.
- :mod:`agent.gateway.dialog_settings`: the ``dialog`` section of the settings.

May import: :mod:`agent.common` and :mod:`agent.link.protocol` only; nothing else
of the device side. Nothing heavy is imported here.
"""
