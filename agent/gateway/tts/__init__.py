"""Text to speech: the last stage of a turn (sentences in, 16 kHz PCM out).

- :mod:`agent.gateway.tts.engine`: the :class:`Speaker` interface, :class:`TtsError`.
- :mod:`agent.gateway.tts.espeak`: espeak-ng (the built-in speaker), WAV parsing, resampling.
- :mod:`agent.gateway.tts.wyoming`: any Wyoming TTS server (Piper), espeak-ng behind it.
- :mod:`agent.gateway.tts.fallback`: a speaker with a second one for what the first cannot say.
- :mod:`agent.gateway.tts.resample`: streaming conversion to 16 kHz mono (soxr).
- :mod:`agent.gateway.tts.factory`: the configured speaker (``tts.engine``).

May import: :mod:`agent.gateway.settings`, :mod:`agent.common` and the standard
library; never the session, the dialog or the server.
"""

from agent.gateway.tts.engine import RATE, Speaker, TtsError
from agent.gateway.tts.espeak import Espeak, parse_wav, to_16k_mono

__all__ = ["RATE", "Espeak", "Speaker", "TtsError", "parse_wav", "to_16k_mono"]
