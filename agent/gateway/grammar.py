"""Skill phrases: one small pattern language, turned into a JSGF grammar and a matcher.

A phrase is words, ``( a | b )`` alternatives, ``[ optional ]`` parts and
``<rule>`` references to shared rules (``<number>``, ``<duration>``), e.g.
``(set | start) a timer [for <duration>]``. The same pattern gives the JSGF
grammar the recogniser is constrained to and the set of sentences it can
produce, so a recognised sentence maps back to its skill exactly; typed text
and general-model transcripts go through :func:`normalize` first.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

_TOKEN = re.compile(r"\s*(\(|\)|\[|\]|\||<[a-z_][a-z0-9_]*>|[a-z][a-z']*)")
MAX_SENTENCES = 20_000
"""A pattern expanding to more sentences than this is refused (it is a typo)."""

_NUMBERS = {
    "0": "zero",
    "1": "one",
    "2": "two",
    "3": "three",
    "4": "four",
    "5": "five",
    "6": "six",
    "7": "seven",
    "8": "eight",
    "9": "nine",
    "10": "ten",
    "11": "eleven",
    "12": "twelve",
    "13": "thirteen",
    "14": "fourteen",
    "15": "fifteen",
    "16": "sixteen",
    "17": "seventeen",
    "18": "eighteen",
    "19": "nineteen",
    "20": "twenty",
    "30": "thirty",
    "40": "forty",
    "45": "forty five",
    "50": "fifty",
    "60": "sixty",
    "90": "ninety",
}


WAKE_PHRASES = ("hey jarvis", "jarvis", "alexa", "hey mycroft", "mycroft", "hey rhasspy", "rhasspy")
"""Wake words a device's pre-roll may carry in front of a command (optional in every grammar)."""
WAKE_PRONUNCIATIONS = {"mycroft": "M AY K R AO F T", "rhasspy": "R AE S P IY"}
"""CMU ARPAbet phones of the wake words pocketsphinx's dictionary lacks."""


def strip_wake(text: str) -> str:
    """``text`` (normalised) without a leading wake phrase: the device's pre-roll
    puts the end of the wake word in front of what the user asked."""
    for phrase in sorted(WAKE_PHRASES, key=len, reverse=True):
        if text == phrase:
            return ""
        if text.startswith(phrase + " "):
            return text[len(phrase) + 1 :]
    return text


class PatternError(ValueError):
    """A phrase pattern that cannot be parsed."""


@dataclass(frozen=True)
class _Seq:
    items: tuple[_Node, ...]


@dataclass(frozen=True)
class _Alt:
    options: tuple[_Seq, ...]


@dataclass(frozen=True)
class _Opt:
    body: _Alt


@dataclass(frozen=True)
class _Ref:
    name: str


_Node = str | _Alt | _Opt | _Ref


def _tokens(pattern: str) -> list[str]:
    text = pattern.lower().strip()
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise PatternError(f"unexpected {text[pos:].strip()[:20]!r} in {pattern!r}")
        out.append(m.group(1))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def parse(pattern: str) -> _Alt:
    """Parse one pattern (raises :class:`PatternError`)."""
    toks = _tokens(pattern)
    node, pos = _parse_alt(toks, 0, pattern)
    if pos != len(toks):
        raise PatternError(f"unbalanced {toks[pos]!r} in {pattern!r}")
    return node


def _parse_alt(toks: list[str], pos: int, pattern: str) -> tuple[_Alt, int]:
    options = []
    while True:
        seq, pos = _parse_seq(toks, pos, pattern)
        if not seq.items:
            raise PatternError(f"empty alternative in {pattern!r}")
        options.append(seq)
        if pos < len(toks) and toks[pos] == "|":
            pos += 1
            continue
        return _Alt(tuple(options)), pos


def _parse_seq(toks: list[str], pos: int, pattern: str) -> tuple[_Seq, int]:
    items: list[_Node] = []
    while pos < len(toks) and toks[pos] not in ("|", ")", "]"):
        tok = toks[pos]
        if tok in ("(", "["):
            close = ")" if tok == "(" else "]"
            inner, pos = _parse_alt(toks, pos + 1, pattern)
            if pos >= len(toks) or toks[pos] != close:
                raise PatternError(f"missing {close!r} in {pattern!r}")
            items.append(inner if tok == "(" else _Opt(inner))
        elif tok.startswith("<"):
            items.append(_Ref(tok[1:-1]))
        else:
            items.append(tok)
        pos += 1
    return _Seq(tuple(items)), pos


