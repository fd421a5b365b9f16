"""What the gateway received and sent, kept for tests and benchmarks (bounded, thread-safe).

The daemon's tests compare the audio the gateway received with the source
audio sample for sample, so :class:`TransactionRecord.audio` is exactly the
concatenated ``audio_data`` payloads of one transaction (up to the
per-transaction cap). The server's event loop writes; any thread reads.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TransactionRecord:
    """One finished transaction (audio_start ... its end)."""

    connection: int
    """Number of the connection (1, 2, ... in accept order)."""
    id: str
    """The client's transaction id."""
    audio: bytes
    """Every audio byte received for it, in order (capped at ``limits.max_utterance_s``)."""
    end_reason: str
    """Who ended the utterance: ``client`` (audio_end), ``gateway`` (its endpointer),
    ``cap`` (audio limit), ``no_speech``, ``timeout``, ``replaced``, ``closed`` or
    ``error`` (the speech-to-text engine failed)."""
    endpoint_sample: int | None
    """Sample index where the utterance was ended (the end of the audio transcribed)."""
    transcript: str | None
    """What was recognised (None when nothing was)."""
    confidence: float | None = None
    source: str | None = None
    """Recogniser path: ``grammar``, ``lm`` or ``none``."""
    skill: str | None = None
    """The skill that answered."""
    engine: str | None = None
    """The speech-to-text engine that served it (pocketsphinx, assemblyai, aiola)."""
    options: dict[str, Any] | None = None
    """The ``options`` of its audio_start."""


@dataclass
class ConnectionRecord:
    """Messages of one connection, decoded (bounded to the newest ``limit`` each way)."""

    number: int
    received: deque[Any] = field(default_factory=deque)
    sent: deque[Any] = field(default_factory=deque)
    close_code: int | None = None
    user_agent: str | None = None
    """The handshake's ``User-Agent`` header (None when it sent none)."""
    reply_form: str | None = None
    """The reply form chosen at the handshake: ``standard`` or ``node``."""


class Recorder:
    """Keeps the newest ``keep`` transactions and connections."""

    def __init__(self, keep: int = 50, messages_per_connection: int = 2000) -> None:
        self._lock = threading.Condition()
        self._transactions: deque[TransactionRecord] = deque(maxlen=keep)
        self._connections: deque[ConnectionRecord] = deque(maxlen=keep)
        self._finished = 0
        self._per_connection = messages_per_connection

    def new_connection(self, number: int) -> ConnectionRecord:
        """Start recording connection ``number``."""
        rec = ConnectionRecord(
            number,
            deque(maxlen=self._per_connection),
            deque(maxlen=self._per_connection),
        )
        with self._lock:
            self._connections.append(rec)
        return rec

    def received(self, rec: ConnectionRecord, message: Any) -> None:
        """Note a decoded message from the client."""
        with self._lock:
            rec.received.append(message)

    def sent(self, rec: ConnectionRecord, message: Any) -> None:
        """Note a message sent to the client."""
        with self._lock:
            rec.sent.append(message)

    def closed(self, rec: ConnectionRecord, code: int | None) -> None:
        """Note how the connection ended."""
        with self._lock:
            rec.close_code = code
            self._lock.notify_all()

    def finished(self, record: TransactionRecord) -> None:
        """Add a finished transaction."""
        with self._lock:
            self._transactions.append(record)
            self._finished += 1
            self._lock.notify_all()

    @property
    def transactions(self) -> list[TransactionRecord]:
        """The newest finished transactions, oldest first (a copy)."""
        with self._lock:
            return list(self._transactions)

    @property
    def connections(self) -> list[ConnectionRecord]:
        """The newest connections, oldest first (copies of their message lists)."""
        with self._lock:
            return [
                dataclasses.replace(c, received=deque(c.received), sent=deque(c.sent))
                for c in self._connections
            ]

    @property
    def finished_count(self) -> int:
        """Transactions finished since the start (not bounded by ``keep``)."""
        with self._lock:
            return self._finished

    def wait_for_id(self, tid: str, timeout: float = 30.0) -> TransactionRecord:
        """Block until transaction ``tid`` has finished (the newest such); raises TimeoutError."""

        def find() -> TransactionRecord | None:
            return next((r for r in reversed(self._transactions) if r.id == tid), None)

        with self._lock:
            if not self._lock.wait_for(lambda: find() is not None, timeout):
                raise TimeoutError(f"transaction {tid!r} has not finished")
            found = find()
            assert found is not None
            return found

    def wait_for(self, count: int, timeout: float = 30.0) -> list[TransactionRecord]:
        """Block until ``count`` transactions have finished in total; raises TimeoutError."""
        with self._lock:
            if not self._lock.wait_for(lambda: self._finished >= count, timeout):
                raise TimeoutError(f"{self._finished} of {count} transactions finished")
            return list(self._transactions)
