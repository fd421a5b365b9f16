"""The connection thread's read loop: frames in, pings out, the ping deadline kept.

One :class:`FrameLoop` serves one open WebSocket until it ends, and returns
the reason it ended. It is the only reader of the socket. Writes (pings,
pongs, the answer to a close) take the connection's send lock, but only ever
*try* it: a sender stuck on a dead network holds that lock, and the ping
deadline must fire all the same.
"""

from __future__ import annotations

import logging
import math
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Callable

import websocket
from websocket import ABNF

from agent.link.frames import MessageAssembler
from agent.link.protocol import GatewayMessage, Unknown
from agent.link.sockets import close_reason, drain

log = logging.getLogger("agent.link.connection")  # its records read as the connection's

CLOSED_BY_CLIENT = "closed by the client"
"""The ``reason`` of the ``disconnected`` event after the client closed the connection."""


LOST = "connection lost"
"""How a reason for a connection that died under us starts."""


def lost(reason: str) -> str:
    """``reason`` as a lost connection, said once: "connection lost: ..." and no more."""
    return reason if reason.startswith(LOST) else f"{LOST}: {reason}"


class FrameLoop:
    """Read one connection's frames until it ends; :meth:`run` returns why it ended."""

    def __init__(
        self,
        ws: websocket.WebSocket,
        send_lock: threading.Lock,
        *,
        wake: socket.socket,
        ping_interval_s: float,
        ping_timeout_s: float,
        on_message: Callable[[GatewayMessage | Unknown], None],
        stop: threading.Event,
        abort_reason: Callable[[], str | None],
    ) -> None:
        self._ws = ws
        self._send_lock = send_lock
        self._wake = wake
        self._interval = ping_interval_s
        self._timeout = ping_timeout_s
        self._on_message = on_message
        self._stop = stop
        self._abort_reason = abort_reason

    def run(self) -> str:
        """Serve the connection; the reason it ended, for the ``disconnected`` event."""
        sock = self._ws.sock
        if sock is None:
            return "the socket was already closed"
        with selectors.DefaultSelector() as selector:
            selector.register(sock, selectors.EVENT_READ)
            selector.register(self._wake, selectors.EVENT_READ)
            return self._read_frames(sock, selector)

    def _read_frames(self, sock: socket.socket, selector: selectors.BaseSelector) -> str:
        ws, interval, timeout = self._ws, self._interval, self._timeout
        next_ping = time.monotonic() + interval if interval > 0 else math.inf
        pong_deadline = math.inf  # set by a ping, cleared by any frame
        ping_owed, pong_owed = False, None  # control frames waiting for the send lock
        assembler = MessageAssembler(self._on_message, log)
        while True:
            if self._stop.is_set():
                return CLOSED_BY_CLIENT
            aborted = self._abort_reason()
            if aborted is not None:
                return aborted
            now = time.monotonic()
            if now >= pong_deadline:
                return f"ping timeout: no reply from the gateway within {timeout:g} s of a ping"
            if now >= next_ping:
                ping_owed, next_ping = True, now + interval
                pong_deadline = min(pong_deadline, now + timeout)
            if ping_owed or pong_owed is not None:
                try:
                    ping_owed, pong_owed = self._write_control(ping_owed, pong_owed)
                except (OSError, websocket.WebSocketException) as exc:
                    return f"send failed: {exc}"
            wait = max(0.0, min(next_ping, pong_deadline, now + 60.0) - now)
            if ping_owed or pong_owed is not None:
                wait = min(wait, 0.05)  # the send lock was busy: try again soon
            if not (isinstance(sock, ssl.SSLSocket) and sock.pending()):
                ready = {key.fileobj for key, _ in selector.select(wait)}
                if self._wake in ready:
                    drain(self._wake)
                if sock not in ready:
                    continue
            try:
                frame = ws.recv_frame()
            except websocket.WebSocketTimeoutException:
                continue  # only part of a frame (or a TLS record) came: the deadline decides
            except (OSError, websocket.WebSocketException) as exc:
                return self._abort_reason() or f"{LOST}: {exc or exc.__class__.__name__}"
            pong_deadline = math.inf  # any frame shows the gateway is alive
            if frame.opcode == ABNF.OPCODE_PING:
                pong_owed = frame.data
            elif frame.opcode == ABNF.OPCODE_CLOSE:
                return self._closed_by_gateway(frame.data)
            elif frame.opcode != ABNF.OPCODE_PONG:
                problem = assembler.add(frame.opcode, bool(frame.fin), frame.data)
                if problem:
                    return f"protocol error: {problem}"

    def _write_control(self, ping: bool, pong: bytes | None) -> tuple[bool, bytes | None]:
        # Only try the lock: if a sender holds it on a dead network, the
        # ping deadline must still fire.
        if not self._send_lock.acquire(blocking=False):
            return ping, pong
        try:
            if pong is not None:
                self._ws.pong(pong)
            if ping:
                self._ws.ping()
        finally:
            self._send_lock.release()
        return False, None

    def _closed_by_gateway(self, data: bytes) -> str:
        if self._send_lock.acquire(timeout=1.0):
            try:
                self._ws.send_close(websocket.STATUS_NORMAL)  # answer it, as RFC 6455 asks
            except (OSError, websocket.WebSocketException):
                pass
            finally:
                self._send_lock.release()
        return close_reason(data)
