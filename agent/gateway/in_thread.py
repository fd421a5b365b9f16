"""The reference gateway in a thread of this process: for tests, the demo and the benchmarks.

:func:`serve_in_thread` starts a :class:`~agent.gateway.server.Gateway` on its own event
loop and returns once it listens; :class:`RunningGateway` reads what it recorded and stops it.
Code that calls it needs an ``if __name__ == "__main__":`` guard (the speech-to-text
workers are spawned processes).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from agent.gateway.dialog.skills import Skills
from agent.gateway.records import ConnectionRecord, Recorder, TransactionRecord
from agent.gateway.server import Gateway
from agent.gateway.settings import GatewaySettings
from agent.gateway.timers.store import Timer

log = logging.getLogger(__name__)


class RunningGateway:
    """A gateway serving on its own thread (see :func:`serve_in_thread`)."""

    def __init__(self, gateway: Gateway, recorder: Recorder) -> None:
        self.gateway = gateway
        self.recorder = recorder
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="voice-agent-gateway", daemon=True)

    @property
    def url(self) -> str:
        """``ws://HOST:PORT/`` (``wss`` with TLS)."""
        scheme = "wss" if self.gateway.settings.tls.enabled else "ws"
        host = self.gateway.settings.host
        return f"{scheme}://{'[' + host + ']' if ':' in host else host}:{self.port}/"

    def timers(self) -> list[Timer]:
        """Every timer the gateway holds, with its own recorded times (oldest first)."""
        return self.gateway.timers.store.all()

    @property
    def transactions(self) -> list[TransactionRecord]:
        """Finished transactions, oldest first (the newest ``keep``)."""
        return self.recorder.transactions

    @property
    def connections(self) -> list[ConnectionRecord]:
        """Connections with the messages received and sent, oldest first."""
        return self.recorder.connections

    def wait_for_transactions(self, count: int, timeout: float = 60.0) -> list[TransactionRecord]:
        """Block until ``count`` transactions have finished since the start."""
        return self.recorder.wait_for(count, timeout)

    def transaction(self, tid: str, timeout: float = 60.0) -> TransactionRecord:
        """The finished transaction ``tid``, waiting for it to finish."""
        return self.recorder.wait_for_id(tid, timeout)

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._stop = asyncio.Event()

            def ready(port: int) -> None:
                self.port = port
                self._ready.set()

            loop.run_until_complete(self.gateway.run(self._stop, ready))
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
            self._ready.set()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def start(self, timeout: float = 120.0) -> RunningGateway:
        """Start serving; returns once listening (raises what stopped it)."""
        self._thread.start()
        if not self._ready.wait(timeout):
            self.stop()
            raise TimeoutError("the gateway did not start in time")
        if self._error is not None:
            self._thread.join(10)
            raise RuntimeError(f"the gateway failed to start: {self._error!r}") from self._error
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Close every connection, stop the workers and the thread."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stop.set)
            except RuntimeError:
                pass  # the loop already finished
        if self._thread.is_alive():
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise TimeoutError("the gateway thread did not stop")

    def __enter__(self) -> RunningGateway:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def serve_in_thread(
    settings: GatewaySettings | None = None,
    *,
    skills: Skills | None = None,
    keep: int = 50,
) -> RunningGateway:
    """Run a gateway in this process on a thread (default: loopback, a free port).

    ``keep``: how many finished transactions and connections to remember in
    :attr:`RunningGateway.transactions` / :attr:`RunningGateway.connections`.
    Stop it with :meth:`RunningGateway.stop` (or use it as a context manager).
    """
    settings = settings or GatewaySettings(port=0)
    recorder = Recorder(keep=keep)
    return RunningGateway(Gateway(settings, skills=skills, recorder=recorder), recorder).start()
