"""A small stand-in for Home Assistant's WebSocket API, for what the real 2024.3.3 cannot show.

Written from HA's WebSocket protocol and the answers recorded from HA
2025.4.4 (``docs`` of the issue: every result has a ``conversation_id`` ULID,
a sent one echoed; ``continue_conversation``; ``data.code: "unknown"`` for an
unknown intent; ``failed_to_handle`` for timers). The auth handshake is the
one the real HA speaks (the real-HA tests prove the agent's side of it).

Also the faults a real HA will not produce on demand: a slow answer (never
sent), bad frames before the answer, a dead link (pings go unanswered).
Runs in the test's own event loop (``async with HaStandIn() as s``).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

TOKEN = "standin-long-lived-token-7c1e9a"
VERSION = "2025.4.4"


def _response(speech: str, kind: str, code: str | None = None,
              success: list[dict[str, str]] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"targets": [], "success": success or [], "failed": []}
    if code is not None:
        data = {"code": code}
    return {"speech": {"plain": {"speech": speech, "extra_data": None}}, "card": {},
            "language": "en", "response_type": kind, "data": data}


KITCHEN = [{"name": "Kitchen Lights", "type": "entity", "id": "light.kitchen_lights"}]
ANSWERS: dict[str, tuple[dict[str, Any], bool]] = {
    # text -> (response, continue_conversation), as HA 2025.4.4 answered
    "turn on the kitchen lights": (_response("Turned on the light", "action_done",
                                             success=KITCHEN), False),
    "what's the weather": (_response("Unknown intent HassGetWeather", "error", "unknown"), False),
    "set a timer for 5 minutes": (_response("Sorry, timers are not supported on this device",
                                            "error", "failed_to_handle"), False),
    "sing me a song": (_response("Sorry, I couldn't understand that", "error",
                                 "no_intent_match"), False),
    # An agent that asks back (an LLM agent in HA): the stand-in's own sentence.
    "turn on the light": (_response("Which light?", "query_answer"), True),
}


@dataclass
class HaStandIn:
    """The stand-in server (see the module docs)."""

    token: str = TOKEN
    mode: str = "normal"
    """normal | slow (conversation/process never answered) | bad_frames (junk before each
    answer) | deaf (pings unanswered: a dead link)."""
    received: list[dict[str, Any]] = field(default_factory=list)
    connections: int = 0
    port: int = 0
    ssl: Any = None
    """An ``ssl.SSLContext`` (server side): wss:// on 127.0.0.1."""
    _server: Server | None = None
    _ulids: Any = field(default_factory=lambda: itertools.count(1))

    @property
    def url(self) -> str:
        return f"{'https' if self.ssl else 'http'}://127.0.0.1:{self.port}"

    async def __aenter__(self) -> HaStandIn:
        self._server = await serve(self._handler, "127.0.0.1", 0, compression=None,
                                   ssl=self.ssl)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self._server is not None
        self._server.close(close_connections=True)
        await self._server.wait_closed()

    def processed(self) -> list[dict[str, Any]]:
        """The conversation/process commands received, in order."""
        return [m for m in self.received if m.get("type") == "conversation/process"]

    async def _handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        await ws.send(json.dumps({"type": "auth_required", "ha_version": VERSION}))
        try:
            auth = json.loads(await ws.recv())
            if auth.get("type") != "auth" or auth.get("access_token") != self.token:
                await ws.send(json.dumps({"type": "auth_invalid",
                                          "message": "Invalid access token or password"}))
                return
            await ws.send(json.dumps({"type": "auth_ok", "ha_version": VERSION}))
            async for raw in ws:
                msg = json.loads(raw)
                self.received.append(msg)
                await self._answer(ws, msg)
        except ConnectionClosed:
            pass

    async def _answer(self, ws: ServerConnection, msg: dict[str, Any]) -> None:
        kind, msg_id = msg.get("type"), msg.get("id")
        if kind == "ping":
            if self.mode != "deaf":
                await ws.send(json.dumps({"id": msg_id, "type": "pong"}))
            return
        if kind != "conversation/process":
            await ws.send(json.dumps({"id": msg_id, "type": "result", "success": True,
                                      "result": None}))
            return
        if self.mode == "slow":
            return
        if self.mode == "bad_frames":
            await ws.send("this is not JSON {")
            await ws.send(json.dumps([1, 2, 3]))
            await ws.send(json.dumps({"type": "event", "event": {}}))  # no id
        response, more = ANSWERS.get(msg.get("text", ""), ANSWERS["sing me a song"])
        conversation = msg.get("conversation_id") or f"01JR{next(self._ulids):022d}"
        await ws.send(json.dumps({"id": msg_id, "type": "result", "success": True, "result": {
            "response": response, "conversation_id": conversation,
            "continue_conversation": more}}))
