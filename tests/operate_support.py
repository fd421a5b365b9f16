"""Helpers for the operating tests: a daemon process with a control socket,
a metrics endpoint and a hook; requests over the real socket, scrapes over
real HTTP."""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from daemon_process import Daemon
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[1]


def env() -> dict[str, str]:
    out = dict(os.environ, PYTHONUNBUFFERED="1")
    for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
        out.pop(name, None)
    return out


def config(tmp: Path, url: str, audio_input: dict[str, Any], **extra: Any) -> Path:
    data: dict[str, Any] = {
        "gateway": {"url": url, "reconnect": {"initial_s": 0.1, "max_s": 0.5}},
        "audio": {
            "input": audio_input,
            "output": {"file": str(tmp / "out.wav"), "realtime": True},
        },
        "wake": {"models": ["hey_jarvis"]},
        "sounds": {"wake": None, "done": None, "error": None},
        "listen": {"response_timeout_s": 10},
        "log": {"format": "json"},
        "control": {"socket": str(tmp / "ctl.sock")},
        "metrics": {"listen": "127.0.0.1:0"},
        **extra,
    }
    path = tmp / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def ctl(sock: Path, *args: str) -> tuple[int, dict[str, Any]]:
    """``voice-agent ctl`` itself, as a user runs it: exit status and the printed reply."""
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "agent.cli", "ctl", "--socket", str(sock), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


class Client:
    """One connection to the control socket: a JSON line out, a JSON line back."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(str(path))
        self.file = self.sock.makefile("rb")

    def raw(self, line: bytes) -> dict[str, Any]:
        self.sock.sendall(line + b"\n")
        reply = self.file.readline()
        assert reply, "the socket closed"
        return json.loads(reply)

    def send(self, command: str, value: float | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"command": command}
        if value is not None:
            body["value"] = value
        return self.raw(json.dumps(body).encode())

    def close(self) -> None:
        self.file.close()
        self.sock.close()


@contextmanager
def client(path: Path, timeout: float = 60) -> Iterator[Client]:
    """A client, once the daemon's socket accepts connections (waited for, bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            c = Client(path)
            break
        except OSError:
            assert time.monotonic() < deadline, f"no control socket at {path}"
            time.sleep(0.1)
    try:
        yield c
    finally:
        c.close()


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a real scrape, by (name, sorted labels)."""
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.status == 200
        text = resp.read().decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    """One sample's value, 0 when it is absent (a labelled counter not yet touched)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def wait_until(predicate: Any, timeout: float = 30, what: str = "condition") -> None:
    """Poll ``predicate`` (a socket request, a file) until it holds; bounded."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def events_after(daemon: Daemon, index: int) -> list[dict[str, Any]]:
    with daemon.cond:
        return list(daemon.events[index:])
