"""Settings of the cloud speech engines (``stt.assemblyai``, ``stt.aiola``) and their keys.

The key names are a contract (``config/gateway.yaml``). An API key comes from
``api_key_file`` or, when that is null, from ``ASSEMBLYAI_API_KEY`` /
``AIOLA_API_KEY``; it is read once at start, given to the process-wide
redactor, and never printed. A plain ``ws://``/``http://`` URL is refused
unless its host is a loopback address (the tests' stand-ins): a key never
travels in the clear.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from agent.common.redact import REDACTOR
from agent.common.settings_reader import Reader, field_names
from agent.common.settings_values import ConfigError, is_loopback

ENV_KEYS = {"assemblyai": "ASSEMBLYAI_API_KEY", "aiola": "AIOLA_API_KEY"}
"""The environment variable that holds each engine's key when ``api_key_file`` is null."""


@dataclass(frozen=True)
class AssemblyAISettings:
    """AssemblyAI Streaming Speech-to-Text v3."""

    url: str = "wss://streaming.assemblyai.com/v3/ws"
    """The service's WebSocket (``wss://streaming.eu.assemblyai.com/v3/ws`` in the EU)."""
    api_key_file: str | None = None
    """A file holding the API key; null: ``ASSEMBLYAI_API_KEY``."""
    speech_model: str = "universal-streaming-english"
    """Required by the service: ``universal-streaming-english``, ``...-multilingual``,
    ``u3-rt-pro`` ..."""
    format_turns: bool = True
    """Use the punctuated, cased final turn (it comes a little after the raw one)."""
    keyterms: bool = True
    """Send the skills' phrases as ``keyterms_prompt``."""
    end_of_turn_confidence_threshold: float | None = None
    """0..1; null: the service's default (0.4)."""
    min_turn_silence_ms: int | None = None
    """Silence that ends a turn when the model is confident; null: the service's (400)."""
    max_turn_silence_ms: int | None = None
    """Silence that ends a turn whatever the confidence; null: the service's (1280)."""


@dataclass(frozen=True)
class AiolaSettings:
    """aiOla streaming speech to text (Socket.IO)."""

    base_url: str = "https://apis.aiola.ai"
    """The streaming service."""
    auth_url: str = "https://auth.aiola.ai"
    """Where the API key is exchanged for a session jwt."""
    api_key_file: str | None = None
    """A file holding the API key; null: ``AIOLA_API_KEY``."""
    workflow_id: str | None = None
    """null: the service's default flow."""
    lang_code: str = "en"
    """en, de, fr, es, pr, zh, ja, it."""


ASSEMBLYAI_KEYS = field_names(AssemblyAISettings)
AIOLA_KEYS = field_names(AiolaSettings)
AIOLA_LANGS = ("en", "de", "fr", "es", "pr", "zh", "ja", "it")
DEFAULT_WORKFLOW_ID = "2c78fcf1-9265-408f-b8c3-d9d7e7ebc1bc"
"""The flow aiOla's own SDK (0.4.0) uses when none is given."""


def _url(r: Reader, name: str, default: str, secure: str, plain: str) -> str:
    value = r.string(name, default)
    assert value is not None
    parts = urlsplit(value)
    if parts.scheme not in (secure, plain) or not parts.hostname:
        r.fail(name, f"expected a {secure}:// URL, got {value!r}")
    if parts.username or parts.password:
        r.fail(name, "expected a URL without credentials (the key goes in api_key_file)")
    if parts.scheme == plain and not is_loopback(parts.hostname):
        r.fail(name, f"{plain}:// only to a loopback host; use {secure}://")
    return value


def parse_assemblyai(r: Reader) -> AssemblyAISettings:
    """``stt.assemblyai``."""
    d = AssemblyAISettings()
    model = r.string("speech_model", d.speech_model)
    assert model is not None
    threshold = r.number("end_of_turn_confidence_threshold", None, lo=0, hi=1, optional=True)
    return AssemblyAISettings(
        url=_url(r, "url", d.url, "wss", "ws"),
        api_key_file=r.path("api_key_file", must_exist=True),
        speech_model=model,
        format_turns=r.boolean("format_turns", d.format_turns),
        keyterms=r.boolean("keyterms", d.keyterms),
        end_of_turn_confidence_threshold=threshold,
        min_turn_silence_ms=r.integer("min_turn_silence_ms", None, lo=0, hi=10_000, optional=True),
        max_turn_silence_ms=r.integer("max_turn_silence_ms", None, lo=0, hi=60_000, optional=True),
    )


def parse_aiola(r: Reader) -> AiolaSettings:
    """``stt.aiola``."""
    d = AiolaSettings()
    return AiolaSettings(
        base_url=_url(r, "base_url", d.base_url, "https", "http"),
        auth_url=_url(r, "auth_url", d.auth_url, "https", "http"),
        api_key_file=r.path("api_key_file", must_exist=True),
        workflow_id=r.string("workflow_id", None),
        lang_code=r.choice("lang_code", d.lang_code, AIOLA_LANGS),
    )


def read_api_key(engine: str, key_file: str | None, source: str, *, required: bool) -> str | None:
    """The engine's API key (file first, then the environment), added to the redactor.

    Raises :class:`ConfigError` naming ``stt.ENGINE.api_key_file`` when the file
    cannot be read, or when ``required`` and there is no key at all.
    """
    key_name = f"stt.{engine}.api_key_file"
    env = ENV_KEYS[engine]
    key: str | None
    if key_file is not None:
        try:
            key = Path(key_file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            problem = exc.__class__.__name__
            raise ConfigError(source, key_name, f"cannot read {key_file}: {problem}") from None
        if not key:
            raise ConfigError(source, key_name, f"{key_file} holds no key")
    else:
        key = (os.environ.get(env) or "").strip() or None
    if key is None and required:
        raise ConfigError(
            source, key_name, f"stt.engine is {engine} but it has no API key: "
            f"set stt.{engine}.api_key_file to a file holding it, or {env}"
        )
    REDACTOR.add(key)
    return key
