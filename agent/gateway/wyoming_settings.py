"""Settings of the Wyoming speech servers: ``stt.wyoming`` and ``tts.wyoming``.

The key names are a contract (``config/gateway.yaml``, issue 23). A server's
address is a ``tcp://HOST:PORT`` or ``unix:///path`` URI, as the servers
themselves take it (``wyoming-piper --uri tcp://0.0.0.0:10200``). Wyoming
carries no credentials, so any host is accepted (the servers live on the
home network: a Pi 5 or a home server).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from agent.common.settings_reader import Reader, field_names

TTS_ENGINES = ("espeak", "wyoming")
"""The values of ``tts.engine``."""
NAME_MAX = 200
"""A model, voice or speaker name longer than this is a mistake, not a name."""


@dataclass(frozen=True)
class WyomingSttSettings:
    """A Wyoming speech-to-text server (``wyoming-faster-whisper`` and others)."""

    uri: str = "tcp://localhost:10300"
    """``tcp://HOST:PORT`` or ``unix:///path``."""
    model: str | None = None
    """The model to ask for (``transcribe``'s ``name``); null: the server's default."""
    language: str | None = "en"
    """The spoken language (``transcribe``'s ``language``); null: the server's default."""
    timeout_s: float = 15.0
    """After ``audio-stop``: how long the transcript may take."""


@dataclass(frozen=True)
class WyomingTtsSettings:
    """A Wyoming text-to-speech server (``wyoming-piper`` and others)."""

    uri: str = "tcp://localhost:10200"
    """``tcp://HOST:PORT`` or ``unix:///path``."""
    voice: str | None = None
    """The voice's name (``en_US-lessac-medium``); null: the server's default."""
    speaker: str | None = None
    """A speaker of a multi-speaker voice; null: the voice's default."""
    timeout_s: float = 10.0
    """How long the server may take to answer (connect, and between audio events)."""


WYOMING_STT_KEYS = field_names(WyomingSttSettings)
WYOMING_TTS_KEYS = field_names(WyomingTtsSettings)


def check_uri(value: str) -> str | None:
    """The problem with a Wyoming URI, or None when it is one the library can open."""
    parts = urlsplit(value)
    if parts.scheme == "tcp":
        try:
            port = parts.port
        except ValueError:
            return f"expected tcp://HOST:PORT with a port number, got {value!r}"
        if not parts.hostname or port is None:
            return f"expected tcp://HOST:PORT, got {value!r}"
        if parts.path not in ("", "/") or parts.query or parts.username:
            return f"expected tcp://HOST:PORT and nothing more, got {value!r}"
        return None
    if parts.scheme == "unix":
        if not parts.path.startswith("/") or parts.netloc:
            return f"expected unix:///absolute/path, got {value!r}"
        return None
    return f"expected tcp://HOST:PORT or unix:///path, got {value!r}"


def _uri(r: Reader, default: str) -> str:
    value = r.string("uri", default)
    assert value is not None
    problem = check_uri(value)
    if problem:
        r.fail("uri", problem)
    return value


def _name(r: Reader, key: str, default: str | None) -> str | None:
    value = r.string(key, default)
    if value is not None and (not value.strip() or len(value) > NAME_MAX):
        r.fail(key, f"expected a name (1-{NAME_MAX} characters) or null, got {value!r}")
    return value


def _timeout(r: Reader, default: float) -> float:
    value = r.number("timeout_s", default, lo=0.1, hi=600, what="a duration in seconds")
    assert value is not None
    return value


def parse_stt_wyoming(r: Reader) -> WyomingSttSettings:
    """``stt.wyoming``."""
    d = WyomingSttSettings()
    return WyomingSttSettings(
        uri=_uri(r, d.uri),
        model=_name(r, "model", d.model),
        language=_name(r, "language", d.language),
        timeout_s=_timeout(r, d.timeout_s),
    )


def parse_tts_wyoming(r: Reader) -> WyomingTtsSettings:
    """``tts.wyoming``."""
    d = WyomingTtsSettings()
    return WyomingTtsSettings(
        uri=_uri(r, d.uri),
        voice=_name(r, "voice", d.voice),
        speaker=_name(r, "speaker", d.speaker),
        timeout_s=_timeout(r, d.timeout_s),
    )
