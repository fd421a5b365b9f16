"""The ``dialog.llm`` section: an OpenAI-compatible chat completions server.

A contract (checked outside the project), documented in ``config/gateway.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.common.settings_reader import Reader, field_names
from agent.gateway.dialog.web_url import read_url


@dataclass(frozen=True)
class LlmSettings:
    """Where the language model is and how to ask it."""

    base_url: str = "http://localhost:11434/v1"
    """Any OpenAI-compatible server (Ollama's ``/v1``, llama.cpp, vLLM, OpenAI...)."""
    api_key_file: str | None = None
    """A file holding the API key; else ``OPENAI_API_KEY``; a local server needs none."""
    model: str = "llama3.2"
    system_prompt: str | None = None
    """None: the built-in one (spoken, brief, no markdown; date, time, location)."""
    max_tokens: int = 300
    temperature: float | None = None
    """None: the server's default."""
    timeout_s: float = 30.0
    """For the whole reply."""
    history_turns: int = 8
    """Turns of each device's conversation kept."""
    forget_after_s: float = 300.0
    """A device's conversation is forgotten after this many idle seconds."""
    tools: bool = True
    """Timers, the time (and Home Assistant when configured) as tools."""


KNOWN_KEYS = tuple(f"dialog.llm.{k}" for k in field_names(LlmSettings))


def parse_llm(r: Reader) -> LlmSettings:
    """Read the ``dialog.llm`` section (``r`` is its reader)."""
    d = LlmSettings()
    model = r.string("model", d.model)
    if not model:
        r.fail("model", "must name the model, e.g. llama3.2")
    temperature = r.number("temperature", None, lo=0, hi=2, optional=True, what="a temperature")
    return LlmSettings(
        base_url=read_url(r, "base_url", d.base_url),
        api_key_file=r.path("api_key_file", must_exist=True),
        model=model,
        system_prompt=r.string("system_prompt", d.system_prompt),
        max_tokens=r.integer("max_tokens", d.max_tokens, lo=1, hi=100_000),  # type: ignore[arg-type]
        temperature=temperature,
        timeout_s=r.number("timeout_s", d.timeout_s, lo=0.1, hi=600,  # type: ignore[arg-type]
                           what="a duration in seconds"),
        history_turns=r.integer("history_turns", d.history_turns, lo=0, hi=1000),  # type: ignore[arg-type]
        forget_after_s=r.number("forget_after_s", d.forget_after_s, lo=0,  # type: ignore[arg-type]
                                hi=7 * 86400, what="a duration in seconds"),
        tools=r.boolean("tools", d.tools),
    )
