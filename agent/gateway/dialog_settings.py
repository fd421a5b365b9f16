"""The ``dialog`` section of the gateway's settings: which back end answers.

A contract (checked outside the project), documented in ``config/gateway.yaml``::

    dialog:
      engine: skills            # skills | diatheke
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

from agent.common.settings_reader import Reader, field_names

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
    """Which dialog back end answers the device."""

    engine: Literal["skills", "diatheke"] = "skills"
    """skills: the built-in skills; diatheke: a Cobalt Diatheke server."""
    diatheke: DiathekeSettings = DiathekeSettings()


KNOWN_KEYS = (
    "dialog",
    "dialog.engine",
    "dialog.diatheke",
    *(f"dialog.diatheke.{k}" for k in field_names(DiathekeSettings)),
)
"""Every dotted key of the section (for suggestions on unknown keys)."""


def parse_dialog(top: Reader) -> DialogSettings:
    """Read ``dialog`` from the top-level reader (absent: the defaults)."""
    r = top.sub("dialog", field_names(DialogSettings))
    d = DialogSettings()
    engine = r.choice("engine", d.engine, ("skills", "diatheke"))
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
    return DialogSettings(engine=engine, diatheke=diatheke)  # type: ignore[arg-type]
