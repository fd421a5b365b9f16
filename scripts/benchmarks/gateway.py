"""The reference gateway (``agent.gateway``) in this process, with receive times.

It is the gateway ``voice-agent gateway`` runs, started as
:func:`agent.gateway.in_thread.serve_in_thread` starts it, with one addition:
its :class:`~agent.gateway.records.Recorder` also notes ``time.monotonic()``
when it is handed each decoded client message (the first ``audio_data`` and
the ``audio_end`` of every transaction). The audio compared with the source
file is the gateway's own :class:`~agent.gateway.records.TransactionRecord`.
"""

from __future__ import annotations

import time
from typing import Any

from agent.gateway.in_thread import RunningGateway
from agent.gateway.records import ConnectionRecord, Recorder
from agent.gateway.server import Gateway
from agent.gateway.settings import GatewaySettings, ReplySettings
from agent.link import protocol
from benchmarks.soak import Received


class TimedRecorder(Recorder):
    """A Recorder that also keeps when each transaction's audio began and ended."""

    def __init__(self, keep: int) -> None:
        super().__init__(keep=keep, messages_per_connection=64)
        self.first_audio: dict[str, float] = {}
        self.audio_end: dict[str, float] = {}

    def received(self, rec: ConnectionRecord, message: Any) -> None:
        """Note the time, then record as usual (on the gateway's event loop)."""
        now = time.monotonic()
        if isinstance(message, protocol.AudioData):
            self.first_audio.setdefault(message.id, now)
        elif isinstance(message, protocol.AudioEnd):
            self.audio_end.setdefault(message.id, now)
        super().received(rec, message)


class BenchGateway:
    """A running reference gateway on 127.0.0.1 (a free port)."""

    def __init__(self, keep: int = 5000) -> None:
        self.recorder = TimedRecorder(keep)
        # Unpaced: the soak's input is not paced either (see bench.py's notes, 4a-5c).
        settings = GatewaySettings(port=0, log_level="warning", reply=ReplySettings(pace=0))
        self._running = RunningGateway(Gateway(settings, recorder=self.recorder), self.recorder)
        self._running.start()

    @property
    def url(self) -> str:
        """Where the daemon connects."""
        return self._running.url

    def transactions(self, expected: int, timeout: float = 30.0) -> list[Received]:
        """The finished transactions (waiting up to ``timeout`` for ``expected`` of them)."""
        try:
            records = self.recorder.wait_for(expected, timeout)
        except TimeoutError:
            records = self.recorder.transactions
        return [
            Received(
                r.id,
                r.audio,
                self.recorder.first_audio.get(r.id),
                self.recorder.audio_end.get(r.id),
                r.end_reason,
            )
            for r in records
        ]

    def stop(self) -> None:
        """Close the connections and stop the gateway and its workers."""
        self._running.stop()


def start_gateway() -> BenchGateway:
    """Start the reference gateway."""
    return BenchGateway()
