"""``voice-agent gateway --check`` for Home Assistant: one line per step.

Reachable (the WebSocket opens), the token accepted (``auth_ok``), HA's
version, the conversation agent found (``conversation/agent/list``; null
means HA's default agent), the areas and the entities exposed to Assist,
and how many sentences the local grammar built from them holds. Nothing
secret is printed.
"""

from __future__ import annotations

import asyncio
from typing import Any, NamedTuple

from agent.gateway.dialog.home_assistant.agent import DEFAULT_AGENTS, read_ha_token
from agent.gateway.dialog.home_assistant.connection import Connection, HaError, NotConnected
from agent.gateway.dialog.home_assistant.home import read_home
from agent.gateway.dialog.home_assistant.phrases import build_patterns
from agent.gateway.grammar import Grammar


class Line(NamedTuple):
    """One step (``agent.gateway.check`` prints it as its own ``Line``)."""

    name: str
    ok: bool
    detail: str
    fix: str | None = None


def check_home_assistant(settings: Any, source: str) -> list[Line]:
    """The lines for ``dialog.home_assistant`` (ConfigError: no token)."""
    ha = settings.dialog.home_assistant
    token = read_ha_token(ha, source)  # or exit 78
    return asyncio.run(_check(ha, token, settings.stt.engine == "pocketsphinx"))


async def _check(ha: Any, token: str, local: bool) -> list[Line]:
    conn = Connection(ha.url, token, timeout_s=ha.timeout_s, ca_file=ha.ca_file)
    conn.start()
    lines: list[Line] = []
    try:
        up = await conn.wait_connected(ha.timeout_s + 1)
        if not up and not conn.refused:
            return [Line(f"home assistant {ha.url}", False, conn.last_error or "no answer",
                         "is dialog.home_assistant.url right, and HA running?")]
        lines.append(Line(f"home assistant {ha.url}", True, f"reachable, version {conn.version}"))
        if conn.refused:
            lines.append(Line("home assistant token", False, "refused (auth_invalid)",
                              "create a long-lived access token in HA's profile page and put "
                              "it in dialog.home_assistant.token_file or HA_TOKEN"))
            return lines
        lines.append(Line("home assistant token", True, "accepted"))
        lines += await _agent_and_home(conn, ha, local)
    except (HaError, NotConnected, TimeoutError) as exc:
        lines.append(Line("home assistant", False, f"{type(exc).__name__}: {exc}"))
    finally:
        await conn.aclose()
    return lines


async def _agent_and_home(conn: Connection, ha: Any, local: bool) -> list[Line]:
    listed = await conn.call({"type": "conversation/agent/list", "language": ha.language})
    ids = [a.get("id") for a in (listed or {}).get("agents", []) if isinstance(a, dict)]
    wanted = ha.agent_id
    found = wanted is None or wanted in ids or wanted in DEFAULT_AGENTS
    lines = [Line("home assistant agent", found,
                  f"{wanted or 'the default agent'}" + (" found" if found else " not found"),
                  f"dialog.home_assistant.agent_id must be one of: {', '.join(map(str, ids))}")]
    home = await read_home(conn)
    lines.append(Line("home assistant home", True,
                      f"{len(home.areas)} areas, {len(home.entities)} entities exposed to Assist"))
    if ha.local_grammar:
        known = None
        if local:
            from agent.gateway.stt.dictionary import known_word

            known = known_word
        patterns = build_patterns(home, known)
        count = len(Grammar({}, {"ha": patterns}).sentences("ha")) if patterns else 0
        lines.append(Line("home assistant grammar", count > 0,
                          f"{len(patterns)} patterns, {count} sentences",
                          "expose lights, switches... to Assist in HA (Settings > Voice "
                          "assistants > Expose)"))
    return lines
