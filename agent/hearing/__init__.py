"""Hearing: the wake word, voice activity detection, the silence gate, echo cancellation.

- :mod:`agent.hearing.models`: openWakeWord's ONNX models (found in its installed
  wheel without importing it) on onnxruntime.
- :mod:`agent.hearing.oww`: openWakeWord's models as an engine (exact catch-up).
- :mod:`agent.hearing.micro`: microWakeWord's models (``pymicro-wakeword``) as an engine.
- :mod:`agent.hearing.engines`: which engine runs a model; building the engines.
- :mod:`agent.hearing.gate`: the silence gate's judgement (fixed level, or the
  room's tracked noise floor), apart from what is gated, so a cleaned signal can
  be judged instead.
- :mod:`agent.hearing.wake`: :class:`WakeDetector` (several models and engines,
  thresholds, refractory period, self-trigger guard, the gate with exact catch-up).
- :mod:`agent.hearing.vad`: end of speech (Silero VAD, energy fallback), in samples.
- :mod:`agent.hearing.front_end`: what runs between the microphone and the listeners;
  :mod:`agent.hearing.echo`: :class:`CaptureProcessor` (echo cancellation with the
  played reference, then noise suppression and auto gain, bit-exact when off);
  :mod:`agent.hearing.speex`: Speex's echo canceller (libspeexdsp);
  :mod:`agent.hearing.apm`: WebRTC's noise suppression and gain control (livekit);
  :mod:`agent.hearing.echo_delay`: the echo's delay and level (GCC-PHAT).

May import: :mod:`agent.common` and :mod:`agent.audio`. It knows nothing of
:mod:`agent.device`.
"""
