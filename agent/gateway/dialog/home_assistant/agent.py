"""The ``home_assistant`` agent: HA's conversation API, and a grammar from the user's home.

One :class:`~.connection.Connection` per gateway, shared by every device
(:class:`~.session.HomeAssistantSession` per device). When
``local_grammar`` is on, the agent reads HA's areas and exposed entities
after each (re)connection and whenever HA's area or entity registry changes
(``area_registry_updated`` / ``entity_registry_updated`` events), and builds
:attr:`HomeAssistantAgent.patterns` (grammar patterns for pocketsphinx, see
:mod:`.phrases`) and :attr:`HomeAssistantAgent.phrases` (the plain names of
its areas and devices: what the pipeline hands cloud engines as keyterms /
keywords). Whoever holds the recogniser registers with
:meth:`HomeAssistantAgent.watch_phrases` to be told of a new set
(:class:`agent.gateway.live_grammar.LiveGrammar`).

The gateway starts even when HA is down: turns fail over to the next agent
(``AgentFailed(unreachable=True)``, with a log line) until the link is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.common.redact import REDACTOR
from agent.common.settings_values import ConfigError
from agent.gateway.dialog.agent import AgentFailed, Pass, Peer, Say, Turn
from agent.gateway.dialog.home_assistant.connection import Connection, HaError, NotConnected
from agent.gateway.dialog.home_assistant.home import Home, read_home
from agent.gateway.dialog.home_assistant.phrases import build_patterns, name_pattern, unheard
from agent.gateway.dialog.home_assistant.session import HomeAssistantSession
from agent.gateway.dialog.home_assistant.settings import HomeAssistantSettings

log = logging.getLogger(__name__)

TOKEN_ENV = "HA_TOKEN"
DEFAULT_AGENTS = ("homeassistant", "conversation.home_assistant")
"""The ids of HA's built-in conversation agent."""
REGISTRY_EVENTS = ("area_registry_updated", "entity_registry_updated", "homeassistant_started")
"""Read the home again on these: a rename, a new alias, and the end of HA's start-up (HA
takes connections before its integrations have loaded their entities)."""
REBUILD_DELAY_S = 0.5
"""Registry events come in bursts (a rename is several): one rebuild after the last."""

PhrasesWatcher = Callable[["HomeAssistantAgent"], None]


