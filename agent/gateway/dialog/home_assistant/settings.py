"""The ``dialog.home_assistant`` section: Home Assistant's conversation API.

A contract (checked outside the project), documented in ``config/gateway.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.common.settings_reader import Reader, field_names
from agent.gateway.dialog.web_url import read_url


@dataclass(frozen=True)
class HomeAssistantSettings:
    """Where Home Assistant is and how to talk to it."""

    url: str = "http://homeassistant.local:8123"
    """http:// only to loopback or a private LAN address; https:// anywhere."""
    token_file: str | None = None
    """A long-lived access token; else the ``HA_TOKEN`` environment variable."""
    agent_id: str | None = None
    """None: HA's default conversation agent."""
    language: str = "en"
    timeout_s: float = 10.0
    ca_file: str | None = None
    """PEM of the CA for an https:// URL (else the system CAs)."""
    local_grammar: bool = True
    """pocketsphinx hears HA's areas and devices (a grammar built from HA)."""


KNOWN_KEYS = tuple(f"dialog.home_assistant.{k}" for k in field_names(HomeAssistantSettings))


def parse_home_assistant(r: Reader) -> HomeAssistantSettings:
    """Read the ``dialog.home_assistant`` section (``r`` is its reader)."""
    d = HomeAssistantSettings()
    language = r.string("language", d.language)
    if not language:
        r.fail("language", "must be a language code such as en")
    return HomeAssistantSettings(
        url=read_url(r, "url", d.url),
        token_file=r.path("token_file", must_exist=True),
        agent_id=r.string("agent_id", d.agent_id),
        language=language,
        timeout_s=r.number("timeout_s", d.timeout_s, lo=0.1, hi=600,  # type: ignore[arg-type]
                           what="a duration in seconds"),
        ca_file=r.path("ca_file", must_exist=True),
        local_grammar=r.boolean("local_grammar", d.local_grammar),
    )
