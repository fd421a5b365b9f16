"""The event log: one line per event on stdout, text or JSON, secrets scrubbed."""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from typing import Any, Protocol, TextIO

from agent.common.redact import REDACTOR, Redactor

# Kept under its historical name: users filter the journal by it.
_event_log = logging.getLogger("agent.events")


class EventEmitter(Protocol):
    """Anything with ``emit(event, **fields)``: an :class:`EventSink` or a wrapper of one."""

    def emit(self, event: str, **fields: Any) -> None:
        """Write one event."""
        ...


def event_record(
    event: str, fields: dict[str, Any], redactor: Redactor = REDACTOR
) -> dict[str, Any]:
    """The JSON event log's object for one event: ``event``, ``ts``, then the scrubbed fields.

    One function, so the log and the hook command (``hooks.command``) get the same objects.
    """
    fields = {k: v for k, v in fields.items() if k != "ts"}
    return {"event": event, "ts": round(time.time(), 6), **redactor.scrub_value(fields)}


def json_line(record: dict[str, Any]) -> str:
    """One record as a compact JSON line (no newline)."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


class EventSink:
    """Where the daemon's events go.

    ``format="json"``: one JSON object per line on ``stream`` (default: the
    current ``sys.stdout``), with ``"event"`` and ``"ts"`` first, then the
    fields. ``format="text"``: an INFO log line ``event key=value ...`` (DEBUG for
    the ``quiet`` events).
    Every field is scrubbed by the redactor. Thread-safe.
    """

    def __init__(
        self,
        format: str = "text",  # noqa: A002 - the config key's name
        *,
        stream: TextIO | None = None,
        redactor: Redactor = REDACTOR,
        logger: logging.Logger = _event_log,
        quiet: frozenset[str] = frozenset(),
    ) -> None:
        if format not in ("text", "json"):
            raise ValueError(f"unknown event format {format!r}; expected text or json")
        self.format = format
        self.redactor = redactor
        self._stream = stream
        self._logger = logger
        # Text form: events the person already sees another way (the daemon's
        # printed "you said" / "assistant" lines) go to DEBUG, so each fact is
        # said once at INFO. The JSON form always carries every event.
        self.quiet = quiet
        self._lock = threading.Lock()

    def emit(self, event: str, **fields: Any) -> None:
        """Write one event; ``ts`` is set here (a ``ts`` field is ignored)."""
        if self.format == "json":
            line = json_line(event_record(event, fields, self.redactor))
            with self._lock:
                stream = self._stream if self._stream is not None else sys.stdout
                try:
                    stream.write(line + "\n")
                    stream.flush()
                except (OSError, ValueError):  # stdout closed (a pipe reader gone)
                    pass
        else:
            fields.pop("ts", None)
            clean = self.redactor.scrub_value(fields)
            text = " ".join(
                f"{key}={json.dumps(value, ensure_ascii=False)}" for key, value in clean.items()
            )
            level = logging.DEBUG if event in self.quiet else logging.INFO
            if text:
                self._logger.log(level, "%s %s", event, text)
            else:
                self._logger.log(level, "%s", event)
