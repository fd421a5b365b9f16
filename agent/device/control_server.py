"""The control socket (``control.socket``): a Unix stream socket, JSON lines.

An adapter like the others: a request is checked here, then posted to the
conversation's queue as a :class:`~agent.device.events.ControlRequest`, and
this connection's thread waits (bounded) for the answer the conversation
thread hands back. Nothing here touches conversation state.

Who may talk to it is the file system's business: the socket is made mode
0660, so only its owner and its group (the service's group, ``voice-agent``)
can connect. Each request is logged with the peer's uid and pid. A bad
request gets an error reply and the connection (and the socket) stay up.
Bounded everywhere: at most :data:`MAX_CLIENTS` connections at once, lines
of :data:`~agent.device.control.MAX_LINE` bytes, :data:`IDLE_S` of silence.
"""

from __future__ import annotations

import logging
import os
import socket
import stat
import struct
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from agent.device.control import MAX_LINE, BadRequest, Request, encode, error, parse_request

log = logging.getLogger(__name__)

MAX_CLIENTS = 8
IDLE_S = 30.0
ANSWER_S = 5.0
"""How long a request waits for the conversation thread before it is given up."""

Post = Callable[[Request, Callable[[dict[str, Any]], None]], None]


class ControlServer:
    """Serves the control socket at ``path``; ``post(request, reply)`` queues each request."""

    def __init__(
        self, path: str, post: Post, *, on_request: Callable[[str, bool], None] | None = None
    ) -> None:
        self.path = path
        self._post = post
        self._on_request = on_request or (lambda _command, _ok: None)
        self._sock = _bind(path)
        self._stop = threading.Event()
        self._slots = threading.BoundedSemaphore(MAX_CLIENTS)
        self._clients: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, name="control", daemon=True)

    def start(self) -> None:
        """Accept connections on a thread."""
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return  # closed
            if not self._slots.acquire(blocking=False):
                _send(conn, error(f"busy: {MAX_CLIENTS} clients already connected"))
                conn.close()
                continue
            with self._lock:
                self._clients.add(conn)
            threading.Thread(target=self._serve, args=(conn,), name="control-client",
                             daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        peer = _peer(conn)
        try:
            conn.settimeout(IDLE_S)
            buf = b""
            while not self._stop.is_set():
                try:
                    chunk = conn.recv(MAX_LINE + 1)
                except (TimeoutError, OSError):
                    return
                if not chunk:
                    return
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if line.strip() and not _send(conn, self._answer(line, peer)):
                        return
                if len(buf) > MAX_LINE:
                    log.warning("control: request from %s longer than %d bytes", peer, MAX_LINE)
                    _send(conn, error(f"request longer than {MAX_LINE} bytes"))
                    return
        finally:
            with self._lock:
                self._clients.discard(conn)
            conn.close()
            self._slots.release()

    def _answer(self, line: bytes, peer: str) -> dict[str, Any]:
        try:
            req = parse_request(line)
        except BadRequest as exc:
            log.warning("control: bad request from %s: %s", peer, exc)
            self._on_request("invalid", False)
            return error(str(exc))
        log.info("control: %s%s from %s", req.command,
                 "" if req.value is None else f" {req.value:g}", peer)
        future: Future[dict[str, Any]] = Future()
        self._post(req, future.set_result)
        try:
            reply = future.result(ANSWER_S)
        except FutureTimeout:
            reply = error(f"the daemon did not answer within {ANSWER_S:g} s")
        self._on_request(req.command, bool(reply.get("ok")))
        return reply

    def close(self) -> None:
        """Stop accepting, end open connections, remove the socket file."""
        self._stop.set()
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        with self._lock:
            clients = list(self._clients)
        for conn in clients:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread.is_alive():
            self._thread.join(2.0)
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def _bind(path: str) -> socket.socket:
    """Bind ``path`` (replacing a stale socket, refusing a live one or another file)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None:
        if not stat.S_ISSOCK(mode):
            raise OSError(f"control socket {path}: exists and is not a socket")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except OSError:
            os.unlink(path)  # left by a daemon that did not get to clean up
        else:
            raise OSError(f"control socket {path}: another voice-agent is serving it")
        finally:
            probe.close()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        # 0660: the service and the members of its group; the umask (0077
        # under systemd) would leave the group out.
        os.chmod(path, 0o660)
        sock.listen(MAX_CLIENTS)
    except OSError:
        sock.close()
        raise
    return sock


def _peer(conn: socket.socket) -> str:
    """``uid U pid P`` of the connecting process (SO_PEERCRED), for the log."""
    try:
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        pid, uid, _gid = struct.unpack("3i", creds)
    except OSError:
        return "an unknown peer"
    return f"uid {uid} pid {pid}"


def _send(conn: socket.socket, reply: dict[str, Any]) -> bool:
    try:
        conn.sendall(encode(reply))
    except OSError:
        return False
    return True
