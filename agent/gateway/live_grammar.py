"""The recogniser's grammars with other agents' phrases beside the skills', kept current.

An agent whose phrases change at run time (Home Assistant: its areas and
devices, renamed or given an alias in HA) calls back here; the grammars are
built again (the skills' phrases plus every agent's patterns, in ``main`` and
in each follow-up grammar) and handed to the worker pool, which compiles
them in each worker before its next utterance. (The cloud engines' hints are
the agents' ``phrases``, read by the pipeline at each utterance.)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from agent.gateway.dialog.skills import Skills
from agent.gateway.grammar import Grammar, PatternError
from agent.gateway.stt.pool import SttPool

log = logging.getLogger(__name__)

class LiveGrammar:
    """Skills' grammars plus agents' phrases, pushed to ``pool`` on every change."""

    def __init__(self, skills: Skills, pool: SttPool) -> None:
        self._skills = skills
        self._pool = pool
        self._patterns: dict[str, tuple[str, ...]] = {}
        self.counts: dict[str, int] = {}
        """Sentences each agent's patterns expand to (``--check``, logs)."""

    def watch(self, agents: Iterable[Any]) -> None:
        """Follow every agent that announces new grammar patterns (``watch_phrases``)."""
        for agent in agents:
            if hasattr(agent, "watch_phrases"):
                agent.watch_phrases(self._changed)

    def _changed(self, agent: Any) -> None:
        self.update(agent.name, agent.patterns)

    def update(self, owner: str, patterns: Iterable[str]) -> None:
        """``owner``'s phrases are now ``patterns`` (the grammar language)."""
        patterns = tuple(patterns)
        try:
            count = len(Grammar({}, {owner: patterns}).sentences(owner)) if patterns else 0
            searches = self._skills.searches({**self._patterns, owner: patterns})
        except PatternError as exc:
            log.error("%s's phrases are not used: %s", owner, exc)
            return
        self._patterns[owner] = patterns
        self.counts[owner] = count
        self._pool.update_searches(searches)
        log.info("grammar: %d %s sentences heard beside the skills'", count, owner)
