"""The local reference gateway: the server side of the audio gateway protocol.

A turn flows through it as a pipeline: speech in (``stt/``), the agents of
the chain (``dialog/``), speech out (``tts/``); ``timers/`` speaks with no
question asked.

The server and its sessions:

- :mod:`agent.gateway.server`: the asyncio WebSocket server.
- :mod:`agent.gateway.in_thread`: :func:`serve_in_thread`, the gateway in a thread (tests, demo).
- :mod:`agent.gateway.session`: one device connection and its transactions.
- :mod:`agent.gateway.transaction`: one transaction's state and its ear on the STT stream.
- :mod:`agent.gateway.pipeline`: one turn: the chain of agents, their reply spoken as it comes.
- :mod:`agent.gateway.reply`: the spoken reply, chunked and paced near real time.
- :mod:`agent.gateway.forms`: which reply form a client gets (by its ``User-Agent``).
- :mod:`agent.gateway.records`: what each transaction received (tests, benchmarks).
- :mod:`agent.gateway.settings`: the gateway's settings (``config/gateway.yaml``);
  :mod:`agent.gateway.dialog_settings`: its ``dialog`` section.
- :mod:`agent.gateway.check`: ``voice-agent gateway --check``;
  :mod:`agent.gateway.check_wyoming`: its lines for the Wyoming servers.
- :mod:`agent.gateway.wyoming_link`, :mod:`agent.gateway.wyoming_settings`: what the
  Wyoming engines (``stt/wyoming.py``, ``tts/wyoming.py``) share, and their settings.
- :mod:`agent.gateway.grammar`: phrases to JSGF grammars, normalisation.

The stages:

- :mod:`agent.gateway.stt`: speech-to-text engines behind one streaming interface.
- :mod:`agent.gateway.dialog`: the agents: the built-in skills, Diatheke, a language
  model, Home Assistant.
- :mod:`agent.gateway.tts`: text to speech (espeak-ng, a Wyoming server).
- :mod:`agent.gateway.timers`: timers that ring, and announcements.

May import: :mod:`agent.common` and :mod:`agent.link.protocol` only; nothing else
of the device side. Nothing heavy is imported here.
"""
