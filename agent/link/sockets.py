"""Small socket operations the connection thread and its senders share."""

from __future__ import annotations

import socket
import struct

import websocket


def shutdown(ws: websocket.WebSocket) -> None:
    """Shut the socket down both ways (safe from any thread; the owner closes it)."""
    sock = ws.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def drain(sock: socket.socket) -> None:
    """Read a non-blocking socket empty (the connection thread's wake-up pipe)."""
    try:
        while sock.recv(4096):
            pass
    except OSError:
        pass


def close_reason(data: bytes) -> str:
    """The ``disconnected`` reason for a close frame from the gateway with payload ``data``."""
    code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None
    text = data[2:].decode("utf-8", "replace")
    detail = f"code {code}" if code is not None else "no code"
    return f"closed by the gateway ({detail}{': ' + text if text else ''})"
