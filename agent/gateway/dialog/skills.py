"""The skill registry and the dialog: which skill answers an utterance.

A skill is one function with a decorator that lists its phrases::

    @SKILLS.skill("pool", phrases=["do you have a pool", "is there a pool"],
                  keywords=r"\\bpool\\b")
    def pool(req: Request) -> Reply:
        return Reply("Yes, there is a heated pool on the roof.")

The phrases build the recogniser's grammar (see :mod:`agent.gateway.grammar`);
``keywords`` (a regular expression) catches typed text and transcripts from
the general language model. A skill that asks a question back returns
``Reply(..., prompt=True)``; when it declares ``followup`` phrases, the next
utterance of that connection goes to it again with ``req.followup`` set
(recognised with a grammar that also holds those phrases).

The built-in skills are in :mod:`agent.gateway.dialog.builtin`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agent.gateway.grammar import Grammar, normalize

MAIN_SEARCH = "main"
"""Name of the grammar that holds every skill's phrases."""


@dataclass(frozen=True)
class Reply:
    """What a skill says back."""

    text: str
    """Spoken and shown."""
    prompt: bool = False
    """True: the skill expects an answer (the device listens again without a wake word)."""
    card: dict[str, Any] | None = None
    """A command card for ``response.data.card`` (volume, playback)."""
    timer: dict[str, Any] | None = None
    """A ``timer`` card for ``response.data.timer``: what the reply is about."""


@dataclass
class Dialog:
    """Per-connection conversation state."""

    pending: str | None = None
    """The skill that asked a question and gets the next utterance."""
    data: dict[str, Any] = field(default_factory=dict)
    """Scratch space, one entry per skill name."""
    location: tuple[float, float] | None = None
    """(latitude, longitude) from the client's ``location`` message."""
    timers: Any = None
    """This device's timers (:class:`agent.gateway.timers.alarms.Book`), if the gateway runs any."""


@dataclass(frozen=True)
class Request:
    """One utterance handed to a skill."""

    text: str
    """Normalised text (lower case, digits spelt out)."""
    raw: str
    """The transcript or typed text as received."""
    followup: bool
    """True when this answers the question this skill asked."""
    dialog: Dialog
    now: datetime
    state: dict[str, Any] = field(default_factory=dict)
    """This skill's own scratch space, kept while it waits for an answer."""


Handler = Callable[[Request], Reply]


@dataclass(frozen=True)
class Skill:
    """A registered skill."""

    name: str
    handler: Handler
    phrases: tuple[str, ...]
    followup: tuple[str, ...] = ()
    keywords: re.Pattern[str] | None = None


@dataclass(frozen=True)
class Answer:
    """The registry's decision for one utterance."""

    skill: str
    reply: Reply


