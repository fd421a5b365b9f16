"""One transaction of a connection: its state, and its ear on the speech-to-text stream."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agent.gateway.dialog.backend import Utterance
from agent.gateway.records import TransactionRecord
from agent.gateway.stt.stream import Final, SttStream


@dataclass
class Transaction:
    """``audio_start`` ... its end: the audio, the stream, what was heard and answered."""

    id: str
    options: dict[str, Any] | None
    last_audio: float
    stream: SttStream | None = None
    audio: bytearray = field(default_factory=bytearray)
    end_reason: str | None = None  # the utterance has ended (no more audio to the engine)
    endpoint_sample: int | None = None
    closed: bool = False  # no more audio will come (audio_end, timeout ...)
    discarded: bool = False  # replaced, timed out or gone: its transcript is not wanted
    task: asyncio.Task[None] | None = None
    transcript: str | None = None
    confidence: float | None = None
    source: str | None = None
    engine: str | None = None
    skill: str | None = None
    published: bool = False
    utterance: Utterance | None = None  # the hearing agent's side of it (Diatheke), if any
    wake_word: str | None = None  # the wake word that opened it (audio_start options)
    device_reason: str | None = None  # audio_end's reason: no_speech = no answer wanted

    @property
    def finished(self) -> bool:
        """Closed, its work done, and the engine's answer taken (or not wanted)."""
        if not self.closed or (self.task is not None and not self.task.done()):
            return False
        # With no task yet, an engine still answering holds the record back.
        return self.task is not None or self.discarded or self.stream is None

    def record(self, connection: int) -> TransactionRecord:
        """What this transaction received and answered, for the recorder."""
        return TransactionRecord(
            connection=connection,
            id=self.id,
            audio=bytes(self.audio),
            end_reason=self.end_reason or "closed",
            endpoint_sample=self.endpoint_sample,
            transcript=self.transcript,
            confidence=self.confidence,
            source=self.source,
            engine=self.engine,
            skill=self.skill,
            options=self.options,
        )


class TransactionListener:
    """A transaction's :class:`~agent.gateway.stt.stream.SttListener`: engine callbacks
    passed on with the transaction they belong to."""

    def __init__(
        self,
        tx: Transaction,
        on_final: Callable[[Transaction, Final], None],
        on_failed: Callable[[Transaction, str], None],
    ) -> None:
        self._tx, self._on_final, self._on_failed = tx, on_final, on_failed

    def partial(self, text: str) -> None:
        """Partials are logged by the stream (debug); the device only gets the final."""

    def final(self, result: Final) -> None:
        """The utterance's transcript."""
        self._on_final(self._tx, result)

    def failed(self, message: str) -> None:
        """The engine failed for this utterance."""
        self._on_failed(self._tx, message)
