"""sd_notify against real AF_UNIX datagram sockets (a file and an abstract name)."""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.device.notify import Notifier, watchdog_interval_s


@pytest.fixture
def short_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # sockaddr_un holds 108 bytes; pytest's per-test tmp_path can be longer.
    return tmp_path_factory.mktemp("n")


def _receiver(address: str | bytes) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(10)
    return sock


def _drain(sock: socket.socket) -> list[bytes]:
    """Everything queued on the socket right now (datagrams arrive synchronously)."""
    sock.setblocking(False)
    out = []
    try:
        while True:
            out.append(sock.recv(4096))
    except BlockingIOError:
        return out


@pytest.fixture
def path_socket(short_dir: Path) -> Iterator[tuple[str, socket.socket]]:
    path = str(short_dir / "notify.sock")
    sock = _receiver(path)
    yield path, sock
    sock.close()


@pytest.fixture
def abstract_socket() -> Iterator[tuple[str, socket.socket]]:
    name = f"voice-agent-test-{uuid.uuid4().hex}"
    sock = _receiver(b"\0" + name.encode())
    yield "@" + name, sock
    sock.close()


@pytest.mark.parametrize("kind", ["path_socket", "abstract_socket"])
def test_messages_arrive_exactly(kind: str, request: pytest.FixtureRequest) -> None:
    address, receiver = request.getfixturevalue(kind)
    notifier = Notifier(environ={"NOTIFY_SOCKET": address})
    assert notifier.enabled
    try:
        assert notifier.ready(status="listening for the wake word")
        assert notifier.status("turn 3: waiting for\nthe reply")
        assert notifier.watchdog()
        assert notifier.stopping()
        assert notifier.notify("EXTEND_TIMEOUT_USEC=5000000")
    finally:
        notifier.close()
    assert _drain(receiver) == [
        b"READY=1\nSTATUS=listening for the wake word",
        b"STATUS=turn 3: waiting for the reply",  # a newline could forge READY=1
        b"WATCHDOG=1",
        b"STOPPING=1",
        b"EXTEND_TIMEOUT_USEC=5000000",
    ]


def test_reloading_carries_monotonic_usec(path_socket: tuple[str, socket.socket]) -> None:
    address, receiver = path_socket
    notifier = Notifier(address)
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert notifier.reloading()
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    notifier.close()
    [message] = _drain(receiver)
    first, second = message.decode().split("\n")
    assert first == "RELOADING=1"
    key, value = second.split("=")
    assert key == "MONOTONIC_USEC" and before <= int(value) <= after


def test_reads_notify_socket_from_the_process_environment(
    path_socket: tuple[str, socket.socket], monkeypatch: pytest.MonkeyPatch
) -> None:
    address, receiver = path_socket
    monkeypatch.setenv("NOTIFY_SOCKET", address)
    notifier = Notifier()
    assert notifier.ready()
    notifier.close()
    assert _drain(receiver) == [b"READY=1"]


def test_unset_socket_is_a_noop(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    with caplog.at_level(logging.DEBUG, logger="agent.device.notify"):
        for notifier in (Notifier(), Notifier(environ={"NOTIFY_SOCKET": ""})):
            assert not notifier.enabled
            assert not notifier.ready("x")
            assert not notifier.watchdog()
            assert not notifier.reloading()
            notifier.close()
    assert not caplog.records


def test_send_errors_never_raise_and_log_once(
    short_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missing = str(short_dir / "nobody-listens.sock")
    notifier = Notifier(missing)
    with caplog.at_level(logging.DEBUG, logger="agent.device.notify"):
        assert not notifier.ready()
        assert not notifier.watchdog()
        assert not notifier.watchdog()
    notifier.close()
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert missing in warnings[0].getMessage()


def test_a_receiver_that_appears_later_gets_messages(short_dir: Path) -> None:
    # The daemon's notifier outlives a failed send (no connect at start).
    path = str(short_dir / "late.sock")
    notifier = Notifier(path)
    assert not notifier.watchdog()
    receiver = _receiver(path)
    try:
        assert notifier.watchdog()
        assert _drain(receiver) == [b"WATCHDOG=1"]
    finally:
        receiver.close()
        notifier.close()


def test_unsupported_address_is_logged_and_ignored(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="agent.device.notify"):
        notifier = Notifier("vsock:2:1234")
        assert not notifier.enabled
        assert not notifier.ready()
    assert len(caplog.records) == 1
    assert "vsock:2:1234" in caplog.records[0].getMessage()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"WATCHDOG_USEC": "30000000"}, 15.0),
        ({"WATCHDOG_USEC": "1000"}, 0.0005),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid() + 1)}, None),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "me"}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "-5"}, None),
        ({"WATCHDOG_USEC": "30s"}, None),
        ({"WATCHDOG_USEC": ""}, None),
        ({"WATCHDOG_PID": str(os.getpid())}, None),
    ],
)
def test_watchdog_interval(env: dict[str, str], expected: float | None) -> None:
    assert watchdog_interval_s(env) == expected


def test_watchdog_interval_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "4000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert watchdog_interval_s() == 2.0
    monkeypatch.delenv("WATCHDOG_USEC")
    assert watchdog_interval_s() is None
