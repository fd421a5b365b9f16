"""The chat completions client: the ``openai`` SDK, one streamed request per round.

Every OpenAI-compatible server (Ollama's ``/v1``, llama.cpp, vLLM, LM Studio,
OpenAI, Groq, OpenRouter) accepts the SDK, so there is no HTTP code here: a
:class:`Round` opens one streamed ``chat.completions.create`` call, hands out
the text deltas as they come and gathers the tool calls (their arguments come
in pieces, concatenated per index and parsed only at the end).

The API key comes from ``dialog.llm.api_key_file``, else ``OPENAI_API_KEY``;
a local server needs none (the SDK still wants a non-empty string). It is
registered with the process's redactor before the client exists, so that no
log line of ours, the SDK's or httpx's can carry it.

Every fault of the server or the connection becomes a :class:`LlmFault` with
one line that says what happened (never the key).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai

from agent.common.redact import REDACTOR
from agent.gateway.dialog.llm.settings import LlmSettings

log = logging.getLogger(__name__)

NO_KEY = "no-key"
"""Sent when no key is configured: local servers accept any key, the SDK wants one."""
CONNECT_TIMEOUT_S = 5.0


class LlmFault(Exception):
    """The server or the connection failed; ``str()`` is one line for the log."""

    def __init__(self, reason: str, *, unreachable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.unreachable = unreachable


def read_key(settings: LlmSettings, environ: dict[str, str] | None = None) -> str | None:
    """The API key (the file's first line, else ``OPENAI_API_KEY``), registered as a secret."""
    env = os.environ if environ is None else environ
    key: str | None = None
    if settings.api_key_file:
        lines = Path(settings.api_key_file).read_text(encoding="utf-8").strip().splitlines()
        key = lines[0].strip() or None if lines else None
    if key is None:
        key = (env.get("OPENAI_API_KEY") or "").strip() or None
    if key is not None:
        REDACTOR.add(key)
        REDACTOR.install()
    return key


def make_client(settings: LlmSettings, key: str | None) -> openai.AsyncOpenAI:
    """The SDK's client: no retries (a fault moves the chain on at once), bounded waits."""
    return openai.AsyncOpenAI(
        base_url=settings.base_url,
        api_key=key or NO_KEY,
        max_retries=0,
        timeout=openai.Timeout(settings.timeout_s, connect=min(CONNECT_TIMEOUT_S,
                                                               settings.timeout_s)),
    )


@dataclass
class ToolCall:
    """One tool call of the model, whole."""

    id: str
    name: str
    arguments: str

    def message(self) -> dict[str, Any]:
        """As part of the assistant message that asked for it."""
        return {"id": self.id, "type": "function",
                "function": {"name": self.name, "arguments": self.arguments}}


@dataclass
class _Pieces:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


def describe(exc: BaseException) -> LlmFault:
    """One line for what went wrong (HTTP status and the server's message, the exception)."""
    if isinstance(exc, LlmFault):
        return exc
    if isinstance(exc, TimeoutError | openai.APITimeoutError):
        # A connect timeout is a server that cannot be reached (a host that is off).
        connect = "connect" in type(exc.__cause__).__name__.lower()
        return LlmFault("cannot connect: timed out" if connect else "timed out",
                        unreachable=connect)
    if isinstance(exc, openai.APIStatusError):
        what = {401: "the API key was refused", 403: "forbidden", 404: "unknown model or URL",
                429: "rate limited", }.get(exc.status_code, "server error")
        return LlmFault(f"HTTP {exc.status_code} ({what}): {_short(exc.message)}")
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__
        if cause is not None and not isinstance(cause, ConnectionRefusedError | OSError) and \
                "connect" not in type(cause).__name__.lower():
            return LlmFault(f"the connection broke: {type(cause).__name__}: {_short(str(cause))}")
        return LlmFault(f"cannot connect: {_short(str(cause or exc))}", unreachable=True)
    if isinstance(exc, json.JSONDecodeError | ValueError | TypeError | AttributeError):
        return LlmFault(f"a malformed chunk: {type(exc).__name__}: {_short(str(exc))}")
    if isinstance(exc, openai.APIError):
        return LlmFault(f"the server reported an error: {_short(exc.message)}")
    return LlmFault(f"{type(exc).__name__}: {_short(str(exc))}")


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Round:
    """One streamed request: :meth:`next` until None, then :attr:`tool_calls`.

    :meth:`close` closes the HTTP stream (the server stops generating); every
    wait is bounded by ``deadline`` (the loop's clock), the whole reply's.
    """

    def __init__(self, client: openai.AsyncOpenAI, request: dict[str, Any],
                 deadline: float) -> None:
        self._client = client
        self._request = request
        self._deadline = deadline
        self._stream: Any = None
        self._iterator: Any = None
        self._pieces: dict[int, _Pieces] = {}
        self.finish_reason: str | None = None

    async def next(self) -> str | None:
        """The next text delta (maybe empty), None at the end (raises :class:`LlmFault`)."""
        try:
            async with asyncio.timeout_at(self._deadline):
                if self._iterator is None:
                    self._stream = await self._client.chat.completions.create(
                        **self._request, stream=True)
                    self._iterator = self._stream  # AsyncStream: __anext__ reads one chunk
                try:
                    chunk = await self._iterator.__anext__()
                except StopAsyncIteration:
                    return None
            return self._take(chunk)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - every fault becomes one line
            raise describe(exc) from exc

    def _take(self, chunk: Any) -> str:
        choices = chunk.choices
        if not isinstance(choices, list):
            raise ValueError(f"a chunk without choices: {_short(repr(chunk))}")
        if not choices:
            return ""  # a usage chunk
        choice = choices[0]
        if choice.finish_reason:
            self.finish_reason = choice.finish_reason
        delta = choice.delta
        if delta is None:
            return ""
        for piece in delta.tool_calls or ():
            entry = self._pieces.setdefault(piece.index or 0, _Pieces())
            entry.id = piece.id or entry.id
            if piece.function is not None:
                entry.name = piece.function.name or entry.name
                if piece.function.arguments:
                    entry.arguments.append(piece.function.arguments)
        content = delta.content
        if content is not None and not isinstance(content, str):
            raise ValueError("delta.content is not text")
        return content or ""

    @property
    def tool_calls(self) -> list[ToolCall]:
        """The complete tool calls of this round, in index order."""
        return [ToolCall(p.id or f"call_{i}", p.name, "".join(p.arguments))
                for i, p in sorted(self._pieces.items())]

    async def close(self) -> None:
        """Close the HTTP stream (barge-in, a fault, or the end)."""
        stream, self._stream, self._iterator = self._stream, None, None
        if stream is not None:
            try:
                await stream.close()
            except Exception as exc:  # noqa: BLE001 - closing a broken stream
                log.debug("llm: closing the stream: %s", type(exc).__name__)
