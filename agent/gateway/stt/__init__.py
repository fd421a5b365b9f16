"""Speech to text behind one interface.

- :mod:`agent.gateway.stt.engine`: :class:`Transcript` and the :class:`SttEngine` Protocol.
- :mod:`agent.gateway.stt.factory`: engines by name.
- :mod:`agent.gateway.stt.pocketsphinx`: the offline engine (grammar plus LM fallback).
- :mod:`agent.gateway.stt.pool`: worker processes that run the engines off the loop.

May import: :mod:`agent.common` and the rest of :mod:`agent.gateway` but
:mod:`agent.gateway.dialog`.
"""