def _jsgf(node: _Node | _Seq) -> str:
    if isinstance(node, str):
        return node
    if isinstance(node, _Ref):
        return f"<{node.name}>"
    if isinstance(node, _Opt):
        return f"[{_jsgf(node.body)}]"
    if isinstance(node, _Seq):
        return " ".join(_jsgf(i) for i in node.items)
    return "(" + " | ".join(_jsgf(o) for o in node.options) + ")"


def _expand(node: _Node | _Seq, rules: Mapping[str, _Alt], depth: int = 0) -> list[tuple[str, ...]]:
    if depth > 20:
        raise PatternError("rules refer to each other too deeply")
    if isinstance(node, str):
        return [(node,)]
    if isinstance(node, _Ref):
        if node.name not in rules:
            raise PatternError(f"unknown rule <{node.name}>")
        return _expand(rules[node.name], rules, depth + 1)
    if isinstance(node, _Opt):
        return [(), *_expand(node.body, rules, depth)]
    if isinstance(node, _Seq):
        out: list[tuple[str, ...]] = [()]
        for item in node.items:
            parts = _expand(item, rules, depth)
            out = [a + b for a, b in itertools.product(out, parts)]
            if len(out) > MAX_SENTENCES:
                raise PatternError("pattern expands to too many sentences")
        return out
    return [s for o in node.options for s in _expand(o, rules, depth)]


class Grammar:
    """A set of named phrase groups over shared rules: JSGF text and exact matching.

    ``groups`` maps a name (a skill, or ``skill.followup``) to its patterns.
    """

    def __init__(self, rules: Mapping[str, str], groups: Mapping[str, Iterable[str]]) -> None:
        self._rules = {name: parse(p) for name, p in rules.items()}
        self._groups = {name: [parse(p) for p in pats] for name, pats in groups.items()}
        self._sentences: dict[str, frozenset[str]] = {}
        for name, nodes in self._groups.items():
            sentences: set[str] = set()
            for node in nodes:
                sentences.update(" ".join(s) for s in _expand(node, self._rules))
            self._sentences[name] = frozenset(sentences)

    @property
    def groups(self) -> tuple[str, ...]:
        """The group names, in the order given."""
        return tuple(self._groups)

    def sentences(self, group: str) -> frozenset[str]:
        """Every sentence ``group`` accepts (normalised: lower case, single spaces)."""
        return self._sentences[group]

    def words(self) -> frozenset[str]:
        """Every word used by any group."""
        return frozenset(w for s in self._sentences.values() for x in s for w in x.split())

    def match(self, text: str, groups: Iterable[str]) -> str | None:
        """The first of ``groups`` whose sentences include ``text`` (normalised), or None."""
        norm = strip_wake(normalize(text))
        for name in groups:
            if norm in self._sentences[name]:
                return name
        return None

    def jsgf(self, groups: Iterable[str], name: str = "skills") -> str:
        """A JSGF grammar accepting any sentence of ``groups``."""
        chosen = list(groups)
        used: set[str] = set()
        pending = [n for g in chosen for n in self._groups[g]]
        while pending:
            node = pending.pop()
            for ref in _refs(node):
                if ref not in used:
                    if ref not in self._rules:
                        raise PatternError(f"unknown rule <{ref}>")
                    used.add(ref)
                    pending.append(self._rules[ref])
        lines = ["#JSGF V1.0;", f"grammar {name};"]
        alts = [_jsgf(n) for g in chosen for n in self._groups[g]]
        # An utterance may begin with (the end of) a wake word: devices send
        # pre-roll from before the detection point.
        lines.append("public <utterance> = [<wake>] (" + " | ".join(alts) + ");")
        lines.append("<wake> = (" + " | ".join(WAKE_PHRASES) + ");")
        for ref in sorted(used):
            lines.append(f"<{ref}> = {_jsgf(self._rules[ref])};")
        return "\n".join(lines) + "\n"


def _refs(node: _Node | _Seq) -> Iterable[str]:
    if isinstance(node, _Ref):
        yield node.name
    elif isinstance(node, _Opt):
        yield from _refs(node.body)
    elif isinstance(node, _Seq):
        for item in node.items:
            yield from _refs(item)
    elif isinstance(node, _Alt):
        for option in node.options:
            yield from _refs(option)


def normalize(text: str) -> str:
    """Lower case, digits spelt out, punctuation dropped, single spaces."""
    text = text.lower().replace("’", "'")
    text = re.sub(r"\d+", lambda m: f" {_NUMBERS.get(m.group(0), m.group(0))} ", text)
    text = re.sub(r"[^a-z0-9' ]+", " ", text)
    return " ".join(w.strip("'") for w in text.split() if w.strip("'"))
