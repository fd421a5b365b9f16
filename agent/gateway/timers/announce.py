"""Speaking with no question asked: one connection's side of announcements.

:class:`SessionTarget` lets the :class:`~agent.gateway.timers.alarms.TimerService`
speak on a :class:`~agent.gateway.session.Session`: ``response``, ``text`` and
the spoken audio all under one fresh id ``A`` that the device never opened
(the announcement form of the protocol, ``docs/protocol.md``).
"""

from __future__ import annotations

import logging
from typing import Any

from agent.gateway.session import Session
from agent.gateway.tts.engine import speak_text
from agent.link.protocol import (
    GatewayError,
    Response,
    TextReply,
    new_id,
)

log = logging.getLogger(__name__)


class SessionTarget:
    """A session as a target of announcements, known by its device's ``owner`` key."""

    def __init__(self, session: Session, owner: str) -> None:
        self.session = session
        self.owner = owner

    async def answer(self, msg: Response | GatewayError) -> None:
        """Send one message (the answer to an ``announce`` request)."""
        await self.session._send(msg)

    async def announce(
        self, text: str, card: dict[str, Any] | None, speech: bytes | None = None
    ) -> None:
        """Send ``text`` as an announcement under a fresh id, with its spoken audio.

        ``speech`` (made when a timer was set) is used unless this device asked
        for a voice of its own. To this project's device (the standard form) the
        audio goes unpaced: it plays an announcement only once all of it is in,
        so pacing would only delay a timer's ring.
        """
        session, services = self.session, self.session.services
        aid = new_id()
        data: dict[str, Any] = {"speech": {"text": text}, "skill": "announcement"}
        if card is not None:
            data["timer"] = card
        voice = session.tts_options.get("voice")
        # Speech first: a failure sends nothing, so the device never holds half an announcement.
        if speech is None or isinstance(voice, str):
            speech = await speak_text(
                services.pipeline.speaker, text, voice if isinstance(voice, str) else None
            )
        # Never inside a turn's reply still streaming: that reply goes out first
        # (hurried), then the announcement's messages, then its audio through the
        # session's reply sender.
        await session.replies.finish_current()
        await session._send(Response(aid, data))
        await session._send(TextReply(aid, text, prompt=False))
        await session.replies.speak(speech, None if session.buffer_form else False, rid=aid,
                                    pace=None if session.buffer_form else 0.0)
        log.info("connection %d: announced %r as %s", session.number, text, aid)
