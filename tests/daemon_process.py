"""``voice-agent run`` as a real subprocess for end-to-end tests: its config, its
events (JSON lines on stdout), a real NOTIFY_SOCKET; no daemon outlives pytest."""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]


def die_with_parent() -> None:
    """In the child: get SIGTERM if pytest itself dies, so no daemon is left running."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Notifications:
    """A real NOTIFY_SOCKET that collects what the daemon sends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.messages: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except TimeoutError:
                continue
            except OSError:
                return

    def lines(self) -> list[str]:
        return [line for m in list(self.messages) for line in m.splitlines()]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


class Daemon:
    """The subprocess, with its stdout events read in a thread."""

    def __init__(
        self, config: Path, env: dict[str, str], prefix: Sequence[str] = ()
    ) -> None:
        # stderr (the log) goes to a file: an unread pipe would fill and block it.
        self.stderr = open(config.with_suffix(".stderr"), "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [*prefix, sys.executable, "-m", "agent.cli", "run", "--config", str(config)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
            preexec_fn=die_with_parent,
        )
        self.events: list[dict[str, Any]] = []
        self.cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            with self.cond:
                self.events.append(obj)
                self.cond.notify_all()

    def wait_event(self, name: str, timeout: float = 30, **match: Any) -> dict[str, Any]:
        def find() -> dict[str, Any] | None:
            for e in self.events:
                if e.get("event") == name and all(e.get(k) == v for k, v in match.items()):
                    return e
            return None

        with self.cond:
            assert self.cond.wait_for(lambda: find() is not None, timeout), (
                f"no {name} event; got {[e.get('event') for e in self.events]}"
            )
            found = find()
            assert found is not None
            return found

    def of(self, name: str) -> list[dict[str, Any]]:
        """Every ``name`` event so far."""
        with self.cond:
            return [e for e in self.events if e.get("event") == name]

    def wait_count(self, name: str, n: int, timeout: float = 30, **match: Any) -> list[Any]:
        """Wait for the ``n``-th ``name`` event matching ``match``; all of them so far."""

        def found() -> list[dict[str, Any]]:
            return [
                e for e in self.events
                if e.get("event") == name and all(e.get(k) == v for k, v in match.items())
            ]

        with self.cond:
            assert self.cond.wait_for(lambda: len(found()) >= n, timeout), (
                f"fewer than {n} {name} events; got {[e.get('event') for e in self.events]}"
            )
            return found()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()  # a hung daemon must not outlive the test
            self.proc.wait(10)
            raise
        self._reader.join(5)
        self.stderr.close()
        return rc


def write_config(path: Path, url: str, audio: Path, out: Path, **extra: Any) -> Path:
    data: dict[str, Any] = {
        "gateway": {"url": url},
        "audio": {
            "input": {"file": str(audio), "realtime": True},
            "output": {"file": str(out), "realtime": True},
        },
        "wake": {"models": ["hey_jarvis"]},
        "sounds": {"wake": None, "done": None, "error": None},
        "log": {"format": "json"},
    }
    data.update(extra)
    path.write_text(yaml.safe_dump(data))
    return path


def env_with(notify: Notifications, **extra: str) -> dict[str, str]:
    env = dict(os.environ, NOTIFY_SOCKET=str(notify.path), PYTHONUNBUFFERED="1", **extra)
    env.pop("WATCHDOG_PID", None)
    return env
