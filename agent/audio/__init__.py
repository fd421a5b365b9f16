"""Audio front end: capture, resampling, the pre-roll ring, playback and sounds.

Modules (import the one you need; nothing heavy is imported here):

- :mod:`agent.audio.frames`: :class:`Frame`, the :class:`Source` protocol, the
  streaming converter to 16 kHz mono.
- :mod:`agent.audio.sources`: :func:`open_source`, :class:`FileSource`,
  :class:`CommandSource` (in :mod:`agent.audio.command_source`);
  :mod:`agent.audio.pyaudio_source`: :class:`PyAudioSource`.
- :mod:`agent.audio.ring`: :class:`RingBuffer` (pre-roll) and :class:`Chunker`
  (``audio_data`` chunks, with a skip window for the wake chime).
- :mod:`agent.audio.decode`: :class:`ReplyDecoder` (PCM, WAV, Ogg by content).
- :mod:`agent.audio.sinks`: :func:`open_sink`, :class:`FileSink`, :class:`PyAudioSink`.
- :mod:`agent.audio.playback`: :class:`Player`; :mod:`agent.audio.queued`: what it has queued.
- :mod:`agent.audio.sounds`: built-in chimes, :func:`load_sound`, :func:`chime_window`.
- :mod:`agent.audio.devices`: PortAudio device lookup and listing;
  :mod:`agent.audio.quiet`: PortAudio's probing noise filtered out.
- :mod:`agent.audio.util`: a rate-limited log line.
- :mod:`agent.audio.reference`: :class:`ReferenceTap` and :class:`ReferenceTimeline`,
  what the speaker played and when (the echo canceller's far-end reference).

May import: :mod:`agent.common` only. It knows nothing of :mod:`agent.device`.
"""
