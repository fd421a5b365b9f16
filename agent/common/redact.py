"""Event and log output, with a guard that keeps secrets out of both.

* :func:`configure_logging` sends log lines to stderr (journald takes them
  from there under systemd), as text or as one JSON object per line.
* :class:`EventSink` writes the daemon's events (``connected``, ``wake``,
  ``transcript`` ...; see ``docs/config.md`` "Events"): with ``format: json``
  one JSON object per line on stdout with ``"event"`` and ``"ts"`` (Unix
  seconds); with ``format: text`` a readable line through logging.
* :class:`Redactor` holds the secrets the process knows (tokens, API keys,
  the contents of token files, IAM access tokens as they are fetched) and
  scrubs them from every event field and every log record. It also masks
  ``Authorization`` header values, ``token=``/``apikey=`` query values and
  ``"access_token": "..."`` JSON values it has never been told about.

Why a log *record factory* and not a ``logging.Filter`` on the root logger: a
filter attached to a logger only sees records logged through that very
logger, not records that propagate up from ``websocket``, ``urllib3`` and
friends; and a filter on handlers misses handlers added later (pytest's
caplog, ``websocket.enableTrace``). A record factory runs once for every
record of every logger, before any handler sees it.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
import threading
import weakref
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "***"
"""What a secret is replaced with."""

MIN_SECRET_LENGTH = 4
"""Shorter strings are not scrubbed literally (masking every 'a' would wreck
the logs); the generic header/query patterns still apply to them."""

# Header and query names whose values are secret whatever their content.
SECRET_NAME = (
    r"(?:access_token|refresh_token|id_token|token|api[_-]?key|apikey|password|passwd|secret)"
)


def is_secret_name(name: str) -> bool:
    """Whether a header or query parameter called ``name`` carries a secret."""
    return bool(re.fullmatch(SECRET_NAME + r"|(?:proxy-)?authorization|x-api-key", name, re.I))


def _mask_authorization(match: re.Match[str]) -> str:
    scheme = match.group(2)
    return f"{match.group(1)}{scheme} {MASK}" if scheme else f"{match.group(1)}{MASK}"


_PATTERNS: tuple[tuple[re.Pattern[str], Any], ...] = (
    # Authorization: Bearer abc / Authorization: abc / 'Authorization': 'Bearer abc'
    (
        re.compile(
            r"""(?i)(\b(?:proxy-)?authorization["']?\s*[:=]\s*["']?)"""
            r"""(?:(bearer|basic|token|digest)\s+)?[^\s"',;}\]]+"""
        ),
        _mask_authorization,
    ),
    # ?token=abc&apikey=def&x-aiola-api-token=ghi (query strings and form bodies)
    (
        re.compile(r"(?i)([?&;\s]|^)((?:[\w-]*[-_])?" + SECRET_NAME + r"|jwt)=([^&\s\"'#;]+)"),
        r"\1\2=" + MASK,
    ),
    # A JSON Web Token anywhere (aiOla's session jwt, in a URL or a message)
    (re.compile(r"\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*"), MASK),
    # "access_token": "abc" (JSON bodies, dict reprs)
    (
        re.compile(r"""(?i)(["']""" + SECRET_NAME + r"""["']\s*:\s*["'])[^"']*"""),
        r"\1" + MASK,
    ),
)


class Redactor:
    """The set of known secrets, and the scrubbing of text and values.

    Thread-safe: secrets are added from the connection thread (a rotated token
    file, a fresh IAM token) while other threads log.
    """

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._regex: re.Pattern[str] | None = None
        self.add(*secrets)

    def add(self, *secrets: str | None) -> None:
        """Remember secrets (``None`` and empty strings are ignored).

        The URL-quoted forms are remembered too, since a token can travel in
        a query string.
        """
        from urllib.parse import quote, quote_plus

        new: set[str] = set()
        for secret in secrets:
            if not secret:
                continue
            for form in (secret, secret.strip(), quote(secret, safe=""), quote_plus(secret)):
                if len(form) >= MIN_SECRET_LENGTH:
                    new.add(form)
        with self._lock:
            if new - self._secrets:
                self._secrets |= new
                # Longest first, so a secret containing another is masked whole.
                ordered = sorted(self._secrets, key=len, reverse=True)
                self._regex = re.compile("|".join(re.escape(s) for s in ordered))

    def scrub(self, text: str) -> str:
        """``text`` with every known secret and every secret-looking value masked."""
        regex = self._regex
        if regex is not None:
            text = regex.sub(MASK, text)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def scrub_value(self, value: Any) -> Any:
        """A JSON-ready copy of ``value`` with every string scrubbed.

        Dataclasses become dicts, bytes become a length note, non-finite
        floats become ``None`` (JSON has no NaN); anything else unknown is
        turned into its (scrubbed) ``str``.
        """
        if value is None or isinstance(value, bool | int):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else None
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, bytes | bytearray):
            return f"<{len(value)} bytes>"
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return self.scrub_value(dataclasses.asdict(value))
        if isinstance(value, Mapping):
            return {self.scrub(str(k)): self.scrub_value(v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self.scrub_value(v) for v in value]
        return self.scrub(str(value))

    def install(self) -> None:
        """Scrub every log record of this process with this redactor (idempotent)."""
        _install_record_factory()
        _INSTALLED.add(self)


# --------------------------------------------------------------------------
# Log record scrubbing

_INSTALLED: weakref.WeakSet[Redactor] = weakref.WeakSet()
_factory_lock = threading.Lock()
_factory_installed = False


def _scrub_all(text: str) -> str:
    for redactor in list(_INSTALLED):
        text = redactor.scrub(text)
    return text


def _scrub_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: logging reports it later, as usual
        return
    scrubbed = _scrub_all(message)
    if scrubbed != message:
        record.msg, record.args = scrubbed, None
    if record.exc_info and not record.exc_text:
        # Formatters reuse exc_text when it is set, so the traceback they
        # print is the scrubbed one.
        record.exc_text = _scrub_all(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = _scrub_all(record.stack_info)


def _install_record_factory() -> None:
    global _factory_installed
    with _factory_lock:
        if _factory_installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            _scrub_record(record)
            return record

        logging.setLogRecordFactory(factory)
        _factory_installed = True


class HandshakeHeaderFilter(logging.Filter):
    """Masks secret header values in ``websockets``' debug lines (``< Authorization: ...``).

    A second guard beside the record factory, attached to the library's
    loggers themselves: it holds at any level, also when nothing installed
    the factory (a gateway started in-process by other code).
    """

    _HEADER = re.compile(r"^([<>] )([\w-]+)(: )(.*)$", re.S)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string: logging reports it
            return True
        match = self._HEADER.match(message)
        if match and is_secret_name(match.group(2)):
            record.msg, record.args = "".join(match.group(1, 2, 3)) + MASK, None
        elif match or "token" in message.lower() or "authorization" in message.lower():
            scrubbed = _scrub_all(REDACTOR.scrub(message))
            if scrubbed != message:
                record.msg, record.args = scrubbed, None
        return True


WEBSOCKETS_LOGGERS = ("websockets", "websockets.server", "websockets.client")
_HEADER_FILTER = HandshakeHeaderFilter()


def guard_websockets_logs() -> None:
    """Attach :class:`HandshakeHeaderFilter` to the ``websockets`` loggers (idempotent)."""
    for name in WEBSOCKETS_LOGGERS:
        logger = logging.getLogger(name)
        if _HEADER_FILTER not in logger.filters:
            logger.addFilter(_HEADER_FILTER)


REDACTOR = Redactor()
"""The process-wide redactor: the connection and auth code add secrets here."""
