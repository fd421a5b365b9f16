"""The gateway connection against real servers on 127.0.0.1.

Every server here is real: the ``websockets`` library's threaded server (which
lets us inspect each handshake request), a raw TCP server that completes the
WebSocket handshake and then goes silent (a gateway that stops answering
pings), and ``http.server`` as the IAM token endpoint. Nothing is mocked.
Waits are on conditions with generous timeouts; no test asserts a duration.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import http.server
import io
import json
import logging
import random
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterator
from importlib.metadata import version
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import trustme
import websocket
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve

from agent.common.backoff import Backoff
from agent.common.event_sink import EventSink
from agent.config.load import parse_config
from agent.link.connection import CLOSED_BY_CLIENT, GatewayConnection
from agent.link.frames import OPCODE_BINARY, OPCODE_CONT, OPCODE_TEXT, MessageAssembler
from agent.link.protocol import TextInput, TextReply, Unknown
from agent.link.reader import lost
from agent.link.url import build_url, display_url

HOST = "127.0.0.1"
TIMEOUT = 15.0  # generous: the machine may be busy

BEARER = "bearer-SECRET-token-4711"
API_KEY = "iam-SECRET-apikey-0815"


def wait_until(predicate: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> None:
    """Wait for a condition to hold (polled), failing after a generous timeout."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


@pytest.fixture(autouse=True)
def no_leftover_threads() -> Iterator[None]:
    """Every thread a test starts (client, servers, handlers) has ended after it."""
    before = set(threading.enumerate())
    yield
    wait_until(lambda: not (set(threading.enumerate()) - before), "every thread to end")


# --------------------------------------------------------------------------
# Servers


