"""The ``dialog`` section of the gateway's settings: which back end answers.

A contract (checked outside the project), documented in ``config/gateway.yaml``::

    dialog:
      engine: skills            # one name, or a list tried in order: [skills, llm]
      by_wake_word: {}          # e.g. {alexa: [home_assistant], hey_jarvis: [skills, llm]}
      llm: {...}                # agent.gateway.dialog.llm.settings
      home_assistant: {...}     # agent.gateway.dialog.home_assistant.settings
      diatheke:
        address: localhost:9002 # host:port of the Diatheke server
        api: 2                  # 2 | 1
        model: null             # null: the first model the server lists
        tls: false              # true: TLS, verified with the system CAs or ca_file
        ca_file: null
        timeout_s: 10
        speech: diatheke        # diatheke: its own ASR | gateway: stt.engine, text is sent

Kept out of :mod:`agent.gateway.settings` so that module stays one screenful
per section; it calls :func:`parse_dialog` for the section.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from agent.common.settings_reader import MISSING, Reader, field_names
from agent.gateway.dialog.home_assistant.settings import KNOWN_KEYS as HA_KEYS
from agent.gateway.dialog.home_assistant.settings import (
    HomeAssistantSettings,
    parse_home_assistant,
)
from agent.gateway.dialog.llm.settings import KNOWN_KEYS as LLM_KEYS
from agent.gateway.dialog.llm.settings import LlmSettings, parse_llm

AGENTS = ("skills", "llm", "home_assistant", "diatheke")
"""The agents a chain may name."""
WAKE_WORD_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

ADDRESS_RE = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$")
"""``host:port`` (an IPv6 host in brackets); the port is checked for range separately."""


@dataclass(frozen=True)
class DiathekeSettings:
    """Where the Cobalt Diatheke server is and how to use it."""

    address: str = "localhost:9002"
    """host:port of the server (9002: the port of the vendor's demo container)."""
    api: Literal[1, 2] = 2
    """2: Diatheke 2.x (token sessions); 1: Diatheke 1.x (session ids, event streams)."""
    model: str | None = None
    """The model id; None: the first model the server lists."""
    tls: bool = False
    """True: TLS, verified with the system CAs or ``ca_file``."""
    ca_file: str | None = None
    """PEM file of the CA that signed the server's certificate (with ``tls: true``)."""
    timeout_s: float = 10.0
    """Deadline of each call that is not a stream (and of waiting for a reply)."""
    speech: Literal["diatheke", "gateway"] = "diatheke"
    """diatheke: audio goes to Diatheke's ASR; gateway: ``stt.engine`` transcribes and
    the transcript is sent as text."""


@dataclass(frozen=True)
class DialogSettings:
    """Which agents answer the device, in which order."""

    engine: tuple[str, ...] = ("skills",)
    """The chain, tried in order: ``skills``, ``llm``, ``home_assistant``, ``diatheke``
    (``dialog.engine`` takes one name or a list)."""
    by_wake_word: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(wake word, chain) pairs: a turn opened by that wake word uses that chain."""
    diatheke: DiathekeSettings = DiathekeSettings()
    llm: LlmSettings = LlmSettings()
    home_assistant: HomeAssistantSettings = HomeAssistantSettings()

    def __post_init__(self) -> None:
        # One name is a chain of one (as in the file: ``engine: skills``).
        if isinstance(self.engine, str):
            object.__setattr__(self, "engine", (self.engine,))

    def chain_for(self, wake_word: str | None) -> tuple[str, ...]:
        """The chain of a turn opened by ``wake_word`` (None: a button, typed text...)."""
        return dict(self.by_wake_word).get(wake_word or "", self.engine)

    @property
    def agents(self) -> tuple[str, ...]:
        """Every agent some chain names, in first-named order."""
        names = [*self.engine, *(n for _w, chain in self.by_wake_word for n in chain)]
        return tuple(dict.fromkeys(names))


KNOWN_KEYS = (
    "dialog",
    "dialog.engine",
    "dialog.by_wake_word",
    "dialog.diatheke",
    *(f"dialog.diatheke.{k}" for k in field_names(DiathekeSettings)),
    "dialog.llm",
    *LLM_KEYS,
    "dialog.home_assistant",
    *HA_KEYS,
)
"""Every dotted key of the section (for suggestions on unknown keys)."""


def parse_dialog(top: Reader) -> DialogSettings:
    """Read ``dialog`` from the top-level reader (absent: the defaults)."""
    r = top.sub("dialog", field_names(DialogSettings))
    d = DialogSettings()
    engine = _chain(r, "engine", r.raw("engine"), d.engine)
    by_wake_word: list[tuple[str, tuple[str, ...]]] = []
    given = r.raw("by_wake_word")
    # A tuple of pairs: settings round-tripped through dataclasses.asdict (command line).
    words = dict(given) if isinstance(given, tuple) else r.mapping("by_wake_word", optional=True)
    for word, chain in (words or {}).items():
        if not isinstance(word, str) or not WAKE_WORD_RE.match(word):
            r.fail("by_wake_word", f"expected wake word names as keys, got {word!r}")
        by_wake_word.append((word, _chain(r, f"by_wake_word.{word}", chain, d.engine)))
    dr = r.sub("diatheke", field_names(DiathekeSettings))
    dd = d.diatheke
    address = dr.string("address", dd.address)
    assert address is not None
    m = ADDRESS_RE.match(address)
    if m is None or not 1 <= int(m.group(1)) <= 65535:
        dr.fail("address", f"expected host:port, e.g. localhost:9002, got {address!r}")
    api = dr.integer("api", dd.api, lo=1, hi=2)
    timeout = dr.number("timeout_s", dd.timeout_s, lo=0.1, hi=600, what="a duration in seconds")
    tls = dr.boolean("tls", dd.tls)
    ca_file = dr.path("ca_file", must_exist=True)
    if ca_file is not None and not tls:
        dr.fail("ca_file", "is only used with tls: true")
    diatheke = DiathekeSettings(
        address=address,
        api=api,  # type: ignore[arg-type]
        model=dr.string("model", dd.model),
        tls=tls,
        ca_file=ca_file,
        timeout_s=dd.timeout_s if timeout is None else timeout,
        speech=dr.choice("speech", dd.speech, ("diatheke", "gateway")),  # type: ignore[arg-type]
    )
    return DialogSettings(
        engine=engine,
        by_wake_word=tuple(by_wake_word),
        diatheke=diatheke,
        llm=parse_llm(r.sub("llm", field_names(LlmSettings))),
        home_assistant=parse_home_assistant(
            r.sub("home_assistant", field_names(HomeAssistantSettings))
        ),
    )


def _chain(r: Reader, key: str, value: object, default: tuple[str, ...]) -> tuple[str, ...]:
    """One agent name or a non-empty list of distinct names (``key`` names it in errors)."""
    if value is MISSING or value is None:
        return default
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list | tuple) or not names:
        r.fail(key, f"expected one of {', '.join(AGENTS)} or a list of them, got {value!r}")
    for name in names:
        if name not in AGENTS:
            r.fail(key, f"expected one of {', '.join(AGENTS)} or a list of them, got {name!r}")
    if len(set(names)) != len(names):
        r.fail(key, f"names an agent twice: {names!r}")
    return tuple(names)
