"""The configured speaker: ``tts.engine`` espeak (built in, the default) or wyoming.

The Wyoming speaker (:func:`agent.gateway.tts.wyoming.create`) carries
espeak-ng behind it for when its server fails.
"""

from __future__ import annotations

from agent.gateway.settings import GatewaySettings
from agent.gateway.tts.engine import Speaker
from agent.gateway.tts.espeak import Espeak


def create_speaker(settings: GatewaySettings) -> Speaker:
    """The speaker of ``settings.tts`` (the ``wyoming`` package is imported only if used)."""
    if settings.tts.engine == "wyoming":
        from agent.gateway.tts.wyoming import create

        return create(settings)
    return Espeak(voice=settings.tts.voice, speed=settings.tts.speed)
