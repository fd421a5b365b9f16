"""The configured speaker (``tts.engine``): espeak-ng, or another engine's module."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from agent.gateway.tts.engine import Speaker
from agent.gateway.tts.espeak import Espeak

if TYPE_CHECKING:
    from agent.gateway.settings import GatewaySettings

FACTORIES = {"wyoming": "agent.gateway.tts.wyoming:create"}
"""``tts.engine`` -> ``module:function`` (imported only when chosen)."""


def create_speaker(settings: GatewaySettings) -> Speaker:
    """The speaker of ``tts.engine`` (espeak-ng unless another is configured)."""
    engine = getattr(settings.tts, "engine", "espeak")
    if engine in FACTORIES:
        module, _, function = FACTORIES[engine].partition(":")
        made: Any = getattr(importlib.import_module(module), function)(settings)
        return made
    return Espeak(voice=settings.tts.voice, speed=settings.tts.speed)
