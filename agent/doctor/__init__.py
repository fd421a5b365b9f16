"""The checks behind ``voice-agent doctor``: one :class:`Check` line each.

- :mod:`agent.doctor.report`: :class:`Check` and level formatting.
- :mod:`agent.doctor.system`: configuration, wake models, GPIO, the service user.
- :mod:`agent.doctor.audio`: microphone level meter, speaker, ``/dev/snd``.
- :mod:`agent.doctor.gateway`: DNS, TCP, TLS, credentials, handshake, ping.
- :mod:`agent.doctor.echo`: ``--echo``: a chirp played and heard back, the echo's
  delay and level, whether the echo canceller converges.

May import: :mod:`agent.common`, :mod:`agent.config`, :mod:`agent.link`,
:mod:`agent.audio`, :mod:`agent.hearing` and :mod:`agent.device` (for GPIO).
"""
