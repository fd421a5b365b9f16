"""Which agents a gateway runs: one instance per configured name, made by its factory.

Each agent lives in a module of its own with a factory
``create(settings, env) -> Agent``; it is imported only when a chain names it
(so a gateway without ``llm`` never imports ``openai``, one without
``diatheke`` never imports grpc).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent.gateway.dialog.agent import Agent
from agent.gateway.dialog.skills import Skills

if TYPE_CHECKING:
    from agent.gateway.settings import GatewaySettings

FACTORIES = {
    "skills": "agent.gateway.dialog.skills_agent:create",
    "diatheke": "agent.gateway.dialog.diatheke.agent:create",
    "llm": "agent.gateway.dialog.llm.agent:create",
    "home_assistant": "agent.gateway.dialog.home_assistant.agent:create",
}
"""Agent name -> ``module:function`` of its factory."""

REMOTE_NAMES = {
    "llm": "the language model",
    "home_assistant": "Home Assistant",
    "diatheke": "the Diatheke server",
}
"""How the closing sentence names a remote agent that could not be reached."""


@dataclass
class AgentEnv:
    """What a factory may use: the settings, the skills, and the other agents."""

    settings: GatewaySettings
    skills: Skills
    agents: dict[str, Agent] = field(default_factory=dict)
    """Every configured agent by name (filled before the first turn)."""


def factory(name: str) -> Callable[[GatewaySettings, AgentEnv], Agent]:
    """The factory of agent ``name`` (imports its module)."""
    module, _, function = FACTORIES[name].partition(":")
    made: Any = getattr(importlib.import_module(module), function)
    return made


def create_agents(settings: GatewaySettings, skills: Skills) -> dict[str, Agent]:
    """One agent per name the chains use, in the order they are first named."""
    env = AgentEnv(settings, skills)
    for name in settings.dialog.agents:
        env.agents[name] = factory(name)(settings, env)
    return env.agents
