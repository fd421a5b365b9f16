"""One WebSocket to Home Assistant (``/api/websocket``), shared by every device.

HA's protocol: the server opens with ``auth_required`` (carrying its
version); the client sends ``{"type": "auth", "access_token": ...}``; HA
answers ``auth_ok`` or ``auth_invalid``. After that every command carries an
``id`` (increasing per connection) and HA answers ``{"id", "type": "result",
"success", "result" | "error"}``; events of a subscription come back as
``{"id": <the subscribe's id>, "type": "event", "event": ...}``;
``{"type": "ping"}`` is answered with ``pong``.

:class:`Connection` keeps that link up in a task of its own: it connects,
authenticates, re-subscribes, calls the ``on_connected`` callbacks (the
grammar reads HA's registries again), pings to notice a dead link, and
reconnects with backoff and jitter when the link drops. A refused token is
logged once as a clear error and retried slowly (the file may be fixed).
Callers see :class:`NotConnected` at once while the link is down: a turn
must not wait for HA to come back.

Secrets: the token only ever goes into the ``auth`` frame. ``websockets``
logs frames at debug level; the process-wide redactor scrubs the token (it
is added to it here) and any ``"access_token": ...`` value from every record.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import ssl
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from agent.common.backoff import Backoff
from agent.common.redact import REDACTOR

log = logging.getLogger(__name__)

PING_INTERVAL_S = 20.0
"""How often the link is checked with HA's own ping (a dead link costs one more timeout)."""
BACKOFF_INITIAL_S = 0.5
BACKOFF_MAX_S = 30.0
REFUSED_RETRY_S = 60.0
"""After ``auth_invalid``: try again this rarely (a token file can be fixed)."""
MAX_FRAME = 16 << 20
"""Bigger frames are refused (HA's registries of a large home are a few MB)."""

Events = Callable[[dict[str, Any]], None]


