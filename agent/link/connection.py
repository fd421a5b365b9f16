"""The device's one WebSocket to the gateway: connect, authenticate, keep alive, reconnect.

:class:`GatewayConnection` owns one thread that opens the connection at
start-up and keeps it open: it sends the session messages after every
connect (``stt_options``, ``tts_options``, ``location``), pings, reads and
decodes frames, and reconnects with exponential backoff and full jitter.
The daemon only sees callbacks (``on_connected``, ``on_disconnected``,
``on_message``, all called on this thread: post them to your queue) and
:meth:`GatewayConnection.send`, which any thread may call.

Why websocket-client's plain ``WebSocket`` in a thread of our own and not its
``WebSocketApp``: credentials must be recomputed before *every* attempt (a
rotated token file, a fresh IAM token); a refused handshake (401/403) must be
told apart and backed off with jitter, and the backoff reset only after a
connection that proved itself; and the ping deadline must hold even while
another thread is stuck sending on a dead network. ``WebSocketApp`` has a
fixed reconnect delay and its own ping thread that takes the same send lock
as everyone else, so none of that is in our hands there.

The threading rules of this module:

* only the connection thread reads from the socket;
* every write (``send``, pings, pongs, close) happens under ``_send_lock``;
  the connection thread only ever *tries* that lock, so a sender stuck on a
  dead network cannot stop it from noticing the missing pong and shutting
  the socket down (which unblocks the sender);
* other threads never close the socket, they only ``shutdown()`` it.

Liveness: a ping every ``ping_interval_s``; if no frame at all (pong or
anything else) arrives within ``ping_timeout_s`` of a ping, the connection is
declared dead with the reason ``ping timeout: ...``. The backoff is reset
when a connection stayed up for ``stable_after_s`` (10 s): a gateway that
accepts the handshake and then drops us at once is backed off like one that
refuses us.
"""

from __future__ import annotations

import logging
import random
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import websocket

from agent.common.backoff import Backoff
from agent.common.event_sink import EventEmitter, EventSink
from agent.common.redact import REDACTOR, Redactor
from agent.link.auth import AuthError, AuthProvider, auth_from_settings
from agent.link.endpoint import Endpoint, handshake
from agent.link.protocol import (
    ClientMessage,
    GatewayMessage,
    Location,
    SttOptions,
    TtsOptions,
    Unknown,
    encode,
    new_id,
)
from agent.link.reader import CLOSED_BY_CLIENT, FrameLoop, lost
from agent.link.sockets import shutdown

log = logging.getLogger(__name__)

@dataclass
class ConnectionStats:
    """Counters of the connection thread, for diagnostics (``doctor``) and tests."""

    attempts: int = 0
    """Handshakes tried."""
    connects: int = 0
    """Handshakes that succeeded."""
    refused: int = 0
    """Handshakes refused with HTTP 401 or 403."""
    delays: deque[float] = field(default_factory=lambda: deque(maxlen=100))
    """The latest backoff delays drawn, in seconds, newest last."""


