"""The speech-to-text engine interface: :class:`SttEngine` and its :class:`Transcript`."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Transcript:
    """What an engine heard in one utterance."""

    text: str
    """Lower-case words, or "" when nothing was recognised."""
    confidence: float
    """0..1."""
    source: str
    """``grammar``, ``lm`` (general language model) or ``none``."""
    audio_s: float
    """Seconds of audio given."""
    cpu_s: float
    """Seconds spent recognising (for the real-time factor)."""
    engine: str = "pocketsphinx"


class SttEngine(Protocol):
    """A speech-to-text engine (one per worker process)."""

    name: str

    def transcribe(self, pcm: bytes, search: str | None = None) -> Transcript:
        """Recognise one utterance; ``search`` names the grammar (None: the general model)."""
        ...
