"""A stand-in for an OpenAI-compatible chat completions server, on 127.0.0.1.

Written from the published API (OpenAI's chat completions reference, which
Ollama's ``/v1``, llama.cpp's server and vLLM follow):
``POST /v1/chat/completions`` with ``model``, ``messages``, ``tools``,
``max_tokens``, ``temperature`` and ``stream``. Streamed, it answers
server-sent events, one ``chat.completion.chunk`` per ``data:`` line, then
``data: [DONE]``; text in ``choices[0].delta.content``, tool calls in
``choices[0].delta.tool_calls[i]`` (id and name in the first piece, the
arguments split across chunks). Unstreamed, one ``chat.completion``.
``GET /v1/models`` lists the one model it knows. A wrong key is a 401, an
unknown model a 404, as the real services answer.

Each request takes the next :class:`Script` (else the default): its text
pieces, its tool calls, or a fault ("401", "404", "429", "500", "hang": no
answer until the client goes, "cut": the connection dropped mid-stream,
"malformed": a chunk that is not JSON, "error": an ``error`` object in the
stream). ``hold`` holds the last piece back until a :class:`threading.Event`
is set (the test sets it when the device has audio), or until the client
closes. Every request is recorded (:class:`Request`): the messages, the
tools, the model, and whether the client closed the stream before its end.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

MODEL = "standin-1"
KEY = "sk-standin-7f3a9c21e4b8d0a6"


@dataclass
class Script:
    """What one request gets."""

    pieces: list[str] = field(default_factory=lambda: ["I am ", "the stand-in. ",
                                                       "Ask me anything."])
    tool_calls: list[tuple[str, str]] = field(default_factory=list)
    """(name, arguments JSON) of the tool calls (then ``finish_reason: tool_calls``)."""
    fault: str | None = None
    fault_after: int = 1
    """Pieces sent before "cut" / "malformed" / "error" happen."""
    hold: threading.Event | None = None
    """Hold the last piece until it is set (or the client closes)."""
    hold_s: float = 60.0
    delay_s: float = 0.0
    """Between pieces (benchmarks: a model's pace)."""


@dataclass
class Request:
    """What one request carried and how it ended."""

    body: dict[str, Any]
    headers: dict[str, str]
    script: Script
    started: float = field(default_factory=time.monotonic)
    pieces_sent: int = 0
    first_sentence_at: float | None = None
    """When the first piece that completes a sentence was written (benchmarks)."""
    finished: bool = False
    """The whole answer (and [DONE]) went out."""
    client_closed: bool = False
    """The client closed the stream before the end."""
    released_at: float | None = None
    """When ``hold`` let the last piece go."""

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages") or [])

    @property
    def tools(self) -> list[str]:
        return [t["function"]["name"] for t in self.body.get("tools") or []]

    @property
    def model(self) -> str:
        return str(self.body.get("model"))

    @property
    def user_texts(self) -> list[str]:
        return [m["content"] for m in self.messages if m.get("role") == "user"]


class OpenAIStandIn:
    """The stand-in on its own thread (``with OpenAIStandIn() as s: ... s.base_url``)."""

    def __init__(self, api_key: str | None = KEY, script: Script | None = None) -> None:
        self.api_key = api_key
        self.default = script or Script()
        self.scripts: deque[Script] = deque()
        self.requests: list[Request] = []
        self.on_request: Any = None
        """Called (on the stand-in's thread) as each request arrives (benchmarks)."""
        self._cond = threading.Condition()
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()),
                                        name="openai-standin", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def next(self, *scripts: Script) -> None:
        """Queue scripts for the next requests."""
        with self._cond:
            self.scripts.extend(scripts)

    def reset(self) -> None:
        """Forget the requests and the queued scripts (between tests sharing a server)."""
        with self._cond:
            self.requests.clear()
            self.scripts.clear()

    def wait(self, predicate: Any, timeout: float = 30.0) -> None:
        """Until ``predicate(self)`` holds (AssertionError after ``timeout``)."""
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(self), timeout):
                raise AssertionError(
                    f"openai stand-in: condition not met in {timeout} s; requests: "
                    f"{[(r.pieces_sent, r.finished, r.client_closed) for r in self.requests]}")

    def start(self) -> OpenAIStandIn:
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the openai stand-in did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    def __enter__(self) -> OpenAIStandIn:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ------------------------------------------------------------ server side

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._completions)
        app.router.add_get("/v1/models", self._models)
        # handler_cancellation: a client that goes cancels its handler (client_closed).
        runner = web.AppRunner(app, shutdown_timeout=1, handler_cancellation=True)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    def _refused(self, request: web.Request) -> web.Response | None:
        if self.api_key is None:
            return None
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _error(401, "Incorrect API key provided.", "invalid_api_key")
        return None

    async def _models(self, request: web.Request) -> web.Response:
        return self._refused(request) or web.json_response(
            {"object": "list", "data": [{"id": MODEL, "object": "model", "created": 0,
                                         "owned_by": "standin"}]})

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        if self.on_request is not None:
            self.on_request()
        body = await request.json()
        with self._cond:
            script = self.scripts.popleft() if self.scripts else self.default
            record = Request(body, dict(request.headers), script)
            self.requests.append(record)
            self._cond.notify_all()
        refused = self._refused(request)
        if refused is not None:
            return refused
        fault = script.fault
        if fault == "401":
            return _error(401, "Incorrect API key provided.", "invalid_api_key")
        if body.get("model") != MODEL or fault == "404":
            return _error(404, f"The model `{body.get('model')}` does not exist.",
                          "model_not_found")
        if fault == "429":
            return _error(429, "Rate limit reached.", "rate_limit_exceeded")
        if fault == "500":
            return _error(500, "The server had an error.", "server_error")
        try:
            if body.get("stream"):
                return await self._stream(request, record)
            return self._whole(record)
        except asyncio.CancelledError:
            self._mark(record, client_closed=True)
            raise

    def _whole(self, record: Request) -> web.Response:
        script = record.script
        message: dict[str, Any] = {"role": "assistant", "content": "".join(script.pieces)}
        if script.tool_calls:
            message["content"] = None
            message["tool_calls"] = [
                {"id": f"call_{i}", "type": "function",
                 "function": {"name": name, "arguments": args}}
                for i, (name, args) in enumerate(script.tool_calls)]
        self._mark(record, finished=True)
        return web.json_response({
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "object": "chat.completion",
            "created": int(time.time()), "model": MODEL,
            "choices": [{"index": 0, "message": message,
                         "finish_reason": "tool_calls" if script.tool_calls else "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}})

    async def _stream(self, request: web.Request, record: Request) -> web.StreamResponse:
        script = record.script
        if script.fault == "hang":
            await asyncio.sleep(script.hold_s)  # the client's timeout comes first
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                               "Cache-Control": "no-cache"})
        await response.prepare(request)
        cid = f"chatcmpl-{uuid.uuid4().hex[:12]}"

        async def send(delta: dict[str, Any], finish: str | None = None) -> None:
            chunk = {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()),
                     "model": MODEL,
                     "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())

        await send({"role": "assistant", "content": ""})
        for i, piece in enumerate(script.pieces):
            if script.fault in ("cut", "malformed", "error") and i == script.fault_after:
                return await self._fault(request, response, script.fault)
            if script.hold is not None and i == len(script.pieces) - 1:
                # Polled, not waited in a thread: a client that goes must cancel this
                # handler at once, and no thread may outlive the stand-in.
                until = time.monotonic() + script.hold_s
                while not script.hold.is_set() and time.monotonic() < until:
                    await asyncio.sleep(0.005)
                self._mark(record, released=True)
            if script.delay_s:
                await asyncio.sleep(script.delay_s)
            await send({"content": piece})
            self._mark(record, piece=piece)
        for i, (name, args) in enumerate(script.tool_calls):
            await send({"tool_calls": [{"index": i, "id": f"call_{uuid.uuid4().hex[:8]}",
                                        "type": "function",
                                        "function": {"name": name, "arguments": ""}}]})
            half = len(args) // 2  # arguments arrive in pieces, as from real servers
            for part in (args[:half], args[half:]):
                await send({"tool_calls": [{"index": i, "function": {"arguments": part}}]})
        await send({}, "tool_calls" if script.tool_calls else "stop")
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        self._mark(record, finished=True)
        return response

    async def _fault(self, request: web.Request, response: web.StreamResponse,
                     fault: str) -> web.StreamResponse:
        if fault == "malformed":
            await response.write(b'data: {"id": "x", "choices": [{"delta": {"content": "\n\n')
            await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
        elif fault == "error":
            await response.write(b'data: {"error": {"message": "model crashed", '
                                 b'"type": "server_error"}}\n\n')
            await response.write_eof()
        else:  # cut: the connection drops with no end of the chunked body
            transport = request.transport
            if transport is not None:
                transport.abort()
        return response

    def _mark(self, record: Request, *, piece: str | None = None, finished: bool = False,
              client_closed: bool = False, released: bool = False) -> None:
        with self._cond:
            if piece is not None:
                record.pieces_sent += 1
                if record.first_sentence_at is None and piece.rstrip()[-1:] in ".!?":
                    record.first_sentence_at = time.monotonic()
            record.finished |= finished
            record.client_closed |= client_closed
            if released:
                record.released_at = time.monotonic()
            self._cond.notify_all()


def _error(status: int, message: str, code: str) -> web.Response:
    return web.json_response(
        {"error": {"message": message, "type": "invalid_request_error", "param": None,
                   "code": code}}, status=status)
