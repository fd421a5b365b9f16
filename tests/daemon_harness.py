"""Runs the real daemon in a thread for end-to-end tests, and records its events."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from agent.config.load import parse_config
from agent.device.daemon import Daemon


class Events:
    """An event sink that keeps every event and lets a test wait for one."""

    def __init__(self) -> None:
        self.items: list[tuple[str, dict[str, Any]]] = []
        self._cond = threading.Condition()

    def emit(self, event: str, **fields: Any) -> None:
        with self._cond:
            self.items.append((event, fields))
            self._cond.notify_all()

    def names(self) -> list[str]:
        with self._cond:
            return [e for e, _ in self.items]

    def of(self, name: str) -> list[dict[str, Any]]:
        with self._cond:
            return [f for e, f in self.items if e == name]

    def states(self) -> list[str]:
        return [f["to"] for f in self.of("state")]

    def wait(self, predicate: Callable[[Events], bool], timeout: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.2))
        return True

    def wait_count(self, name: str, n: int = 1, timeout: float = 60.0, **match: Any) -> bool:
        def ok(ev: Events) -> bool:
            found = [f for f in ev.of(name) if all(f.get(k) == v for k, v in match.items())]
            return len(found) >= n

        return self.wait(ok, timeout)


def settings_for(url: str, audio_file: str, out: str, **overrides: Any) -> Any:
    """Test settings: file input paced in real time, a file sink, quiet sounds."""
    data: dict[str, Any] = {
        "gateway": {"url": url, "reconnect": {"initial_s": 0.1, "max_s": 0.5}},
        "audio": {
            "input": {"file": audio_file, "realtime": True},
            "output": {"file": out, "realtime": True},
        },
        "wake": {"models": ["hey_jarvis"]},
        "sounds": {"wake": None, "done": None, "error": None},
        "listen": {"response_timeout_s": 5, "followup_timeout_s": 4},
    }
    for key, value in overrides.items():
        section, _, name = key.partition("__")
        if name:
            data.setdefault(section, {})[name] = value
        else:
            data[section] = value
    return parse_config(data, "test")


@contextmanager
def running(settings: Any) -> Iterator[tuple[Daemon, Events]]:
    """The daemon running in a thread; stopped and joined on exit."""
    events = Events()
    daemon = Daemon(settings, events=events)
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(daemon.run()), daemon=True)
    thread.start()
    try:
        yield daemon, events
    finally:
        daemon.stop()
        thread.join(15)
        assert not thread.is_alive(), "the daemon did not stop"
        assert result == [0]
