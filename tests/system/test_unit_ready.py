"""The daemon as systemd starts it: the unit's exact ExecStart= line (its
paths mapped into a temporary tree), the environment systemd gives it, and a
real notification socket in place of systemd's.

Checks the contract the unit relies on: READY=1 once started (Type=notify),
WATCHDOG=1 while WATCHDOG_USEC is set (WatchdogSec=), a reload on SIGHUP
(ExecReload=), STOPPING=1 and a clean exit on SIGTERM, and exit status 78 on
a bad configuration (RestartPreventExitStatus=). systemd itself cannot run
here (it is not PID 1), so this is as close as a test machine gets.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from recordings import AUDIO
from websockets.sync.server import ServerConnection, serve

import agent.device.daemon  # noqa: F401 - the daemon `voice-agent run` starts: it must import

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "systemd" / "voice-agent.service"
# Long enough that a realtime file input is still being read when the test ends.
CLIP = AUDIO / "negative_office_talk_34s.wav"
ENTRY_POINT = Path(sys.executable).parent / "voice-agent"


def unit_values(key: str) -> list[str]:
    """Every value of ``key`` in the unit's [Service] section."""
    values = []
    section = ""
    for line in UNIT.read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and line.startswith(key + "="):
            values.append(line.partition("=")[2])
    return values


class NotifySocket:
    """systemd's side of sd_notify: a datagram socket collecting messages."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "notify"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.messages: list[dict[str, str]] = []

    def wait_for(self, key: str, value: str | None = None, timeout: float = 120) -> dict[str, str]:
        """Return the next message (after those already seen) that sets ``key``."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {key}= within {timeout} s; got {self.messages}")
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            message = dict(line.partition("=")[::2] for line in data.decode().splitlines())
            self.messages.append(message)
            if key in message and (value is None or message[key] == value):
                return message

    def close(self) -> None:
        self.sock.close()


@dataclass
class Gateway:
    """A tiny WebSocket server on 127.0.0.1 that accepts and reads."""

    connected: threading.Event = field(default_factory=threading.Event)
    port: int = 0

    def handler(self, ws: ServerConnection) -> None:
        self.connected.set()
        for _ in ws:
            pass


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    gw = Gateway()
    server = serve(gw.handler, "127.0.0.1", 0)
    gw.port = server.socket.getsockname()[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield gw
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture
def tree() -> Iterator[Path]:
    # A short path: AF_UNIX socket paths are limited to 107 bytes.
    with tempfile.TemporaryDirectory(prefix="va-unit-") as d:
        root = Path(d)
        exe = root / "opt" / "voice-agent" / "bin" / "voice-agent"
        exe.parent.mkdir(parents=True)
        exe.symlink_to(ENTRY_POINT)
        (root / "etc" / "voice-agent").mkdir(parents=True)
        # StateDirectory= / WorkingDirectory=
        (root / "var" / "lib" / "voice-agent").mkdir(parents=True)
        yield root


def write_config(tree: Path, text: str) -> None:
    (tree / "etc" / "voice-agent" / "config.yaml").write_text(text)


def start_like_systemd(
    tree: Path, notify: NotifySocket, watchdog_usec: int
) -> subprocess.Popen[str]:
    """Run the unit's ExecStart= with its paths mapped into ``tree``."""
    (exec_start,) = unit_values("ExecStart")
    argv = [
        str(tree / arg.lstrip("/")) if arg.startswith(("/opt/", "/etc/")) else arg
        for arg in shlex.split(exec_start)
    ]
    env = dict(os.environ)
    for assignment in unit_values("Environment"):
        for item in shlex.split(assignment):
            name, _, value = item.partition("=")
            env[name] = value
    env["NOTIFY_SOCKET"] = str(notify.path)
    env["WATCHDOG_USEC"] = str(watchdog_usec)
    (workdir,) = unit_values("WorkingDirectory")
    return subprocess.Popen(
        argv,
        env=env,
        cwd=tree / workdir.lstrip("/"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def stop(proc: subprocess.Popen[str]) -> str:
    """Make sure the process is gone; return its output."""
    if proc.poll() is None:
        proc.kill()
    out, _ = proc.communicate(timeout=30)
    return out


def test_exec_start_reports_ready_watchdog_reload_and_stop(
    tree: Path, gateway: Gateway, tmp_path: Path
) -> None:
    write_config(
        tree,
        f"""
gateway:
  url: ws://127.0.0.1:{gateway.port}
audio:
  input: {{file: {CLIP}, realtime: true}}
  output: {{file: {tmp_path / "played.wav"}}}
sounds: {{wake: null, done: null, error: null}}
log: {{format: json}}
""",
    )
    notify = NotifySocket(tree)
    # WatchdogSec=30 gives WATCHDOG_USEC=30000000; 2 s keeps the test short.
    proc = start_like_systemd(tree, notify, watchdog_usec=2_000_000)
    try:
        ready = notify.wait_for("READY", "1")
        assert proc.poll() is None
        assert gateway.connected.wait(timeout=60), "the daemon never connected to the gateway"
        notify.wait_for("WATCHDOG", "1", timeout=30)

        proc.send_signal(signal.SIGHUP)  # what ExecReload=/bin/kill -HUP $MAINPID does
        notify.wait_for("READY", "1", timeout=60)
        assert proc.poll() is None, "SIGHUP must reload, not stop"

        proc.send_signal(signal.SIGTERM)  # systemctl stop
        notify.wait_for("STOPPING", "1", timeout=60)
        assert proc.wait(timeout=60) == 0
    finally:
        out = stop(proc)
        notify.close()
    assert "STATUS" in ready or any("STATUS" in m for m in notify.messages), out


def test_exec_start_exits_78_on_a_bad_config(tree: Path, tmp_path: Path) -> None:
    write_config(tree, "gateway:\n  url: ws://127.0.0.1:9\nwake:\n  threshold: high\n")
    notify = NotifySocket(tree)
    proc = start_like_systemd(tree, notify, watchdog_usec=2_000_000)
    try:
        code = proc.wait(timeout=120)
    finally:
        out = stop(proc)
        notify.close()
    (prevent,) = unit_values("RestartPreventExitStatus")
    assert code == int(prevent) == 78, out
    assert "wake.threshold" in out
    assert not any(m.get("READY") == "1" for m in notify.messages)
