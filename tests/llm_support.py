"""Shared pieces of the llm agent's unit tests: the agent driven directly (``respond()``)
against the OpenAI-compatible stand-in, real timers behind a real TimerService."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from standins.openai_standin import MODEL, OpenAIStandIn

from agent.gateway.dialog.agent import Peer, Say, Turn
from agent.gateway.dialog.llm.agent import LlmAgent
from agent.gateway.dialog.llm.settings import LlmSettings
from agent.gateway.timers.alarms import TimerService
from agent.gateway.timers.store import TimerStore

NOW = datetime(2026, 12, 6, 11, 45, tzinfo=UTC)


def settings(server: OpenAIStandIn, key_file: str, **kw: Any) -> LlmSettings:
    return replace(LlmSettings(base_url=server.base_url, api_key_file=key_file, model=MODEL,
                               timeout_s=10), **kw)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def collect(agent: LlmAgent, peer: Peer, text: str, *, stop_after: int | None = None,
                  on_part: Any = None) -> list[Any]:
    """The parts of one reply (``stop_after`` parts: then the generator is closed)."""
    parts: list[Any] = []
    gen = agent.connect(peer).respond(Turn(id="t1", text=text))
    try:
        async for part in gen:
            parts.append(part)
            if on_part is not None:
                on_part(part)
            if stop_after is not None and len(parts) >= stop_after:
                break
    finally:
        await gen.aclose()
    return parts


def said(parts: list[Any]) -> list[str]:
    return [p.text for p in parts if isinstance(p, Say)]


def ask(agent: LlmAgent, text: str, device: str = "kitchen", **kw: Any) -> list[Any]:
    async def go() -> list[Any]:
        try:
            return await collect(agent, Peer(1, device, **kw), text)
        finally:
            await agent.aclose()
    return run(go())


def timers() -> tuple[TimerService, Any]:
    service = TimerService(TimerStore(None), 60)

    class Target:
        owner = "kitchen"

    return service, service.attach(Target())  # type: ignore[arg-type]
