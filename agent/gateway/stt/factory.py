"""Speech-to-text engines by name: what ``stt_options.engine`` may ask for."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from agent.gateway.stt.engine import SttEngine
from agent.gateway.stt.pocketsphinx import PocketsphinxEngine

log = logging.getLogger(__name__)

BATCH_ENGINES = ("pocketsphinx",)
"""Batch engines :func:`create_engine` builds in the worker pool."""

STREAMING_ENGINES = ("assemblyai", "aiola", "wyoming")
"""Engines that stream: the cloud ones (:mod:`agent.gateway.stt.assemblyai`, :mod:`.aiola`)
and any Wyoming server (:mod:`agent.gateway.stt.wyoming`)."""

ENGINE_NAMES = BATCH_ENGINES + STREAMING_ENGINES
"""Every engine ``stt.engine`` and ``stt_options.engine`` may name."""


def create_engine(
    name: str, searches: Mapping[str, str], pronunciations: Mapping[str, str] | None = None
) -> SttEngine:
    """Build engine ``name`` with the named JSGF grammars (raises ValueError)."""
    if name == "pocketsphinx":
        return PocketsphinxEngine(searches, pronunciations or {})
    raise ValueError(f"unknown speech-to-text engine {name!r} (known: {', '.join(BATCH_ENGINES)})")


def engine_factory(name: str) -> Callable[[Mapping[str, str], Mapping[str, str]], SttEngine]:
    """A constructor for engine ``name`` (for the worker pool)."""
    return lambda searches, prons: create_engine(name, searches, prons)
