"""Speech to text behind one streaming interface.

- :mod:`agent.gateway.stt.stream`: the interface: audio in as it arrives, partial and
  final transcripts and the end of turn out, always closed (:class:`SttStream`).
- :mod:`agent.gateway.stt.engines`: the configured engines; one stream per utterance.
- :mod:`agent.gateway.stt.batch`: a batch engine (pocketsphinx) with the gateway's endpointer.
- :mod:`agent.gateway.stt.assemblyai`: AssemblyAI Streaming v3 (WebSocket).
- :mod:`agent.gateway.stt.aiola`, :mod:`~agent.gateway.stt.aiola_auth`: aiOla (Socket.IO).
- :mod:`agent.gateway.stt.wyoming`: any Wyoming ASR server (wyoming-faster-whisper).
- :mod:`agent.gateway.stt.config`: the cloud engines' settings and API keys.
- :mod:`agent.gateway.stt.engine`: :class:`Transcript` and the batch :class:`SttEngine`.
- :mod:`agent.gateway.stt.factory`: engine names; batch engines by name.
- :mod:`agent.gateway.stt.pocketsphinx`: the offline engine (grammar plus LM fallback).
- :mod:`agent.gateway.stt.pool`: worker processes that run the batch engines off the loop.

May import: :mod:`agent.common` and the rest of :mod:`agent.gateway` but
:mod:`agent.gateway.dialog` (what an engine may use of the skills comes in as
plain phrases, in :class:`~agent.gateway.stt.stream.StreamContext`).
"""
