"""The system prompt: how to answer (spoken, brief, plain), the local date and time, where.

The built-in prompt is short on purpose: small local models follow a short
prompt better, and every token of it is read again on every turn. A configured
``dialog.llm.system_prompt`` replaces the instructions; the date, the time and
the device's location are added to either, since a model knows neither.
"""

from __future__ import annotations

from datetime import datetime

BUILT_IN = (
    "You are a voice assistant. Your answers are read aloud by a small speaker, so answer "
    "briefly, in one to three short sentences of plain spoken English. Never use markdown, "
    "lists, tables, code, links or emoji. If you need more information, ask one short question."
)


def system_prompt(
    configured: str | None,
    now: datetime,
    location: tuple[float, float] | None,
    tools: tuple[str, ...] = (),
) -> str:
    """The system message for one turn (``now`` is local time, with its zone)."""
    lines = [configured.strip() if configured else BUILT_IN]
    zone = now.tzname() or ""
    lines.append(f"The local date and time is {now:%A, %d %B %Y, %H:%M} {zone}".rstrip() + ".")
    if location is not None:
        lat, lon = location
        lines.append(f"The device is at latitude {lat:.4f}, longitude {lon:.4f}.")
    if tools:
        lines.append("Use the tools for timers, the time" +
                     (" and the home" if "home_assistant" in tools else "") +
                     "; never pretend to have used one.")
    return "\n".join(lines)