class Skills:
    """A registry of skills plus the shared grammar rules (``<number>``...)."""

    def __init__(self, rules: dict[str, str] | None = None) -> None:
        self.rules: dict[str, str] = dict(rules or {})
        self.pronunciations: dict[str, str] = {}
        """Phones (CMU ARPAbet) of words the recogniser's dictionary lacks."""
        self._skills: dict[str, Skill] = {}
        self._fallback: Handler = lambda req: Reply("Sorry, I can't help with that yet.")
        self._grammar: Grammar | None = None

    def skill(
        self,
        name: str,
        *,
        phrases: Iterable[str],
        followup: Iterable[str] = (),
        keywords: str | None = None,
    ) -> Callable[[Handler], Handler]:
        """Decorator registering ``handler`` under ``name`` with its phrases."""

        def register(handler: Handler) -> Handler:
            if name in self._skills or "." in name or name == MAIN_SEARCH:
                raise ValueError(f"skill name {name!r} is taken or invalid")
            pattern = re.compile(keywords) if keywords else None
            self._skills[name] = Skill(name, handler, tuple(phrases), tuple(followup), pattern)
            self._grammar = None
            return handler

        return register

    def fallback(self, handler: Handler) -> Handler:
        """Decorator: the handler for anything no skill takes."""
        self._fallback = handler
        return handler

    @property
    def names(self) -> tuple[str, ...]:
        """Registered skill names in registration order."""
        return tuple(self._skills)

    @property
    def grammar(self) -> Grammar:
        """Every skill's phrases (group = skill name; ``name.followup`` for follow-ups)."""
        if self._grammar is None:
            self._grammar = Grammar(self.rules, self._groups())
        return self._grammar

    def _groups(self) -> dict[str, tuple[str, ...]]:
        groups: dict[str, tuple[str, ...]] = {}
        for s in self._skills.values():
            groups[s.name] = s.phrases
            if s.followup:
                groups[f"{s.name}.followup"] = s.followup
        return groups

    def searches(self, extra: Mapping[str, Sequence[str]] | None = None) -> dict[str, str]:
        """Named JSGF grammars for the recogniser: ``main`` and one per follow-up.

        ``extra``: other agents' phrase groups (Home Assistant's), heard beside
        the skills' phrases in every grammar."""
        g = Grammar(self.rules, {**self._groups(), **extra}) if extra else self.grammar
        heard = [*self._skills, *(extra or {})]
        out = {MAIN_SEARCH: g.jsgf(heard, "main")}
        for s in self._skills.values():
            if s.followup:
                out[self.search_for_pending(s.name)] = g.jsgf(
                    [f"{s.name}.followup", *heard], s.name
                )
        return out

    def phrases(self, limit: int = 100) -> tuple[str, ...]:
        """The skills' sentences that need no rule (``<number>`` ...): hints for cloud
        engines (keyterms, keywords). Optional parts holding a rule are left out."""
        out: dict[str, None] = {}
        for s in self._skills.values():
            for pattern in s.phrases:
                pattern = re.sub(r"\[[^\[\]]*<[^>]+>[^\[\]]*\]", "", pattern)
                if "<" in pattern:
                    continue
                out.update(dict.fromkeys(sorted(Grammar({}, {"p": [pattern]}).sentences("p"))))
        return tuple(out)[:limit]

    @staticmethod
    def search_for_pending(name: str) -> str:
        """The grammar name used while skill ``name`` waits for an answer."""
        return f"followup_{name}"

    def search_for(self, dialog: Dialog) -> str:
        """The grammar to recognise the next utterance of ``dialog`` with."""
        pending = self._skills.get(dialog.pending or "")
        if pending is not None and pending.followup:
            return self.search_for_pending(pending.name)
        return MAIN_SEARCH

    def classify(self, text: str, dialog: Dialog) -> tuple[Skill | None, bool]:
        """(skill, is_followup) for ``text``; (None, False) means the fallback."""
        g = self.grammar
        norm = normalize(text)
        pending = self._skills.get(dialog.pending or "")
        if pending is not None and pending.followup:
            if g.match(norm, [f"{pending.name}.followup"]):
                return pending, True
        name = g.match(norm, list(self._skills))
        if name is not None:
            return self._skills[name], False
        for s in self._skills.values():
            if s.keywords is not None and s.keywords.search(norm):
                return s, False
        if pending is not None and pending.followup:
            return pending, True  # not understood: the asking skill may ask again
        return None, False

    def catch_all(self, text: str, dialog: Dialog) -> Reply:
        """The fallback's reply: what is said when no agent had an answer."""
        now = datetime.now().astimezone()
        return self._fallback(Request(normalize(text), text, False, dialog, now))

    def respond(self, text: str, dialog: Dialog, now: datetime | None = None) -> Answer:
        """Run the skill chosen for ``text`` and update ``dialog``."""
        now = now or datetime.now().astimezone()
        skill, followup = self.classify(text, dialog)
        norm = normalize(text)
        if skill is None:
            dialog.pending = None
            return Answer("fallback", self._fallback(Request(norm, text, False, dialog, now)))
        scratch = dialog.data.setdefault(skill.name, {})
        if not followup:
            scratch.clear()
        reply = skill.handler(Request(norm, text, followup, dialog, now, scratch))
        # Only a skill with follow-up phrases owns the next turn; a bare prompt
        # (a greeting asking "how can I help?") just asks the device to listen.
        dialog.pending = skill.name if reply.prompt and skill.followup else None
        return Answer(skill.name, reply)
