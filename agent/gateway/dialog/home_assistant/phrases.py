"""Grammar phrases for HA's common intents, built from the user's own home.

Patterns in :mod:`agent.gateway.grammar`'s language (``( a | b )``,
``[ optional ]``), one small function per intent so each is easy to read
against HA's sentences (home-assistant-intents, English):

* turn on/off NAME ("turn on the kitchen lights", "turn the fan off");
* turn on/off the lights in AREA ("turn off the lights in the kitchen",
  "turn on the kitchen lights" is HA's area form too);
* set NAME to N percent (lights);
* open/close NAME (covers), lock/unlock NAME (locks);
* is NAME on/off / open/closed / locked;
* what is the temperature in AREA (when the home has a climate entity).

Names are normalised like transcripts (lower case, digits spelt out, no
punctuation); "the" is optional everywhere; "light"/"lights" both work for
areas. A name with a word the recogniser's dictionary lacks is left out (it
cannot be heard; logged once by the caller).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from agent.gateway.dialog.home_assistant.home import Home
from agent.gateway.grammar import normalize

PERCENTS = ("(ten | twenty | twenty five | thirty | forty | fifty | sixty | seventy"
            " | seventy five | eighty | ninety | one hundred)")
"""The brightness levels the grammar hears (HA takes the words as they are)."""
SWITCHABLE = ("light", "switch", "fan", "media_player", "climate")


def name_pattern(name: str) -> str:
    """A name as a pattern: normalised words (empty when nothing is left)."""
    return normalize(name)


def _names(names: Iterable[str]) -> list[str]:
    return [p for p in (name_pattern(n) for n in names) if p]


def _alt(names: list[str]) -> str:
    return names[0] if len(names) == 1 else "(" + " | ".join(names) + ")"


MAX_NAMES = 40
"""Names per pattern: a pattern's sentences stay far below the grammar's cap (12 levels
x 2 x 2 x 40 = 1,920 for brightness), and one pattern per intent keeps the
recogniser's search small: its prefix ("turn on the") is shared by every name instead of
copied per device, which made a 100-device grammar 10x slower to decode."""


def _names_of(home: Home, domains: Iterable[str]) -> list[str]:
    wanted = set(domains)
    names = (n for e in home.entities if e.domain in wanted for n in e.names)
    return list(dict.fromkeys(_names(names)))


def _chunks(names: list[str]) -> list[str]:
    """The names as alternatives, at most :data:`MAX_NAMES` to a pattern."""
    return [_alt(names[i : i + MAX_NAMES]) for i in range(0, len(names), MAX_NAMES)]


def switch_phrases(home: Home) -> list[str]:
    """turn on/off NAME, turn NAME on/off, switch on/off NAME; is NAME on/off."""
    return [p for n in _chunks(_names_of(home, SWITCHABLE)) for p in (
        f"turn (on | off) [the] {n}", f"turn [the] {n} (on | off)",
        f"switch (on | off) [the] {n}", f"is [the] {n} (on | off)")]


def brightness_phrases(home: Home) -> list[str]:
    """set NAME [brightness] to N percent (lights)."""
    return [f"set [the] {n} [brightness] to {PERCENTS} percent"
            for n in _chunks(_names_of(home, ["light"]))]


def cover_phrases(home: Home) -> list[str]:
    """open/close NAME; is NAME open/closed."""
    return [p for n in _chunks(_names_of(home, ["cover"])) for p in (
        f"(open | close) [the] {n}", f"is [the] {n} (open | closed)")]


def lock_phrases(home: Home) -> list[str]:
    """lock/unlock NAME; is NAME locked/unlocked."""
    return [p for n in _chunks(_names_of(home, ["lock"])) for p in (
        f"(lock | unlock) [the] {n}", f"is [the] {n} (locked | unlocked)")]


INTENT_PHRASES: tuple[Callable[[Home], list[str]], ...] = (
    switch_phrases, brightness_phrases, cover_phrases, lock_phrases,
)


def area_phrases(home: Home) -> list[str]:
    """turn on/off the lights in AREA, AREA lights on/off; the temperature in AREA."""
    out: list[str] = []
    climate = any(e.domain == "climate" for e in home.entities)
    for a in _chunks(list(dict.fromkeys(_names(n for area in home.areas for n in area.names)))):
        out += [f"turn (on | off) [the] (light | lights) in [the] {a}",
                f"turn (on | off) [the] {a} (light | lights)",
                f"turn [the] {a} (light | lights) (on | off)"]
        if climate:
            out += [f"what is the temperature in [the] {a}", "what is the temperature"]
    return list(dict.fromkeys(out))


def build_patterns(home: Home, known: Callable[[str], bool] | None = None) -> list[str]:
    """Every pattern for ``home``; with ``known`` (word -> in the dictionary), names
    with unknown words are left out first."""
    if known is not None:
        home = hearable(home, known)
    out: list[str] = []
    for build in INTENT_PHRASES:
        out += build(home)
    out += area_phrases(home)
    return list(dict.fromkeys(out))


def hearable(home: Home, known: Callable[[str], bool]) -> Home:
    """``home`` with the names the recogniser cannot spell left out."""

    def ok(name: str) -> bool:
        words = name_pattern(name).split()
        return bool(words) and all(known(w) for w in words)

    areas = tuple(type(a)(a.id, tuple(n for n in a.names if ok(n))) for a in home.areas)
    entities = tuple(type(e)(e.id, tuple(n for n in e.names if ok(n)), e.area)
                     for e in home.entities)
    return Home(tuple(a for a in areas if a.names), tuple(e for e in entities if e.names))


def unheard(home: Home, known: Callable[[str], bool]) -> list[str]:
    """The names of ``home`` that have a word the dictionary lacks (for a log line)."""
    names = [n for a in home.areas for n in a.names] + [n for e in home.entities for n in e.names]
    return [n for n in names if not all(known(w) for w in name_pattern(n).split())]