class GatewayServer:
    """A real WebSocket server that records handshakes and received messages."""

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None, refuse: int | None = None):
        self.refuse = refuse
        self.handshakes: list[Any] = []  # websockets Request objects
        self.connections: list[ServerConnection] = []
        self.messages: list[tuple[int, dict[str, Any]]] = []  # (connection number, message)
        self._lock = threading.Lock()
        self.server = serve(
            self._handler,
            HOST,
            0,
            ssl=ssl_context,
            process_request=self._process_request,
            ping_interval=None,
        )
        self.port = self.server.socket.getsockname()[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/audio", scheme: str = "ws") -> str:
        return f"{scheme}://{HOST}:{self.port}{path}"

    def _process_request(self, connection: ServerConnection, request: Any) -> Any:
        with self._lock:
            self.handshakes.append(request)
            if not self.refuse:
                # Registered before the 101 goes out: the client may see its
                # handshake done before this server's handler thread runs.
                self.connections.append(connection)
        if self.refuse:
            return connection.respond(self.refuse, "refused\n")
        return None

    def _handler(self, ws: ServerConnection) -> None:
        with self._lock:
            number = next(i for i, c in enumerate(self.connections, 1) if c is ws)
        try:
            for text in ws:
                with self._lock:
                    self.messages.append((number, json.loads(text)))
        except ConnectionClosed:
            pass

    def received(self, number: int) -> list[dict[str, Any]]:
        with self._lock:
            return [m for n, m in self.messages if n == number]

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(TIMEOUT)


class SilentServer:
    """Completes the WebSocket handshake, then never sends anything (no pongs)."""

    GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    def __init__(self) -> None:
        self.sock = socket.create_server((HOST, 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.handshakes = 0
        self.clients: list[socket.socket] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.clients.append(client)
            client.settimeout(TIMEOUT)
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = client.recv(4096)
                if not chunk:
                    break
                request += chunk
            key = ""
            for line in request.decode("latin-1").split("\r\n"):
                if line.lower().startswith("sec-websocket-key:"):
                    key = line.split(":", 1)[1].strip()
            accept = base64.b64encode(hashlib.sha1((key + self.GUID).encode()).digest()).decode()
            client.sendall(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept.encode() + b"\r\n\r\n"
            )
            self.handshakes += 1
            # ... and from here on, silence: pings go unanswered.

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(TIMEOUT)
        for client in self.clients:
            client.close()
        self.sock.close()


class TokenServer:
    """A real HTTP IAM token endpoint: records each POST, returns numbered tokens."""

    def __init__(self, expires_in: float = 3600) -> None:
        self.expires_in = expires_in
        self.posts: list[tuple[dict[str, str], dict[str, list[str]]]] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                owner.posts.append((dict(self.headers), parse_qs(body.decode())))
                reply = json.dumps({
                    "access_token": f"iam-access-SECRET-{len(owner.posts)}",
                    "refresh_token": "not-used",
                    "token_type": "Bearer",
                    "expires_in": owner.expires_in,
                }).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer((HOST, 0), Handler)
        self.url = f"http://{HOST}:{self.server.server_address[1]}/identity/token"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def token(self, n: int) -> str:
        return f"iam-access-SECRET-{n}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(TIMEOUT)


@pytest.fixture
def servers() -> Iterator[list[Any]]:
    """Collects every server a test starts and stops them all afterwards."""
    started: list[Any] = []
    yield started
    for server in started:
        server.stop()


def gateway_server(servers: list[Any], **kwargs: Any) -> GatewayServer:
    server = GatewayServer(**kwargs)
    servers.append(server)
    return server


# --------------------------------------------------------------------------
# The client under test


def gateway_settings(url: str, **overrides: Any) -> Any:
    """``settings.gateway`` through the real config parser, with fast test timings."""
    data: dict[str, Any] = {
        "url": url,
        "ping_interval_s": 0.5,
        "ping_timeout_s": 2.0,
        "reconnect": {"initial_s": 0.05, "max_s": 0.2},
    }
    data.update(overrides)
    return parse_config({"gateway": data}, "test").gateway


class Recorder:
    """The daemon's side: records callbacks in order."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[tuple[str, Any]] = []

    def on_connected(self) -> None:
        with self.lock:
            self.calls.append(("connected", None))

    def on_disconnected(self, reason: str) -> None:
        with self.lock:
            self.calls.append(("disconnected", reason))

    def on_message(self, msg: Any) -> None:
        with self.lock:
            self.calls.append(("message", msg))

    def of(self, kind: str) -> list[Any]:
        with self.lock:
            return [value for k, value in self.calls if k == kind]


@pytest.fixture
def connect() -> Iterator[Callable[..., tuple[GatewayConnection, Recorder, io.StringIO]]]:
    """Builds started connections (events as JSON into a buffer); closes and joins them."""
    made: list[GatewayConnection] = []

    def make(gateway: Any, **kwargs: Any) -> tuple[GatewayConnection, Recorder, io.StringIO]:
        recorder, out = Recorder(), io.StringIO()
        kwargs.setdefault("events", EventSink("json", stream=out))
        conn = GatewayConnection(
            gateway,
            on_message=recorder.on_message,
            on_connected=recorder.on_connected,
            on_disconnected=recorder.on_disconnected,
            **kwargs,
        )
        made.append(conn)
        conn.start()
        return conn, recorder, out

    yield make
    for conn in made:
        conn.close()
        assert conn._thread is None or not conn._thread.is_alive()


def events_of(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


# --------------------------------------------------------------------------
# Handshake: URL, headers, credentials


def test_query_headers_and_bearer_token_arrive_as_configured(servers, connect):
    server = gateway_server(servers)
    gw = gateway_settings(
        server.url("/audio?skillset=base&language=fr-FR"),
        query={"language": "en-US", "userID": "dev_1"},
        headers={"tenantid": "tenant-7"},
        auth={"type": "bearer", "token": BEARER},
    )
    # The config refuses null values; the connection must drop them anyway.
    gw = dataclasses.replace(gw, query={**gw.query, "engine": None})
    conn, rec, out = connect(gw)
    assert conn.wait_connected(TIMEOUT)

    request = server.handshakes[0]
    path = urlsplit(request.path)
    assert path.path == "/audio"
    assert parse_qs(path.query, keep_blank_values=True) == {
        "skillset": ["base"], "language": ["en-US"], "userID": ["dev_1"],
    }
    assert "engine" not in request.path and "null" not in request.path
    assert request.headers["tenantid"] == "tenant-7"
    assert request.headers["Authorization"] == f"Bearer {BEARER}"
    # The device announces itself (the reference gateway then sends base64 audio).
    assert request.headers.get_all("User-Agent") == [f"voice-agent/{version('voice-agent')}"]
    # connected is set just before the callbacks run: wait for them.
    wait_until(lambda: rec.of("connected") == [None], "the on_connected callback")
    [event] = events_of(out)
    assert event["event"] == "connected" and isinstance(event["ts"], float)
    assert event["url"].startswith(f"ws://{HOST}:{server.port}/audio?")


def test_a_configured_user_agent_replaces_the_devices_own(servers, connect):
    server = gateway_server(servers)
    conn, _rec, _out = connect(
        gateway_settings(server.url("/"), headers={"user-agent": "kitchen-pi/2"})
    )
    assert conn.wait_connected(TIMEOUT)
    assert server.handshakes[0].headers.get_all("User-Agent") == ["kitchen-pi/2"]


def test_token_file_is_read_again_at_each_connect(servers, connect, tmp_path):
    server = gateway_server(servers)
    token_file = tmp_path / "token"
    token_file.write_text("file-token-SECRET-1\n")
    gw = gateway_settings(server.url(), auth={"type": "bearer", "token_file": str(token_file)})
    conn, rec, _ = connect(gw)
    assert conn.wait_connected(TIMEOUT)
    assert server.handshakes[0].headers["Authorization"] == "Bearer file-token-SECRET-1"

    token_file.write_text("file-token-SECRET-2\n")  # rotated
    server.connections[0].close()
    wait_until(lambda: len(server.connections) == 2, "the reconnect")
    assert server.handshakes[1].headers["Authorization"] == "Bearer file-token-SECRET-2"


def test_iam_token_is_fetched_sent_and_refreshed_before_expiry(servers, connect):
    tokens = TokenServer(expires_in=2)
    servers.append(tokens)
    server = gateway_server(servers)
    gw = gateway_settings(
        server.url(), auth={"type": "iam", "api_key": API_KEY, "token_url": tokens.url}
    )
    conn, rec, _ = connect(gw)
    assert conn.wait_connected(TIMEOUT)

    headers, form = tokens.posts[0]
    assert form == {"apikey": [API_KEY], "grant_type": ["urn:ibm:params:oauth:grant-type:apikey"]}
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert headers["Accept"] == "application/json"
    assert server.handshakes[0].headers["Authorization"] == f"Bearer {tokens.token(1)}"

    # expires_in 2 s: refreshed in the background, on the same connection.
    wait_until(lambda: len(tokens.posts) >= 2, "a refresh before expiry")
    assert conn.stats.connects == 1 and len(server.handshakes) == 1
    assert tokens.posts[1][1]["apikey"] == [API_KEY]


def test_iam_reconnect_fetches_a_fresh_token(servers, connect):
    tokens = TokenServer(expires_in=3600)  # no background refresh in this test
    servers.append(tokens)
    server = gateway_server(servers)
    gw = gateway_settings(
        server.url(), auth={"type": "iam", "api_key": API_KEY, "token_url": tokens.url}
    )
    conn, rec, _ = connect(gw)
    assert conn.wait_connected(TIMEOUT)
    assert len(tokens.posts) == 1
    # The client can see the handshake done before the server's handler ran.
    wait_until(lambda: len(server.connections) == 1, "the server's side of the connection")

    server.connections[0].close()
    wait_until(lambda: len(server.connections) == 2, "the reconnect")
    assert len(tokens.posts) == 2
    assert server.handshakes[1].headers["Authorization"] == f"Bearer {tokens.token(2)}"


# --------------------------------------------------------------------------
# Session messages, sending, closing


def test_session_messages_follow_every_connect_in_order(servers, connect):
    server = gateway_server(servers)
    gw = gateway_settings(
        server.url(),
        stt_options={"engine": "watson", "inactivity_timeout": -1},
        tts_options={"voice": "en-US_AllisonVoice"},
    )
    conn, rec, _ = connect(gw, location=(45.408032, -123.0083655))
    wait_until(lambda: len(server.received(1)) == 3, "the session messages")
    first = server.received(1)
    assert [m["action"] for m in first] == ["stt_options", "tts_options", "location"]
    assert first[0]["options"] == {"engine": "watson", "inactivity_timeout": -1}
    assert first[1]["options"] == {"voice": "en-US_AllisonVoice"}
    assert first[2]["location"] == {"latitude": 45.408032, "longitude": -123.0083655}
    assert len({m["id"] for m in first}) == 3

    assert conn.set_location(52.52, 13.405)  # e.g. a config reload: sent at once
    wait_until(lambda: len(server.received(1)) == 4, "the new location")
    assert server.received(1)[3]["location"] == {"latitude": 52.52, "longitude": 13.405}

    server.connections[0].close()
    wait_until(lambda: len(server.received(2)) == 3, "the session messages after reconnect")
    again = server.received(2)
    assert [m["action"] for m in again] == ["stt_options", "tts_options", "location"]
    assert again[2]["location"] == {"latitude": 52.52, "longitude": 13.405}


def test_no_session_messages_when_none_are_configured(servers, connect):
    server = gateway_server(servers)
    conn, rec, _ = connect(gateway_settings(server.url()))
    assert conn.wait_connected(TIMEOUT)
    assert conn.send(TextInput("t1", "hello"))
    wait_until(lambda: server.received(1), "the text message")
    assert server.received(1) == [{"id": "t1", "action": "text", "text": "hello"}]


def test_send_is_false_when_not_connected_and_close_sends_1000(servers, connect):
    server = gateway_server(servers)
    gw = gateway_settings(server.url())
    recorder = Recorder()
    conn = GatewayConnection(gw, on_message=recorder.on_message,
                             on_disconnected=recorder.on_disconnected)
    assert conn.send(TextInput("t0", "too early")) is False
    conn.start()
    try:
        assert conn.wait_connected(TIMEOUT)
        assert conn.connected
    finally:
        conn.close()
    assert conn._thread is not None and not conn._thread.is_alive()
    assert not conn.connected
    assert recorder.of("disconnected") == [CLOSED_BY_CLIENT]
    wait_until(lambda: server.connections[0].close_code is not None, "the close frame")
    assert server.connections[0].close_code == 1000
    assert conn.send(TextInput("t2", "too late")) is False
    assert server.received(1) == []


def test_send_from_many_threads_keeps_frames_whole(servers, connect):
    server = gateway_server(servers)
    conn, rec, _ = connect(gateway_settings(server.url()))
    assert conn.wait_connected(TIMEOUT)

    def talk(n: int) -> None:
        for i in range(50):
            assert conn.send(TextInput(f"{n}-{i}", "x" * 3000))

    threads = [threading.Thread(target=talk, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    wait_until(lambda: len(server.received(1)) == 200, "all 200 messages")
    expected = {f"{n}-{i}" for n in range(4) for i in range(50)}
    assert {m["id"] for m in server.received(1)} == expected


# --------------------------------------------------------------------------
# Reconnecting and liveness


def test_reconnects_after_the_server_drops_within_backoff_bounds(servers, connect):
    server = gateway_server(servers)
    gw = gateway_settings(server.url(), reconnect={"initial_s": 0.2, "max_s": 0.5})
    conn, rec, out = connect(gw)
    assert conn.wait_connected(TIMEOUT)

    server.connections[0].close()  # a clean close frame
    wait_until(lambda: len(rec.of("connected")) == 2, "the first reconnect")
    server.connections[1].socket.shutdown(socket.SHUT_RDWR)  # no close frame: just gone
    wait_until(lambda: len(rec.of("connected")) == 3, "the second reconnect")

    reasons = rec.of("disconnected")
    assert "closed by the gateway" in reasons[0] and "1000" in reasons[0]
    assert "connection lost" in reasons[1]
    assert reasons[1].count("connection lost") == 1  # said once
    assert conn.stats.connects == 3
    assert len(conn.stats.delays) >= 2
    assert all(0.0 <= d <= 0.5 for d in conn.stats.delays)
    kinds = [e["event"] for e in events_of(out)]
    assert kinds == ["connected", "disconnected", "connected", "disconnected", "connected"]
    assert events_of(out)[1]["reason"] == reasons[0]


def test_a_gateway_that_stops_answering_pings_is_dropped(servers, connect):
    silent = SilentServer()
    servers.append(silent)
    gw = gateway_settings(f"ws://{HOST}:{silent.port}/audio", ping_interval_s=0.3,
                          ping_timeout_s=0.5)
    conn, rec, out = connect(gw)
    wait_until(lambda: rec.of("disconnected"), "the dead connection to be noticed")
    assert "ping timeout" in rec.of("disconnected")[0]
    disconnected = [e for e in events_of(out) if e["event"] == "disconnected"]
    assert "ping timeout" in disconnected[0]["reason"]
    wait_until(lambda: silent.handshakes >= 2, "the reconnect")


def test_the_ping_deadline_holds_while_a_sender_is_stuck(servers, connect):
    # The silent server never reads: the TCP buffers fill and send() blocks,
    # holding the send lock. The connection thread must still notice the
    # missing pong, and its shutdown of the socket must release the sender.
    silent = SilentServer()
    servers.append(silent)
    gw = gateway_settings(f"ws://{HOST}:{silent.port}/audio", ping_interval_s=0.3,
                          ping_timeout_s=0.5)
    conn, rec, _ = connect(gw)
    assert conn.wait_connected(TIMEOUT)
    sent = []

    def flood() -> None:
        while conn.send(TextInput("t", "x" * 65536)):
            sent.append(1)

    sender = threading.Thread(target=flood)
    sender.start()
    sender.join(TIMEOUT)
    assert not sender.is_alive()
    assert len(sent) > 10  # it did get stuck on full buffers, not on a closed link
    wait_until(lambda: rec.of("disconnected"), "the disconnect")
    assert "ping timeout" in rec.of("disconnected")[0]


def test_a_401_handshake_backs_off_instead_of_spinning(servers, connect, caplog):
    caplog.set_level(logging.INFO, logger="agent.link.connection")
    server = gateway_server(servers, refuse=401)
    gw = gateway_settings(server.url(), auth={"type": "bearer", "token": BEARER},
                          reconnect={"initial_s": 0.2, "max_s": 0.4})
    conn, rec, _ = connect(gw, rng=random.Random(7))
    wait_until(lambda: len(server.handshakes) >= 4, "a fourth attempt")
    conn.close()

    # By events, not by the clock: every refused attempt is followed by a
    # backoff delay drawn from the configured schedule (the same seeded draws
    # Backoff itself makes), waited on before the next handshake.
    attempts = len(server.handshakes)
    assert conn.stats.refused == attempts and conn.stats.connects == 0
    delays = list(conn.stats.delays)
    assert attempts - 1 <= len(delays) <= attempts
    expected = Backoff(0.2, 0.4, random.Random(7))
    assert delays == pytest.approx([expected.next_delay() for _ in delays])
    assert all(0.0 <= d <= 0.4 for d in delays)
    refusals = [r.getMessage() for r in caplog.records if "HTTP 401" in r.getMessage()]
    # One line per attempt (the last one may be cut short by close()).
    assert attempts - 1 <= len(refusals) <= attempts
    assert len(set(refusals)) == len(refusals)  # each names its own attempt number
    assert rec.calls == []


# --------------------------------------------------------------------------
# TLS


@pytest.fixture(scope="module")
def tls_ca() -> trustme.CA:
    return trustme.CA()


def tls_server(servers: list[Any], ca: trustme.CA) -> GatewayServer:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(HOST).configure_cert(context)
    return gateway_server(servers, ssl_context=context)


def test_tls_certificate_of_an_unknown_ca_is_refused(servers, connect, tls_ca, caplog):
    caplog.set_level(logging.INFO, logger="agent.link.connection")
    server = tls_server(servers, tls_ca)
    conn, rec, _ = connect(gateway_settings(server.url(scheme="wss")))
    wait_until(lambda: conn.stats.attempts >= 2, "a second attempt")
    assert conn.stats.connects == 0 and rec.calls == []
    assert any("certificate verify failed" in r.getMessage().lower() for r in caplog.records)


def test_tls_with_the_test_ca_as_ca_file_connects(servers, connect, tls_ca, tmp_path):
    server = tls_server(servers, tls_ca)
    ca_file = tmp_path / "ca.pem"
    tls_ca.cert_pem.write_to_path(str(ca_file))
    gw = gateway_settings(server.url(scheme="wss"), tls={"ca_file": str(ca_file)},
                          stt_options={"engine": "local"})
    conn, rec, _ = connect(gw)
    assert conn.wait_connected(TIMEOUT)
    wait_until(lambda: server.received(1), "a message over TLS")
    assert server.received(1)[0]["action"] == "stt_options"


def test_tls_verify_false_accepts_any_certificate(servers, connect, tls_ca, caplog):
    caplog.set_level(logging.INFO, logger="agent.link.connection")
    server = tls_server(servers, tls_ca)
    conn, rec, _ = connect(gateway_settings(server.url(scheme="wss"), tls={"verify": False}))
    assert conn.wait_connected(TIMEOUT)
    # The same certificate, with verification on (the default), is refused:
    # so it was verify: false that let it through.
    checked, _, _ = connect(gateway_settings(server.url(scheme="wss")))
    wait_until(lambda: checked.stats.attempts >= 2, "a second attempt")
    assert checked.stats.connects == 0
    assert any("certificate verify failed" in r.getMessage().lower() for r in caplog.records)


# --------------------------------------------------------------------------
# Receiving


def test_a_malformed_frame_is_logged_and_dropped_and_the_next_is_delivered(
    servers, connect, caplog
):
    caplog.set_level(logging.DEBUG, logger="agent.link.connection")
    server = gateway_server(servers)
    conn, rec, _ = connect(gateway_settings(server.url()))
    assert conn.wait_connected(TIMEOUT)
    ws = server.connections[0]
    ws.send("{not json")
    ws.send(json.dumps({"id": "1", "action": "text", "text": 5}))  # wrong type
    ws.send(b"\x00\x01binary")
    ws.send(json.dumps({"id": "2", "action": "dance", "style": "tango"}))
    ws.send(json.dumps({"id": "3", "action": "text", "text": "hello", "prompt": True}))
    ws.send(['{"id": "4", "action": "te', 'xt", "text": "in', ' pieces"}'])  # fragmented
    wait_until(lambda: len(rec.of("message")) == 3, "the good messages")

    unknown, reply, pieces = rec.of("message")
    assert isinstance(unknown, Unknown) and unknown.action == "dance"
    assert reply == TextReply("3", "hello", None, True)
    assert pieces == TextReply("4", "in pieces")
    messages = [r.getMessage() for r in caplog.records]
    assert sum("dropped a malformed message" in m for m in messages) == 2
    assert any("binary frame" in m for m in messages)
    assert any("unknown action 'dance'" in m for m in messages)
    assert conn.connected and rec.of("disconnected") == []


# --------------------------------------------------------------------------
# Secrets


@pytest.fixture
def websocket_trace() -> Iterator[None]:
    """websocket-client's own debug output (it dumps handshake headers), to stderr."""
    websocket.enableTrace(True, handler=logging.StreamHandler(sys.stderr))
    yield
    websocket.enableTrace(False)


def test_no_secret_in_any_log_record_output_or_event(
    servers, connect, caplog, capsys, websocket_trace
):
    caplog.set_level(logging.DEBUG)
    tokens = TokenServer(expires_in=2)
    servers.append(tokens)
    refusing = gateway_server(servers, refuse=401)
    server = gateway_server(servers)
    sink = EventSink("json")  # to stdout, captured by capsys

    # Bearer, refused (the failure path), with a secret in the query too.
    gw = gateway_settings(refusing.url("/audio?token=query-SECRET-token-99"),
                          auth={"type": "bearer", "token": BEARER})
    conn, rec, _ = connect(gw, events=sink)
    wait_until(lambda: len(refusing.handshakes) >= 2, "two refused attempts")
    conn.close()

    # IAM, connected and refreshed; the gateway echoes the token in a bad frame.
    gw = gateway_settings(server.url("/audio?token=query-SECRET-token-99"),
                          auth={"type": "iam", "api_key": API_KEY, "token_url": tokens.url})
    conn, rec, _ = connect(gw, events=sink)
    assert conn.wait_connected(TIMEOUT)
    wait_until(lambda: len(tokens.posts) >= 2, "a token refresh")
    server.connections[0].send(f"oops {tokens.token(1)} Authorization: Bearer {tokens.token(1)}")
    wait_until(lambda: any("malformed" in r.getMessage() for r in caplog.records),
               "the malformed frame to be logged")
    server.connections[0].close()
    wait_until(lambda: len(rec.of("connected")) == 2, "the reconnect")
    conn.close()

    captured = capsys.readouterr()
    texts = [r.getMessage() for r in caplog.records] + [caplog.text, captured.out, captured.err]
    secrets = [BEARER, API_KEY, "query-SECRET-token-99"]
    secrets += [tokens.token(n) for n in range(1, len(tokens.posts) + 1)]
    for secret in secrets:
        for text in texts:
            assert secret not in text
    # The guard did have something to do: the handshake headers were dumped.
    assert "Authorization: Bearer ***" in captured.err
    events = [json.loads(line) for line in captured.out.splitlines()]
    assert {e["event"] for e in events} == {"connected", "disconnected"}
    assert all("token=***" in e["url"] for e in events)


# --------------------------------------------------------------------------
# Pure helpers


def test_assembler_joins_fragments_and_drops_what_is_not_a_message(caplog):
    got: list[Any] = []
    assembler = MessageAssembler(got.append, max_bytes=64)
    text = b'{"id": "1", "action": "error", "error": "no"}'
    assert assembler.add(OPCODE_TEXT, False, text[:10]) is None
    assert assembler.add(OPCODE_CONT, False, text[10:20]) is None
    assert assembler.add(OPCODE_CONT, True, text[20:]) is None
    assert assembler.add(OPCODE_TEXT, False, b"x" * 60) is None
    assert assembler.add(OPCODE_CONT, True, b"x" * 60) is None  # 120 bytes: over the cap
    assert assembler.add(OPCODE_BINARY, True, b"\x00") is None
    assert [type(m).__name__ for m in got] == ["GatewayError"]
    assert any("over the cap" in r.getMessage() for r in caplog.records)
    # A new message inside a fragmented one, or a stray continuation, ends the connection.
    assert assembler.add(OPCODE_TEXT, False, b"{") is None
    assert assembler.add(OPCODE_TEXT, True, b"{}") is not None
    assert MessageAssembler(got.append).add(OPCODE_CONT, True, b"}") is not None


def test_backoff_is_full_jitter_within_bounds_and_resets():
    backoff = Backoff(0.5, 30.0, random.Random(1))
    caps = [min(30.0, 0.5 * 2**n) for n in range(12)]
    delays = [backoff.next_delay() for _ in caps]
    assert all(0.0 <= d <= cap for d, cap in zip(delays, caps, strict=True))
    assert max(delays) > 0.5  # it does grow
    backoff.reset()
    assert 0.0 <= backoff.next_delay() <= 0.5 and backoff.attempt == 1


def test_build_url_merges_and_drops_unset_values():
    url = build_url("wss://gw.example/audio?a=1&b=2", {"b": "3", "c": None, "d": "x y"})
    assert url == "wss://gw.example/audio?a=1&b=3&d=x+y"
    assert build_url("ws://127.0.0.1:8/", {}) == "ws://127.0.0.1:8/"


def test_display_url_strips_credentials():
    shown = display_url("wss://user:pw@gw.example:8443/a?apikey=k&token=t&lang=en")
    assert shown == "wss://gw.example:8443/a?apikey=***&token=***&lang=en"


def test_session_messages_are_not_sent_before_the_connection_is_usable(tmp_path):
    # Unit-level: a connection never started reports not connected and sends nothing.
    gw = gateway_settings("ws://127.0.0.1:9/audio")
    conn = GatewayConnection(gw, on_message=lambda msg: None)
    assert not conn.connected
    assert conn.set_location(1.0, 2.0) is False
    assert conn.wait_connected(0.01) is False
    conn.close()



def test_a_lost_connection_is_said_once() -> None:
    assert lost("connection lost: [Errno 104] Connection reset by peer") == (
        "connection lost: [Errno 104] Connection reset by peer"
    )
    assert lost("ping timeout: no reply") == "connection lost: ping timeout: no reply"


def test_a_connect_and_a_disconnect_are_each_said_once_at_info(servers, connect, caplog):
    # agent.events says "connected url=..." / "disconnected ..."; the connection's
    # own lines are DEBUG, so the log does not say each one twice.
    caplog.set_level(logging.INFO)
    server = gateway_server(servers)
    conn, _rec, _ = connect(gateway_settings(server.url()), events=EventSink("text"))
    assert conn.wait_connected(TIMEOUT)
    conn.close()
    said = [r.getMessage() for r in caplog.records
            if r.levelno >= logging.INFO and "connected" in r.getMessage()]
    assert [m.split()[0] for m in said] == ["connected", "disconnected"], said
