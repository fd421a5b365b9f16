"""One device's turns through HA's conversation API, and what HA's answer means.

Each turn is ``conversation/process`` with the text, the language, the
agent id (None: HA's default agent) and the device's ``conversation_id``
(kept per device, sent back on the next turn; HA 2024.x always answers
null, newer HA a ULID it echoes).

The answer (``result.response``):

* ``speech.plain.speech`` is spoken;
* ``action_done`` / ``query_answer``: a ``home_assistant`` card with HA's
  ``success`` / ``failed`` targets (name, type, id) goes into ``response.data``
  for hooks and LEDs;
* ``error`` with ``data.code`` ``no_intent_match`` or ``unknown`` (newer HA's
  unknown intent), or HA 2024.x's websocket error ``Unknown intent ...``:
  :class:`Pass`, the next agent gets the turn;
* ``no_valid_targets`` ("not aware of any device called ..."): HA's sentence
  templates are greedy ("tell me a joke about penguins" lands here), so when
  an ``llm`` agent follows in the turn's chain it gets the turn; else HA's own
  sentence is what the user needs to hear;
* any other error (``failed_to_handle``...): HA's sentence is spoken;
* ``continue_conversation: true`` (newer HA): :class:`Ask`, the device
  listens again.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from agent.gateway.dialog.agent import AgentFailed, Ask, Data, Pass, Peer, ReplyPart, Say, Turn
from agent.gateway.dialog.backend import Utterance
from agent.gateway.dialog.home_assistant.connection import Connection, HaError, NotConnected
from agent.gateway.dialog.home_assistant.settings import HomeAssistantSettings

log = logging.getLogger(__name__)

PASS_CODES = frozenset({"no_intent_match", "unknown"})
"""``data.code`` values that mean HA did not understand: the next agent gets the turn."""
UNKNOWN_INTENT = "Unknown intent"
"""HA 2024.x fails the call itself for an intent with no handler
("Unknown intent HassGetWeather")."""


class HomeAssistantSession:
    """An :class:`~agent.gateway.dialog.agent.AgentSession` for one device."""

    def __init__(
        self,
        connection: Connection,
        settings: HomeAssistantSettings,
        peer: Peer,
        conversations: dict[str, str],
        chain_for: Callable[[str | None], tuple[str, ...]],
        *,
        for_tool: bool = False,
    ) -> None:
        self._conn = connection
        self._settings = settings
        self._peer = peer
        self._conversations = conversations  # shared by the agent: kept across reconnects
        self._chain_for = chain_for
        self._for_tool = for_tool

    def hear(self, tid: str) -> Utterance | None:
        """HA takes text: the gateway's speech to text hears the audio."""
        return None

    async def respond(self, turn: Turn) -> AsyncIterator[ReplyPart]:
        """HA's answer to ``turn`` (raises Pass / AgentFailed before the first part)."""
        result = await self._process(turn)
        response = result.get("response")
        if not isinstance(response, dict):
            raise AgentFailed("Home Assistant's answer has no response")
        self._remember(result)
        kind = response.get("response_type")
        raw_data = response.get("data")
        data: dict[str, Any] = raw_data if isinstance(raw_data, dict) else {}
        code = data.get("code")
        speech = _speech(response)
        log.info("home assistant: %s%s for connection %d", kind,
                 f" ({code})" if code else "", self._peer.number)
        if kind == "error":
            if code in PASS_CODES:
                raise Pass()
            if code == "no_valid_targets" and self._llm_follows(turn):
                raise Pass()
        if not speech and kind not in ("action_done", "query_answer"):
            raise AgentFailed(f"Home Assistant answered {kind!r} with nothing to say")
        if speech:
            yield Say(speech)
        if kind in ("action_done", "query_answer"):
            yield Data({"card": card(kind, data)})
        if result.get("continue_conversation") is True:
            yield Ask()

    async def _process(self, turn: Turn) -> dict[str, Any]:
        conn = self._conn
        if not conn.connected:
            log.info("home assistant is not connected (%s): connection %d's turn goes on",
                     conn.last_error or "connecting", self._peer.number)
            raise AgentFailed("Home Assistant is not reachable", unreachable=True)
        message: dict[str, Any] = {
            "type": "conversation/process",
            "text": turn.text,
            "language": self._settings.language,
        }
        if self._settings.agent_id is not None:
            message["agent_id"] = self._settings.agent_id
        conversation = self._conversations.get(self._peer.device)
        if conversation is not None:
            message["conversation_id"] = conversation
        try:
            result = await conn.call(message, self._settings.timeout_s)
        except HaError as exc:
            if exc.message.startswith(UNKNOWN_INTENT):
                raise Pass() from None
            raise AgentFailed(f"Home Assistant failed: {exc}") from None
        except NotConnected as exc:
            raise AgentFailed(str(exc), unreachable=True) from None
        except TimeoutError:
            raise AgentFailed(
                f"Home Assistant did not answer within {self._settings.timeout_s:g} s",
                unreachable=True) from None
        if not isinstance(result, dict):
            raise AgentFailed("Home Assistant's answer is not an object")
        return result

    def _remember(self, result: dict[str, Any]) -> None:
        conversation = result.get("conversation_id")
        if isinstance(conversation, str) and conversation:
            self._conversations[self._peer.device] = conversation
        else:  # HA 2024.x: always null; nothing to send back
            self._conversations.pop(self._peer.device, None)

    def _llm_follows(self, turn: Turn) -> bool:
        if self._for_tool:  # the LLM itself asked: HA's sentence is its answer
            return False
        chain = self._chain_for(turn.wake_word)
        return "home_assistant" in chain and "llm" in chain[chain.index("home_assistant") + 1:]

    async def close(self) -> None:
        """The device left: its conversation is forgotten."""
        self._conversations.pop(self._peer.device, None)


def _speech(response: dict[str, Any]) -> str:
    speech = response.get("speech")
    plain = speech.get("plain") if isinstance(speech, dict) else None
    text = plain.get("speech") if isinstance(plain, dict) else None
    return text.strip() if isinstance(text, str) else ""


def card(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """The ``response.data.card`` for an answer of HA: its targets, for hooks and LEDs."""

    def targets(key: str) -> list[dict[str, str]]:
        items = data.get(key)
        return [
            {k: str(t.get(k, "")) for k in ("name", "type", "id")}
            for t in (items if isinstance(items, list) else [])
            if isinstance(t, dict)
        ]

    return {
        "type": "home_assistant",
        "content": {"response_type": kind, "success": targets("success"),
                    "failed": targets("failed")},
    }