class HaError(Exception):
    """HA answered a command with ``success: false``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class LinkDown(Exception):
    """Why a session of the link ended (a refused token, a dead link, HA closing it)."""


class NotConnected(Exception):
    """The link to HA is down (or went down while a command waited)."""


def websocket_url(url: str) -> str:
    """``http(s)://host:port[/path]`` -> ``ws(s)://host:port[/path]/api/websocket``."""
    parts = urlsplit(url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    path = parts.path.rstrip("/") + "/api/websocket"
    return urlunsplit((scheme, parts.netloc, path, "", ""))


def ssl_context(url: str, ca_file: str | None) -> ssl.SSLContext | None:
    """The TLS context for an https:// URL: system CAs, or ``ca_file`` alone."""
    if urlsplit(url).scheme != "https":
        return None
    return ssl.create_default_context(cafile=ca_file)


class Connection:
    """The gateway's one link to HA (see the module docs)."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout_s: float = 10.0,
        ca_file: str | None = None,
        ping_interval_s: float = PING_INTERVAL_S,
        backoff: Backoff | None = None,
    ) -> None:
        self.url = websocket_url(url)
        self._ssl = ssl_context(url, ca_file)
        self._token = token
        REDACTOR.add(token)
        REDACTOR.install()  # the auth frame carries it; websockets logs frames at debug
        self.timeout_s = timeout_s
        self.ping_interval_s = ping_interval_s
        self._backoff = backoff or Backoff(BACKOFF_INITIAL_S, BACKOFF_MAX_S)
        self.version: str | None = None
        """HA's version (from ``auth_required``)."""
        self.refused = False
        """True after ``auth_invalid`` (until a later attempt is accepted)."""
        self.last_error: str | None = None
        """Why the link is down, for logs and ``--check``."""
        self.connects = 0
        """How many times the link came up (tests wait on it)."""
        self.on_connected: list[Callable[[], Awaitable[None]]] = []
        """Run after each (re)connection, once subscriptions are back."""
        self._subscriptions: list[tuple[str, Events]] = []
        self._ws: ClientConnection | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._handlers: dict[int, Events] = {}
        self._up = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def connected(self) -> bool:
        """True while the link is authenticated."""
        return self._up.is_set()

    def start(self) -> None:
        """Start keeping the link up (in a task of the running loop)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="home-assistant link")

    async def wait_connected(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for the link; True when it is up."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._up.wait()
        return self.connected

    async def call(self, message: dict[str, Any], timeout: float | None = None) -> Any:
        """Send one command and return its ``result`` (raises HaError, NotConnected,
        TimeoutError)."""
        ws = self._ws
        if ws is None or not self.connected:
            raise NotConnected(self.last_error or "not connected to Home Assistant")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        msg_id = next(self._ids)
        self._pending[msg_id] = future
        try:
            await ws.send(json.dumps({**message, "id": msg_id}))
            # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a
            # cancellation that arrives as the answer does (aclose would hang).
            async with asyncio.timeout(self.timeout_s if timeout is None else timeout):
                return await future
        except ConnectionClosed:
            raise NotConnected("the link to Home Assistant was lost") from None
        finally:
            self._pending.pop(msg_id, None)

    def subscribe(self, event_type: str, handler: Events) -> None:
        """Call ``handler(event)`` for each HA event of ``event_type``, across reconnects
        (subscribed at the next connection; call before :meth:`start` or from
        ``on_connected``... either way it is kept)."""
        self._subscriptions.append((event_type, handler))
        if self.connected:
            asyncio.get_running_loop().create_task(self._subscribe(event_type, handler))

    async def _subscribe(self, event_type: str, handler: Events) -> None:
        msg_id = next(self._ids)
        self._handlers[msg_id] = handler
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = future
        assert self._ws is not None
        try:
            await self._ws.send(json.dumps(
                {"id": msg_id, "type": "subscribe_events", "event_type": event_type}))
            async with asyncio.timeout(self.timeout_s):
                await future
        except (HaError, TimeoutError) as exc:
            self._handlers.pop(msg_id, None)
            log.warning("home assistant: cannot subscribe to %s: %s", event_type, exc)
        finally:
            self._pending.pop(msg_id, None)

    async def aclose(self) -> None:
        """Close the link for good."""
        self._closed = True
        if self._ws is not None:  # ends the session's reader first: nothing left to cancel
            await self._ws.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._ws is not None:
            await self._ws.close()

    async def _run(self) -> None:
        while not self._closed:
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the loop must survive anything one session does
                if self._closed:
                    return
                self._note_down(_describe(exc))
            delay = REFUSED_RETRY_S if self.refused else self._backoff.next_delay()
            await asyncio.sleep(delay)

    def _note_down(self, reason: str) -> None:
        if reason != self.last_error:  # one line per new reason, not per attempt
            log.warning("home assistant at %s: %s; retrying", self.url, reason)
        self.last_error = reason

    async def _session(self) -> None:
        async with connect(
            self.url,
            ssl=self._ssl,
            open_timeout=self.timeout_s,
            close_timeout=2,
            ping_interval=None,  # HA's own ping below: HA answers it at the app level
            max_size=MAX_FRAME,
            compression=None,
        ) as ws:
            async with asyncio.timeout(self.timeout_s):
                await self._authenticate(ws)
            self._ws = ws
            self._ids = itertools.count(1)
            self._up.set()
            reader = asyncio.create_task(self._read(ws))
            try:
                log.info("home assistant %s connected at %s", self.version, self.url)
                self.last_error = None
                self._backoff.reset()
                for event_type, handler in self._subscriptions:
                    await self._subscribe(event_type, handler)
                self.connects += 1
                for callback in list(self.on_connected):
                    await callback()
                await self._keep_alive(ws, reader)
            finally:
                self._up.clear()
                self._ws = None
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await reader
                self._fail_pending()

    async def _authenticate(self, ws: ClientConnection) -> None:
        hello = _decode(await ws.recv())
        if hello.get("type") != "auth_required":
            raise LinkDown(f"expected auth_required, got {str(hello.get('type'))[:40]!r}")
        self.version = str(hello.get("ha_version") or "") or None
        await ws.send(json.dumps({"type": "auth", "access_token": self._token}))
        answer = _decode(await ws.recv())
        if answer.get("type") == "auth_invalid":
            if not self.refused:
                log.error("home assistant refused the access token (auth_invalid: %s); "
                          "create a long-lived token in HA's profile page",
                          str(answer.get("message", ""))[:200])
            self.refused = True
            raise LinkDown("the access token was refused")
        if answer.get("type") != "auth_ok":
            raise LinkDown(f"expected auth_ok, got {str(answer.get('type'))[:40]!r}")
        self.refused = False

    async def _keep_alive(self, ws: ClientConnection, reader: asyncio.Task[None]) -> None:
        """Ping every ``ping_interval_s``; return when the reader ends or a pong is late."""
        while True:
            done, _ = await asyncio.wait({reader}, timeout=self.ping_interval_s)
            if done:
                reader.result()  # raises what ended it
                return
            try:
                await self.call({"type": "ping"}, self.timeout_s)
            except TimeoutError:
                raise LinkDown("no pong within timeout_s: the link is dead") from None

    async def _read(self, ws: ClientConnection) -> None:
        async for raw in ws:
            try:
                self._dispatch(_decode(raw))
            except ValueError as exc:
                log.warning("home assistant sent a bad frame (%s); dropped", exc)
        raise LinkDown("Home Assistant closed the connection")

    def _dispatch(self, msg: dict[str, Any]) -> None:
        msg_id = msg.get("id")
        kind = msg.get("type")
        if not isinstance(msg_id, int):
            raise ValueError(f"no id in a {str(kind)[:40]!r} frame")
        if kind == "event":
            handler = self._handlers.get(msg_id)
            event = msg.get("event")
            if handler is not None and isinstance(event, dict):
                try:
                    handler(event)
                except Exception:
                    log.exception("home assistant event handler failed")
            return
        future = self._pending.get(msg_id)
        if future is None or future.done():
            return  # a late answer to a command that timed out
        if kind == "pong":
            future.set_result(None)
        elif kind == "result" and msg.get("success") is True:
            future.set_result(msg.get("result"))
        elif kind == "result" and msg.get("success") is False:
            raw_error = msg.get("error")
            error: dict[str, Any] = raw_error if isinstance(raw_error, dict) else {}
            future.set_exception(HaError(str(error.get("code", "unknown_error")),
                                         str(error.get("message", ""))[:500]))
        else:
            future.set_exception(HaError("bad_frame", f"unexpected {str(kind)[:40]!r} answer"))
            raise ValueError(f"unexpected {str(kind)[:40]!r} answer to {msg_id}")

    def _fail_pending(self) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(NotConnected("the link to Home Assistant was lost"))
        self._pending.clear()
        self._handlers.clear()


def _decode(raw: str | bytes) -> dict[str, Any]:
    try:
        msg = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ValueError("not JSON") from None
    if not isinstance(msg, dict):
        raise ValueError(f"a JSON {type(msg).__name__}, not an object")
    return msg


def _describe(exc: BaseException) -> str:
    if isinstance(exc, LinkDown | HaError):
        return str(exc) or type(exc).__name__
    if isinstance(exc, OSError):
        return f"cannot connect ({exc.strerror or type(exc).__name__})"
    if isinstance(exc, TimeoutError):
        return "no answer within timeout_s"
    if isinstance(exc, ConnectionClosed | InvalidHandshake | InvalidURI):
        return f"the connection failed ({type(exc).__name__})"
    if isinstance(exc, ValueError):
        return f"a bad frame during the handshake ({exc})"
    return f"{type(exc).__name__}: {exc}"