def read_ha_token(settings: HomeAssistantSettings, source: str = "gateway settings") -> str:
    """The access token (``token_file``, else ``HA_TOKEN``), added to the redactor."""
    key = "dialog.home_assistant.token_file"
    if settings.token_file is not None:
        try:
            token = Path(settings.token_file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(source, key, f"cannot read {settings.token_file}: "
                                           f"{type(exc).__name__}") from None
    else:
        token = (os.environ.get(TOKEN_ENV) or "").strip()
    if not token:
        raise ConfigError(source, key, "home_assistant needs a long-lived access token: set "
                                       f"token_file to a file holding it, or {TOKEN_ENV}")
    REDACTOR.add(token)
    return token


class HomeAssistantAgent:
    """The ``home_assistant`` agent (see the module docs)."""

    name = "home_assistant"

    def __init__(
        self,
        settings: HomeAssistantSettings,
        token: str,
        chain_for: Callable[[str | None], tuple[str, ...]],
        *,
        grammar: bool,
        known_word: Callable[[str], bool] | None = None,
    ) -> None:
        self.settings = settings
        # HA's own agent hears only its sentences; another agent_id is one the user set
        # up in HA (an LLM, say), which takes any text: the recogniser must hear it.
        self.free_text = settings.agent_id not in (None, *DEFAULT_AGENTS)
        self.connection = Connection(settings.url, token, timeout_s=settings.timeout_s,
                                     ca_file=settings.ca_file)
        self.patterns: tuple[str, ...] = ()
        """Grammar patterns for HA's common intents over the home's names."""
        self.phrases: tuple[str, ...] = ()
        """The home's area and entity names (plain: cloud engines' hints)."""
        self.home = Home()
        self.builds = 0
        """How many times the phrases were built (tests wait on it)."""
        self.complete = False
        """True when the last build saw HA fully started (``get_config`` state RUNNING)."""
        self.grammar = grammar
        self._known_word = known_word
        self._chain_for = chain_for
        self._conversations: dict[str, str] = {}
        self._watchers: list[PhrasesWatcher] = []
        self._rebuild: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        if grammar:
            self.connection.on_connected.append(self.refresh)
            for event in REGISTRY_EVENTS:
                self.connection.subscribe(event, self._registry_changed)

    def start(self) -> None:
        """Start the link (needs a running loop; :meth:`connect` calls it too)."""
        self.connection.start()

    def connect(self, peer: Peer, *, for_tool: bool = False) -> HomeAssistantSession:
        """A device's session (the link starts with the first one if not yet).

        ``for_tool``: the LLM's ``home_assistant`` tool; HA's "not aware of any
        device called ..." is then its answer, never passed on (the LLM asked)."""
        self.start()
        return HomeAssistantSession(self.connection, self.settings, peer,
                                    self._conversations, self._chain_for, for_tool=for_tool)

    def tool_session(self, peer: Peer) -> HomeAssistantSession:
        """The session the LLM's ``home_assistant`` tool speaks through (``for_tool``)."""
        return self.connect(peer, for_tool=True)

    def watch_phrases(self, watcher: PhrasesWatcher) -> None:
        """Call ``watcher(agent)`` after each new set of phrases."""
        self._watchers.append(watcher)

    async def refresh(self) -> None:
        """Read the home from HA and build the phrases again (after a (re)connection)."""
        try:
            config = await self.connection.call({"type": "get_config"})
            home = await read_home(self.connection)
        except (HaError, NotConnected, TimeoutError) as exc:
            log.warning("home assistant: cannot read the areas and entities: %s", exc)
            return
        self.home = home
        self.complete = isinstance(config, dict) and config.get("state") == "RUNNING"
        self.patterns = tuple(build_patterns(home, self._known_word))
        names = [n for a in home.areas for n in a.names]
        names += [n for e in home.entities for n in e.names]
        self.phrases = tuple(dict.fromkeys(p for p in map(name_pattern, names) if p))
        self.builds += 1
        log.info("home assistant grammar: %d areas, %d exposed entities, %d patterns%s",
                 len(home.areas), len(home.entities), len(self.patterns),
                 "" if self.complete else " (HA is still starting: read again when it is up)")
        if self._known_word is not None and (missing := unheard(home, self._known_word)):
            log.warning("home assistant names pocketsphinx cannot hear (a word not in its "
                        "dictionary; add an alias in HA): %s", ", ".join(missing[:20]))
        for watcher in list(self._watchers):
            try:
                watcher(self)
            except Exception:
                log.exception("updating the grammar with Home Assistant's phrases failed")

    def _registry_changed(self, event: dict[str, Any]) -> None:
        if self._rebuild is not None:
            self._rebuild.cancel()
        loop = asyncio.get_running_loop()
        self._rebuild = loop.call_later(REBUILD_DELAY_S, self._spawn_refresh)

    def _spawn_refresh(self) -> None:
        self._rebuild = None
        task = asyncio.get_running_loop().create_task(self.refresh())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def command(self, text: str, device: str = "llm") -> str:
        """HA's answer to a plain-language command (the LLM's ``home_assistant`` tool):
        its sentence, whatever it means; a short sentence when HA cannot answer."""
        self.start()
        session = self.connect(Peer(number=0, device=device), for_tool=True)
        parts: list[str] = []
        try:
            async for part in session.respond(Turn(id="tool", text=text)):
                if isinstance(part, Say):
                    parts.append(part.text)
        except Pass:
            return "Home Assistant did not understand that."
        except AgentFailed as exc:
            return f"Home Assistant could not answer: {exc.reason}."
        return " ".join(parts)

    async def aclose(self) -> None:
        """Close the link."""
        if self._rebuild is not None:
            self._rebuild.cancel()
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.connection.aclose()


def create(settings: Any, env: Any = None) -> HomeAssistantAgent:
    """The registry's factory: ``settings`` is the gateway's :class:`GatewaySettings`."""
    ha: HomeAssistantSettings = settings.dialog.home_assistant
    token = read_ha_token(ha)
    # The home's names: a grammar for pocketsphinx, hints for the cloud engines.
    local = settings.stt.engine == "pocketsphinx"
    from agent.gateway.stt.dictionary import known_word  # the recogniser's dictionary

    agent = HomeAssistantAgent(ha, token, settings.dialog.chain_for, grammar=ha.local_grammar,
                               known_word=known_word if local else None)
    with contextlib.suppress(RuntimeError):  # no running loop: starts with the first device
        asyncio.get_running_loop()
        agent.start()
    return agent
