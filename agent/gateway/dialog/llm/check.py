"""``voice-agent gateway --check`` for the language model: one line per step.

The server's host (DNS, TCP, TLS for https), then ``GET /v1/models`` with the
key (a refused key is HTTP 401, and nothing is generated, so nothing is
billed), then whether ``dialog.llm.model`` is among the models it lists. A
server that does not list models (some do not implement ``/v1/models``) is
an OK with a note: the model is then only known at the first turn.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import openai

from agent.gateway.check_steps import Steps, endpoint, network, network_names
from agent.gateway.dialog.llm.client import describe, make_client, read_key

if TYPE_CHECKING:
    from agent.gateway.settings import GatewaySettings


def check_llm(settings: GatewaySettings, source: str, steps: Steps) -> None:
    """The server, the key and the model of ``dialog.llm``."""
    llm = settings.dialog.llm
    host, port, secure = endpoint(llm.base_url)
    names = [*network_names(host, port, secure), "models", "model"]
    if not network(steps, host, port, secure, "dialog.llm.base_url"):
        steps.skip_rest(names)
        return
    key = read_key(llm)
    try:
        models = asyncio.run(_list(settings, key))
    except openai.NotFoundError:
        steps.add("models", True, "the server does not list its models (GET /v1/models: 404)")
        steps.skip("model", "not listed: it is checked at the first turn")
        return
    except Exception as exc:  # noqa: BLE001 - every SDK fault is one line with its fix
        fault = describe(exc)
        refused = isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError)
        steps.add("models", False, fault.reason,
                  "check dialog.llm.api_key_file or OPENAI_API_KEY" if refused
                  else "is dialog.llm.base_url an OpenAI-compatible API (ending in /v1)?")
        steps.skip_rest(names)
        return
    key_note = "with the key" if key else "no key needed"
    steps.add("models", True, f"{len(models)} model(s) listed ({key_note})")
    if llm.model in models:
        steps.add("model", True, f"{llm.model} (dialog.llm.model)")
    else:
        shown = ", ".join(models[:10]) + (" ..." if len(models) > 10 else "")
        steps.add("model", False,
                  f"unknown model {llm.model!r} (the server has: {shown or 'none'})",
                  "set dialog.llm.model to one of them (Ollama: ollama pull MODEL)")


async def _list(settings: GatewaySettings, key: str | None) -> list[str]:
    client = make_client(settings.dialog.llm, key)
    try:
        return [m.id async for m in client.models.list()]
    finally:
        await client.close()
