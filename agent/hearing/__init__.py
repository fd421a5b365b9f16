"""Hearing: the wake word, voice activity detection and the silence gate.

- :mod:`agent.hearing.models`: openWakeWord's ONNX models (found in its installed
  wheel without importing it) on onnxruntime.
- :mod:`agent.hearing.wake`: :class:`WakeDetector` (several models, thresholds,
  refractory period, self-trigger guard, the silence gate with exact catch-up).
- :mod:`agent.hearing.vad`: end of speech (Silero VAD, energy fallback), in samples.

May import: :mod:`agent.common` and :mod:`agent.audio`. It knows nothing of
:mod:`agent.device`.
"""
