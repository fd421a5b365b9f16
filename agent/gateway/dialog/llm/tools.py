"""The model's tools: the gateway's own timers, the time, and Home Assistant when configured.

The timers are the device's :class:`agent.gateway.timers.alarms.Book`, the very one the
timer skills use (:mod:`agent.gateway.dialog.timer`), named the same way ("five
second"), with the same ``timer`` card: a timer the model sets rings on the
device exactly like one set by the skills.

Small local models call tools unreliably and sometimes write malformed
arguments: every call is validated, and a bad one is answered with the error
(the model may try again within the turn's bounded rounds).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agent.gateway.dialog.agent import AgentFailed, AgentSession, Data, Pass, Say, Turn
from agent.gateway.dialog.timer import say_duration, say_left, timer_name

log = logging.getLogger(__name__)

MAX_TIMER_S = 24 * 3600
_NAME = {"type": "string", "description": "The timer's name, e.g. 'five minute' or 'pasta'."}


def _function(name: str, description: str, properties: dict[str, Any],
              required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "function", "function": {
        "name": name, "description": description,
        "parameters": {"type": "object", "properties": properties,
                       "required": list(required)}}}


TIMER_TOOLS = [
    _function("set_timer", "Start a timer that rings on this device.",
              {"seconds": {"type": "integer", "description": "Its duration in seconds."},
               "name": _NAME}, ("seconds",)),
    _function("cancel_timer", "Cancel a running timer (the only one, or the one named).",
              {"name": _NAME}),
    _function("time_left", "How much time the running timers (or the one named) have left.",
              {"name": _NAME}),
    _function("get_time", "The current local date and time.", {}),
]
HOME_TOOL = _function(
    "home_assistant",
    "Control or ask about the home (lights, switches, climate, sensors) in plain English.",
    {"command": {"type": "string", "description": "e.g. 'turn on the kitchen light'"}},
    ("command",))


class ToolError(Exception):
    """A bad call: answered to the model as the tool's result."""


@dataclass
class Outcome:
    """What one tool call did."""

    result: str
    """For the model (the ``tool`` message)."""
    data: dict[str, Any] = field(default_factory=dict)
    """For the device's ``response`` (a ``timer`` card)."""
    said: str = ""
    """What to say if the model says nothing after it ("Okay, a timer for ...")."""


class Toolbox:
    """The tools of one device connection."""

    def __init__(self, timers: Any, home: Callable[[], AgentSession | None] | None,
                 now: Callable[[], datetime]) -> None:
        self._timers = timers
        self._home = home
        self._now = now

    def schemas(self) -> list[dict[str, Any]]:
        """The ``tools`` of the request."""
        return TIMER_TOOLS + ([HOME_TOOL] if self._home is not None else [])

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t["function"]["name"] for t in self.schemas())

    async def call(self, name: str, arguments: str) -> Outcome:
        """Run one call; a bad one is an :class:`Outcome` that tells the model what was wrong."""
        try:
            args = json.loads(arguments or "{}")
            if not isinstance(args, dict):
                raise ToolError("the arguments must be a JSON object")
            if name == "set_timer":
                return self._set(args)
            if name == "cancel_timer":
                return self._cancel(_name(args))
            if name == "time_left":
                return self._left(_name(args))
            if name == "get_time":
                return Outcome(self._now().isoformat(timespec="seconds"))
            if name == "home_assistant" and self._home is not None:
                return await self._home_command(args)
            raise ToolError(f"there is no tool {name!r}")
        except (ToolError, json.JSONDecodeError) as exc:
            log.info("llm: tool %s: bad call (%s)", name, exc)
            return Outcome(f"error: {exc}")
        except Exception as exc:  # noqa: BLE001 - a tool's own fault is the model's answer
            log.exception("llm: tool %s failed", name)
            return Outcome(f"error: the tool failed ({type(exc).__name__})")

    # ------------------------------------------------------------ timers
    def _book(self) -> Any:
        if self._timers is None:
            raise ToolError("timers are not available on this gateway")
        return self._timers

    def _set(self, args: dict[str, Any]) -> Outcome:
        seconds = args.get("seconds")
        if isinstance(seconds, str) and seconds.strip().isdigit():
            seconds = int(seconds)
        if isinstance(seconds, float) and seconds.is_integer():
            seconds = int(seconds)
        if not isinstance(seconds, int) or isinstance(seconds, bool) \
                or not 1 <= seconds <= MAX_TIMER_S:
            raise ToolError(f"seconds must be a whole number from 1 to {MAX_TIMER_S}")
        name = _name(args) or timer_name(seconds)
        card = self._book().start(seconds, name)
        said = f"Okay, a timer for {say_duration(seconds)}, starting now."
        return Outcome(f"started the {name} timer for {seconds} seconds", {"timer": card}, said)

    def _running(self, name: str | None) -> list[tuple[dict[str, Any], float]]:
        timers = list(self._book().running())
        if name is not None:
            timers = [t for t in timers if t[0]["name"] == name]
        return timers

    def _cancel(self, name: str | None) -> Outcome:
        timers = self._running(name)
        if not timers:
            return Outcome("there is no such timer running" if name else "no timer is running")
        if len(timers) > 1:
            names = ", ".join(card["name"] for card, _ in timers)
            return Outcome(f"several timers run ({names}): ask which one to cancel")
        card = timers[0][0]
        self._book().cancel(card["id"])
        said = f"Okay, the {card['name']} timer is cancelled."
        return Outcome(f"cancelled the {card['name']} timer",
                       {"timer": {**card, "event": "cancelled"}}, said)

    def _left(self, name: str | None) -> Outcome:
        timers = self._running(name)
        if not timers:
            return Outcome("no such timer is running" if name else "no timer is running")
        said = "; ".join(f"the {card['name']} timer has {say_left(left)} left"
                         for card, left in timers)
        data = {"timer": timers[0][0]} if len(timers) == 1 else {}
        return Outcome(said, data, said[0].upper() + said[1:] + ".")

    # ------------------------------------------------------------ the home
    async def _home_command(self, args: dict[str, Any]) -> Outcome:
        command = args.get("command")
        if not isinstance(command, str) or not command.strip():
            raise ToolError("command must be a sentence, e.g. 'turn on the kitchen light'")
        session = self._home() if self._home is not None else None
        if session is None:
            return Outcome("error: Home Assistant is not available")
        texts: list[str] = []
        data: dict[str, Any] = {}
        turn = Turn(id=str(uuid.uuid4()), text=command.strip(), typed=True)
        try:
            async for part in session.respond(turn):
                if isinstance(part, Say):
                    texts.append(part.text)
                elif isinstance(part, Data):
                    data.update(part.fields)
        except Pass:
            return Outcome("Home Assistant did not understand that command")
        except AgentFailed as exc:
            log.info("llm: the home_assistant tool failed: %s", exc.reason)
            return Outcome(f"error: Home Assistant failed: {exc.reason}")
        said = " ".join(texts).strip()
        return Outcome(said or "done", data, said)


def _name(args: dict[str, Any]) -> str | None:
    name = args.get("name")
    if name is None or name == "":
        return None
    if not isinstance(name, str):
        raise ToolError("name must be a string")
    name = name.strip().lower()
    return name[: -len(" timer")] if name.endswith(" timer") else name