class GatewayConnection:
    """One persistent WebSocket to the gateway, reconnected for as long as it runs.

    ``gateway`` is ``settings.gateway`` (any object with the same attributes).
    ``location`` is ``(latitude, longitude)`` or None; :meth:`set_location`
    changes it. Unknown actions from the gateway are logged at debug and
    passed on to ``on_message`` as :class:`~agent.link.protocol.Unknown`.
    """

    def __init__(
        self,
        gateway: Any,
        *,
        on_message: Callable[[GatewayMessage | Unknown], None],
        on_connected: Callable[[], None] | None = None,
        on_disconnected: Callable[[str], None] | None = None,
        events: EventEmitter | None = None,
        location: tuple[float, float] | None = None,
        auth: AuthProvider | None = None,
        redactor: Redactor | None = None,
        rng: random.Random | None = None,
        stable_after_s: float = 10.0,
        connect_timeout_s: float = 10.0,
    ) -> None:
        # Secrets learnt here go to the redactor the events are scrubbed with.
        self._redactor = redactor or getattr(events, "redactor", None) or REDACTOR
        self._redactor.install()
        self._events = events if events is not None else EventSink(redactor=self._redactor)
        self._on_message = on_message
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected

        self._endpoint = Endpoint.from_settings(gateway, self._redactor)
        self.url = self._endpoint.url
        self.display_url = self._endpoint.display_url
        self._ssl_context = self._endpoint.ssl_context
        self._auth: AuthProvider = auth or auth_from_settings(
            getattr(gateway, "auth", None), self._ssl_context, redactor=self._redactor
        )
        self._stt_options = getattr(gateway, "stt_options", None)
        self._tts_options = getattr(gateway, "tts_options", None)
        self.ping_interval_s = float(gateway.ping_interval_s or 0)
        self.ping_timeout_s = float(gateway.ping_timeout_s)
        self._backoff = Backoff(gateway.reconnect.initial_s, gateway.reconnect.max_s, rng)
        self.stable_after_s = stable_after_s
        self.connect_timeout_s = connect_timeout_s
        self.stats = ConnectionStats()

        self._location = location
        self._send_lock = threading.Lock()
        self._ws: websocket.WebSocket | None = None  # set while usable; under _send_lock
        self._abort_reason: str | None = None  # why a sender gave up on the socket
        self._connecting: websocket.WebSocket | None = None
        self._state_lock = threading.Lock()
        self._connected = threading.Event()
        self._stop = threading.Event()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._thread: threading.Thread | None = None

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> GatewayConnection:
        """Build from the whole ``Settings`` (gateway section and location)."""
        loc = getattr(settings, "location", None)
        if loc is not None and "location" not in kwargs:
            kwargs["location"] = (loc.latitude, loc.longitude)
        return cls(settings.gateway, **kwargs)

    # ------------------------------------------------------------------ API

    def start(self) -> None:
        """Start the connection thread (it connects at once). Idempotent."""
        if self._stop.is_set():
            raise RuntimeError("this connection was closed")
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="gateway", daemon=True)
            self._thread.start()

    @property
    def connected(self) -> bool:
        """True between ``on_connected`` and ``on_disconnected``."""
        return self._connected.is_set()

    def wait_connected(self, timeout: float | None = None) -> bool:
        """Wait until connected; False on timeout."""
        return self._connected.wait(timeout)

    def send(self, msg: ClientMessage) -> bool:
        """Send one message from any thread; False (never an exception) when not connected."""
        text = encode(msg)
        with self._send_lock:
            return self._send_locked(text)

    def set_location(self, latitude: float, longitude: float) -> bool:
        """Remember the location (sent after every connect); send it now if connected."""
        text = encode(Location(new_id(), latitude, longitude))
        with self._send_lock:
            self._location = (latitude, longitude)
            return self._send_locked(text)

    def _send_locked(self, text: str) -> bool:
        ws = self._ws
        if ws is None:
            return False
        try:
            ws.send(text)
        except (OSError, websocket.WebSocketException) as exc:
            # Mark the socket dead and shut it down: the connection thread
            # wakes, reports this reason and reconnects.
            if self._ws is ws:
                self._ws = None
                self._abort_reason = self._abort_reason or f"send failed: {exc}"
            shutdown(ws)
            return False
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Close with a normal close frame (1000) and join the thread. Idempotent."""
        self._stop.set()
        self._wake()
        with self._state_lock:
            connecting = self._connecting
        if connecting is not None:
            shutdown(connecting)  # cut a handshake in progress short
        self._auth.stop()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                log.warning("the gateway connection thread did not stop within %.0f s", timeout)
        if thread is None or not thread.is_alive():
            for sock in (self._wake_r, self._wake_w):
                sock.close()

    def __enter__(self) -> GatewayConnection:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------- the thread

    def _run(self) -> None:
        self._auth.start()
        try:
            while not self._stop.is_set():
                self.stats.attempts += 1
                try:
                    failure = self._attempt()
                except Exception as exc:  # a bug: say so loudly, and keep the link alive
                    log.exception("the gateway connection failed unexpectedly")
                    failure = f"internal error: {exc.__class__.__name__}"
                if self._stop.is_set():
                    break
                delay = self._backoff.next_delay()
                self.stats.delays.append(delay)
                log.warning(
                    "gateway %s: %s; retrying in %.2f s (attempt %d)",
                    self.display_url, failure, delay, self.stats.attempts,
                )
                self._stop.wait(delay)
        finally:
            self._auth.stop()

    def _attempt(self) -> str:
        """One connection attempt, and the connection while it lasts; returns why it ended."""
        ws, failure = self._handshake()
        if ws is None:
            return failure
        started = time.monotonic()
        reason, served = self._serve(ws)
        if not served:
            return reason
        if time.monotonic() - started >= self.stable_after_s:
            self._backoff.reset()  # it proved itself: start again from initial_s
        return lost(reason)

    def _handshake(self) -> tuple[websocket.WebSocket | None, str]:
        try:
            auth_headers = self._auth.connect_headers()
        except AuthError as exc:
            return None, f"no credentials: {exc}"
        ws = websocket.WebSocket(sslopt={"context": self._ssl_context})
        with self._state_lock:
            if self._stop.is_set():
                return None, CLOSED_BY_CLIENT
            self._connecting = ws
        try:
            failure = handshake(ws, self._endpoint, auth_headers, self.connect_timeout_s)
        finally:
            with self._state_lock:
                self._connecting = None
        if failure is not None:
            self.stats.refused += failure.refused
            return None, failure.reason
        return ws, ""

    def _session_messages(self) -> list[ClientMessage]:
        msgs: list[ClientMessage] = []
        if self._stt_options is not None:
            msgs.append(SttOptions(new_id(), dict(self._stt_options)))
        if self._tts_options is not None:
            msgs.append(TtsOptions(new_id(), dict(self._tts_options)))
        if self._location is not None:
            msgs.append(Location(new_id(), *self._location))
        return msgs

    def _serve(self, ws: websocket.WebSocket) -> tuple[str, bool]:
        """Run one connection; returns (reason it ended, whether it was announced)."""
        # A backstop for a send on a dead network; the ping deadline normally
        # ends such a connection first (see _write_control).
        ws.settimeout(max(2.0, 2 * (self.ping_interval_s + self.ping_timeout_s)))
        with self._send_lock:
            self._ws, self._abort_reason = ws, None
            try:
                for msg in self._session_messages():
                    ws.send(encode(msg))
            except (OSError, websocket.WebSocketException) as exc:
                self._ws = None
                shutdown(ws)
                return f"sending the session messages failed: {exc}", False
        self.stats.connects += 1
        self._connected.set()
        # At INFO the event says it (agent.events); this line is for debugging.
        log.debug("connected to %s", self.display_url)
        self._call(self._events.emit, "connected", url=self.display_url)
        self._call(self._on_connected)
        reason = "internal error"
        try:
            reason = self._read_loop(ws)
        finally:
            self._teardown(ws, graceful=reason == CLOSED_BY_CLIENT)
            self._connected.clear()
            log.debug("disconnected from %s: %s", self.display_url, reason)
            self._call(self._events.emit, "disconnected", url=self.display_url, reason=reason)
            self._call(self._on_disconnected, reason)
        return reason, True

    def _read_loop(self, ws: websocket.WebSocket) -> str:
        loop = FrameLoop(
            ws,
            self._send_lock,
            wake=self._wake_r,
            ping_interval_s=self.ping_interval_s,
            ping_timeout_s=self.ping_timeout_s,
            on_message=partial(self._call, self._on_message),
            stop=self._stop,
            abort_reason=lambda: self._abort_reason,
        )
        return loop.run()

    def _teardown(self, ws: websocket.WebSocket, graceful: bool) -> None:
        if not graceful:
            shutdown(ws)  # first: unblocks a sender stuck on the dead socket
        acquired = self._send_lock.acquire(timeout=2.0)
        try:
            self._ws = None
            if graceful and acquired:
                try:
                    ws.close(status=websocket.STATUS_NORMAL, timeout=1.0)
                except (OSError, websocket.WebSocketException):
                    pass
        finally:
            if acquired:
                self._send_lock.release()
        shutdown(ws)
        ws.shutdown()

    def _call(self, callback: Callable[..., None] | None, *args: Any, **kwargs: Any) -> None:
        if callback is None:
            return
        try:
            callback(*args, **kwargs)
        except Exception:  # the daemon's bug must not kill the connection
            log.exception("a gateway connection callback (%s) failed", callback)

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

