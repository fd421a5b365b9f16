"""Logging set-up: level, text or JSON lines on stderr, every record scrubbed of secrets."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any, TextIO

from agent.common.redact import REDACTOR, Redactor

# --------------------------------------------------------------------------
# Logging configuration

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
          "error": logging.ERROR}


class JsonLogFormatter(logging.Formatter):
    """One JSON object per log record: ``ts``, ``level``, ``logger``, ``message``."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            out["exc"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


class _OurHandler(logging.StreamHandler):
    """Marks the handler we installed, so a reconfiguration replaces it."""


def configure_logging(
    level: str | int = "info",
    format: str = "text",  # noqa: A002 - the config key's name
    *,
    stream: TextIO | None = None,
    redactor: Redactor = REDACTOR,
) -> None:
    """Send log records to stderr (or ``stream``) at ``level``, as text or JSON.

    Safe to call again (on a config reload): the handler installed before is
    replaced. Installs the redaction of log records.
    """
    redactor.install()
    numeric = level if isinstance(level, int) else LEVELS.get(str(level).lower())
    if numeric is None:
        raise ValueError(f"unknown log level {level!r}; expected one of {', '.join(LEVELS)}")
    if format not in ("text", "json"):
        raise ValueError(f"unknown log format {format!r}; expected text or json")
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _OurHandler):
            root.removeHandler(handler)
    handler = _OurHandler(stream if stream is not None else sys.stderr)
    if format == "json":
        handler.setFormatter(JsonLogFormatter())
    else:
        # No timestamp: journald (or the terminal's scrollback) has one.
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(numeric)
