"""Which reply form a client gets, decided once, at its handshake.

The protocol has two forms of reply audio (``docs/protocol.md``):

* **standard**: ``audio_data.data`` is base64 text (as clients send audio),
  and ``prompt`` rides on both ``text`` and ``audio_end``;
* **node**: ``data`` is a Node ``{"type": "Buffer", "data": [...]}`` object,
  and ``prompt`` rides on ``text`` only, as a Node.js gateway sent it.

The published protocol shows the object form, and the one public client of it,
IBM's Java sample for the Raspberry Pi (v1.5), plays *only* that form: with
base64 it logs "No data key in response object." for every chunk and plays
nothing. This project's own device reads both and prefers base64 (about a
third of the bytes). So with ``reply.form: auto`` (the default) the gateway
sends base64 only to a client that says it is this project's device, and the
object form to everyone else:

* the device sends ``User-Agent: voice-agent/VERSION`` at every handshake
  (:mod:`agent.link.endpoint`); a ``voice-agent`` product token anywhere in
  the header counts (``voice-agent/0.1.0 (raspberry-pi)`` too);
* ``?reply_form=standard|node|auto`` in the connection URL overrides the
  setting for that connection; an unknown value is logged and ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

DEVICE_PRODUCT = "voice-agent"
"""The product token this project's device puts in its ``User-Agent``."""
ANNOUNCE_PRODUCT = "voice-agent-announce"
"""The product token of ``voice-agent announce``: a tool, not a device."""

# RFC 9110 product tokens: "name/version" (or just "name"), separated by spaces;
# comments in parentheses are skipped.
_COMMENT = re.compile(r"\([^)]*\)")
_QUERY_FORMS = ("auto", "standard", "node")

Form = Literal["standard", "node"]


@dataclass(frozen=True)
class FormChoice:
    """The form one connection gets, and why (for the connection's log line)."""

    form: Form
    why: str

    @property
    def buffer_form(self) -> bool:
        """True for the Node Buffer form."""
        return self.form == "node"


def names_product(user_agent: str | None, wanted: str) -> bool:
    """True when a ``User-Agent`` names the product ``wanted`` as one of its products."""
    if not user_agent:
        return False
    for product in _COMMENT.sub(" ", user_agent).split():
        name = product.partition("/")[0]
        if name.lower() == wanted:
            return True
    return False


def announces_device(user_agent: str | None) -> bool:
    """True when a ``User-Agent`` names this project's device as one of its products."""
    return names_product(user_agent, DEVICE_PRODUCT)


def is_announce_tool(user_agent: str | None) -> bool:
    """True for ``voice-agent announce``'s connection (it asks; it is not a device)."""
    return names_product(user_agent, ANNOUNCE_PRODUCT)


def choose_form(setting: str, query_value: str | None, user_agent: str | None) -> FormChoice:
    """The reply form for a connection.

    ``setting`` is ``reply.form`` (auto, standard or node), ``query_value`` the
    last ``reply_form`` of the URL (None when absent), ``user_agent`` the
    handshake's ``User-Agent`` header (None when absent).
    """
    if is_announce_tool(user_agent):
        return FormChoice("standard", "the voice-agent announce tool")
    chosen = setting
    how = f"reply.form {setting}"
    if query_value is not None:
        value = query_value.lower()
        if value in _QUERY_FORMS:
            chosen, how = value, f"?reply_form={value}"
        else:
            how += f"; ignored ?reply_form={query_value[:40]!r}"
    if chosen in ("standard", "node"):
        return FormChoice(chosen, how)  # type: ignore[arg-type]
    agent = "no User-Agent" if not user_agent else f"User-Agent {user_agent[:100]!r}"
    if announces_device(user_agent):
        return FormChoice("standard", f"{how}: {agent} is this project's device")
    return FormChoice("node", f"{how}: {agent} is not known to take base64")
