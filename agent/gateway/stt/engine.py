"""The batch speech-to-text engine interface: :class:`SttEngine`, its :class:`Transcript`.

Batch engines (pocketsphinx) turn one whole utterance into a transcript in a
worker process; :mod:`agent.gateway.stt.batch` wraps them as streaming ones.
The streaming interface itself is :mod:`agent.gateway.stt.stream`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)


class SttError(RuntimeError):
    """Speech to text failed for one utterance (the gateway carries on)."""


@dataclass(frozen=True)
class Transcript:
    """What an engine heard in one utterance."""

    text: str
    """The words ("" when nothing was recognised): lower case from pocketsphinx,
    as the service formatted them from a cloud engine."""
    confidence: float
    """0..1."""
    source: str
    """``grammar``, ``lm`` (general language model), ``none``, or a cloud engine's name."""
    audio_s: float
    """Seconds of audio given."""
    cpu_s: float
    """Seconds spent recognising (for the real-time factor; 0 for a service)."""
    engine: str = "pocketsphinx"


class SttEngine(Protocol):
    """A speech-to-text engine (one per worker process)."""

    name: str

    def transcribe(
        self, pcm: bytes, search: str | None = None, open_vocabulary: bool = False
    ) -> Transcript:
        """Recognise one utterance; ``search`` names the grammar (None: the general model);
        ``open_vocabulary``: free speech must be heard too, not only the grammar's phrases
        (:attr:`~agent.gateway.stt.stream.StreamContext.open_vocabulary`)."""
        ...
