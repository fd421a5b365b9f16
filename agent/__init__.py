"""voice-agent: a voice device for the Raspberry Pi that talks to an audio gateway.

The rooms (each package's docstring says what lives there and what it may import):

- :mod:`agent.common`: shared ground: redaction, logging, the event sink, backoff,
  and the settings reader that both the device's and the gateway's settings use.
- :mod:`agent.config`: the device's settings.
- :mod:`agent.link`: the device's side of the wire (the sans-I/O protocol, the connection).
- :mod:`agent.audio`: capture, resampling, the pre-roll ring, playback, sounds.
- :mod:`agent.hearing`: wake word, voice activity detection, the silence gate.
- :mod:`agent.device`: the conversation and the daemon that wires the parts together.
- :mod:`agent.doctor`: the checks behind ``voice-agent doctor``.
- :mod:`agent.gateway`: the reference gateway (the server side).
- :mod:`agent.cli`: the ``voice-agent`` command; nothing imports it.
- :mod:`agent.demo`: ``voice-agent demo``, the one module that runs a device and a
  gateway together (in one process, on loopback).
"""

__version__ = "0.1.0"
