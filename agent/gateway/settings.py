"""The reference gateway's own settings: a small YAML -> frozen dataclasses.

Annotated example: ``config/gateway.yaml``. Every key has a default, so no file at all
gives a loopback gateway on port 8765. Errors are one line naming the file and the dotted
key (:class:`~agent.common.settings_values.ConfigError`, exit status 78), through the same
strict readers as the agent's configuration.

Binding to anything but a loopback address needs TLS (``tls.cert`` and ``tls.key``) and a
bearer token (``auth.token`` or ``auth.token_file``): a gateway on the network never runs open.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from agent.common.settings_reader import Context, Reader, field_names
from agent.common.settings_values import ConfigError, is_loopback
from agent.common.settings_yaml import load_yaml_file
from agent.gateway.dialog_settings import KNOWN_KEYS as _DIALOG_KEYS
from agent.gateway.dialog_settings import DialogSettings, parse_dialog
from agent.gateway.stt.config import (
    AIOLA_KEYS,
    ASSEMBLYAI_KEYS,
    AiolaSettings,
    AssemblyAISettings,
    parse_aiola,
    parse_assemblyai,
)
from agent.gateway.wyoming_settings import (
    TTS_ENGINES,
    WYOMING_STT_KEYS,
    WYOMING_TTS_KEYS,
    WyomingSttSettings,
    WyomingTtsSettings,
    parse_stt_wyoming,
    parse_tts_wyoming,
)

__all__ = [
    "AuthSettings",
    "ConfigError",
    "DialogSettings",
    "EndpointingSettings",
    "GatewaySettings",
    "LimitSettings",
    "ReplySettings",
    "SttSettings",
    "TimerSettings",
    "TlsSettings",
    "TtsSettings",
    "is_loopback",
    "load_gateway_settings",
    "parse_gateway_settings",
    "read_token",
]

REPLY_FORMS = ("auto", "standard", "node")
"""The values of ``reply.form``."""

VOICE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_+.-]{0,63}$")
"""An espeak-ng voice name (``en-us``, ``en-gb+f3``): never an option, never a path."""


@dataclass(frozen=True)
class TlsSettings:
    """Serve ``wss://`` with this certificate chain and key (PEM files)."""

    cert: str | None = None
    """Certificate (chain) file; with ``key``, the gateway speaks TLS."""
    key: str | None = None
    """Private key file of ``cert``."""

    @property
    def enabled(self) -> bool:
        """True when both files are given."""
        return self.cert is not None and self.key is not None


@dataclass(frozen=True)
class AuthSettings:
    """The bearer token clients must present (``Authorization: Bearer T`` or ``?token=T``)."""

    token: str | None = field(default=None, repr=False)
    """The token itself (prefer ``token_file``)."""
    token_file: str | None = None
    """A file holding the token (surrounding whitespace ignored)."""

    @property
    def required(self) -> bool:
        """True when clients must present a token."""
        return self.token is not None or self.token_file is not None


@dataclass(frozen=True)
class SttSettings:
    """Speech to text."""

    engine: str = "pocketsphinx"
    """Engine used unless a client's ``stt_options.engine`` names another configured one
    (pocketsphinx always is; a cloud engine is when it has an API key)."""
    workers: int = 2
    """Worker processes for speech to text (each loads the decoder once)."""
    no_speech_s: float = 8.0
    """Audio seconds without any speech after which the gateway ends the utterance
    (a client's ``stt_options.inactivity_timeout`` overrides; -1 there = never)."""
    assemblyai: AssemblyAISettings = AssemblyAISettings()
    aiola: AiolaSettings = AiolaSettings()
    wyoming: WyomingSttSettings = WyomingSttSettings()
    """A Wyoming speech-to-text server (``stt.engine: wyoming``)."""


@dataclass(frozen=True)
class TtsSettings:
    """Text to speech: espeak-ng, or a Wyoming server with espeak-ng as its fallback."""

    engine: str = "espeak"
    """``espeak`` (built in) or ``wyoming`` (``tts.wyoming``; espeak-ng when it fails)."""
    voice: str = "en-us"
    """espeak-ng voice (a client's ``tts_options.voice`` overrides when it is a valid name)."""
    speed: int = 160
    """Words per minute (espeak-ng's)."""
    wyoming: WyomingTtsSettings = WyomingTtsSettings()
    """The Wyoming server of ``tts.engine: wyoming``."""


@dataclass(frozen=True)
class ReplySettings:
    """How spoken replies are sent."""

    form: Literal["auto", "standard", "node"] = "auto"
    """standard: base64 audio, ``prompt`` on ``text`` and ``audio_end``; node: audio
    as a Node ``Buffer`` object, ``prompt`` only on ``text``; auto: standard for this
    project's device (``User-Agent: voice-agent/VERSION``), node for every other
    client (IBM's plays only the Buffer form). See :mod:`agent.gateway.forms`."""
    chunk_ms: int = 100
    """Audio per ``audio_data`` message."""
    pace: float = 1.5
    """Reply audio is sent at this many times real time (0: all at once); the first
    chunk at once, and the rest at once on a new ``audio_start``. Node form: never
    more than ~1 s ahead of playback (:data:`agent.gateway.reply.LEGACY_LEAD_S`)."""
    legacy_tail_ms: int = 600
    """Silence ending every Node-form reply: what IBM's client cuts (0.34-0.5 s) is silence."""


@dataclass(frozen=True)
class EndpointingSettings:
    """The gateway's own end-of-speech detection (in audio time)."""

    enabled: bool = True
    """false: only the client's ``audio_end`` (or the limits) ends an utterance."""
    silence_ms: int = 700
    """Trailing silence after speech that ends an utterance."""


@dataclass(frozen=True)
class LimitSettings:
    """Bounds that keep one client from hurting the others."""

    max_connections: int = 64
    """More simultaneous clients are refused at the handshake (HTTP 503)."""
    max_message_bytes: int = 1_048_576
    """Larger frames close that connection (1009)."""
    max_utterance_s: float = 30.0
    """Audio kept per transaction; reaching it ends the utterance."""
    transaction_timeout_s: float = 10.0
    """An open transaction with no audio for this long is dropped with an error."""
    idle_timeout_s: float = 300.0
    """A connection with no message at all for this long is closed."""
    max_errors: int = 50
    """Protocol errors tolerated on one connection before it is closed (1008)."""


@dataclass(frozen=True)
class TimerSettings:
    """Timers that ring (:mod:`agent.gateway.timers.alarms`)."""

    max_ring_s: float = 900.0
    """A finished timer is still delivered to a device that comes back within this long."""


@dataclass(frozen=True)
class GatewaySettings:
    """Everything the reference gateway needs."""

    host: str = "127.0.0.1"
    """Address to bind; anything but loopback needs ``tls`` and ``auth``."""
    port: int = 8765
    """TCP port (0: any free port)."""
    tls: TlsSettings = TlsSettings()
    auth: AuthSettings = AuthSettings()
    stt: SttSettings = SttSettings()
    tts: TtsSettings = TtsSettings()
    reply: ReplySettings = ReplySettings()
    endpointing: EndpointingSettings = EndpointingSettings()
    limits: LimitSettings = LimitSettings()
    timers: TimerSettings = TimerSettings()
    state_dir: str | None = None
    """Where timers are kept (``timers.db``); None: ``$STATE_DIRECTORY`` (set by the
    systemd unit's ``StateDirectory=``), and without that in memory only."""
    dialog: DialogSettings = DialogSettings()
    """What answers: the built-in skills or a Diatheke server (:mod:`.dialog_settings`)."""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    """Logging threshold of ``voice-agent gateway``."""


_KNOWN = tuple(
    [*field_names(GatewaySettings)]
    + [
        f"{section}.{k}"
        for section, cls in (
            ("tls", TlsSettings),
            ("auth", AuthSettings),
            ("stt", SttSettings),
            ("tts", TtsSettings),
            ("reply", ReplySettings),
            ("endpointing", EndpointingSettings),
            ("limits", LimitSettings),
            ("timers", TimerSettings),
        )
        for k in field_names(cls)
    ]
    + list(_DIALOG_KEYS)
    + [f"stt.assemblyai.{k}" for k in ASSEMBLYAI_KEYS]
    + [f"stt.aiola.{k}" for k in AIOLA_KEYS]
    + [f"stt.wyoming.{k}" for k in WYOMING_STT_KEYS]
    + [f"tts.wyoming.{k}" for k in WYOMING_TTS_KEYS]
)


def check_exposure(settings: GatewaySettings, source: str) -> None:
    """Refuse a non-loopback bind without TLS and a token; refuse half a TLS pair."""
    if (settings.tls.cert is None) != (settings.tls.key is None):
        key = "tls.key" if settings.tls.key is None else "tls.cert"
        raise ConfigError(source, key, "expected both tls.cert and tls.key, or neither")
    if settings.auth.token is not None and settings.auth.token_file is not None:
        raise ConfigError(source, "auth.token", "expected auth.token or auth.token_file, not both")
    if not is_loopback(settings.host):
        if not settings.tls.enabled:
            raise ConfigError(
                source,
                "tls.cert",
                f"binding to {settings.host} (not loopback) needs tls.cert and tls.key",
            )
        if not settings.auth.required:
            raise ConfigError(
                source,
                "auth.token_file",
                f"binding to {settings.host} (not loopback) needs auth.token or auth.token_file",
            )


def parse_gateway_settings(
    data: Mapping[str, Any] | None,
    source: str = "<gateway settings>",
    base_dir: str | os.PathLike[str] | None = None,
) -> GatewaySettings:
    """Validate parsed YAML (``None``: all defaults) and build the settings."""
    ctx = Context(source, Path(base_dir) if base_dir is not None else Path.cwd(), _KNOWN)
    top = Reader(data, "", ctx, field_names(GatewaySettings))
    d = GatewaySettings()
    host = top.string("host", d.host)
    assert host is not None
    port = top.integer("port", d.port, lo=0, hi=65535)
    assert port is not None

    tls_r = top.sub("tls", field_names(TlsSettings))
    tls = TlsSettings(
        cert=tls_r.path("cert", must_exist=True), key=tls_r.path("key", must_exist=True)
    )

    auth_r = top.sub("auth", field_names(AuthSettings))
    auth = AuthSettings(
        token=auth_r.string("token", None, secret=True),
        token_file=auth_r.path("token_file", must_exist=True),
    )

    stt_r = top.sub("stt", field_names(SttSettings))
    stt = SttSettings(
        engine=stt_r.choice("engine", d.stt.engine, _engine_names()),
        workers=_int(stt_r, "workers", d.stt.workers, 1, 16),
        no_speech_s=stt_r.duration("no_speech_s", d.stt.no_speech_s),
        assemblyai=parse_assemblyai(stt_r.sub("assemblyai", ASSEMBLYAI_KEYS)),
        aiola=parse_aiola(stt_r.sub("aiola", AIOLA_KEYS)),
        wyoming=parse_stt_wyoming(stt_r.sub("wyoming", WYOMING_STT_KEYS)),
    )

    tts_r = top.sub("tts", field_names(TtsSettings))
    voice = tts_r.string("voice", d.tts.voice)
    assert voice is not None
    if not VOICE_RE.match(voice):
        tts_r.fail("voice", f"expected an espeak-ng voice name such as en-us, got {voice!r}")
    tts = TtsSettings(
        engine=tts_r.choice("engine", d.tts.engine, TTS_ENGINES),
        voice=voice,
        speed=_int(tts_r, "speed", d.tts.speed, 80, 450),
        wyoming=parse_tts_wyoming(tts_r.sub("wyoming", WYOMING_TTS_KEYS)),
    )

    reply_r = top.sub("reply", field_names(ReplySettings))
    reply = ReplySettings(
        form=reply_r.choice("form", d.reply.form, REPLY_FORMS),  # type: ignore[arg-type]
        chunk_ms=_int(reply_r, "chunk_ms", d.reply.chunk_ms, 10, 1000),
        pace=_pace(reply_r, d.reply.pace),
        legacy_tail_ms=_int(reply_r, "legacy_tail_ms", d.reply.legacy_tail_ms, 0, 5000),
    )

    ep_r = top.sub("endpointing", field_names(EndpointingSettings))
    endpointing = EndpointingSettings(
        enabled=ep_r.boolean("enabled", d.endpointing.enabled),
        silence_ms=_int(ep_r, "silence_ms", d.endpointing.silence_ms, 100, 5000),
    )

    lim_r = top.sub("limits", field_names(LimitSettings))
    dl = d.limits
    limits = LimitSettings(
        max_connections=_int(lim_r, "max_connections", dl.max_connections, 1, 100_000),
        max_message_bytes=_int(lim_r, "max_message_bytes", dl.max_message_bytes, 1024, 64 << 20),
        max_utterance_s=_bounded(lim_r, "max_utterance_s", dl.max_utterance_s, 1, 600),
        transaction_timeout_s=lim_r.duration("transaction_timeout_s", dl.transaction_timeout_s),
        idle_timeout_s=lim_r.duration("idle_timeout_s", dl.idle_timeout_s),
        max_errors=_int(lim_r, "max_errors", dl.max_errors, 1, 1_000_000),
    )
    timers_r = top.sub("timers", field_names(TimerSettings))
    timers = TimerSettings(max_ring_s=timers_r.duration("max_ring_s", d.timers.max_ring_s))
    state_dir = top.path("state_dir")
    log_level = top.choice("log_level", d.log_level, ("debug", "info", "warning", "error"))

    settings = GatewaySettings(
        host=host,
        port=port,
        tls=tls,
        auth=auth,
        stt=stt,
        tts=tts,
        reply=reply,
        endpointing=endpointing,
        limits=limits,
        timers=timers,
        state_dir=state_dir,
        dialog=parse_dialog(top),
        log_level=log_level,  # type: ignore[arg-type]
    )
    check_exposure(settings, source)
    return settings


def load_gateway_settings(path: str | os.PathLike[str] | None) -> GatewaySettings:
    """Read ``path`` (``None``: all defaults); raises :class:`ConfigError`."""
    if path is None:
        return GatewaySettings()
    source = os.fspath(path)
    data = load_yaml_file(source)
    if data is not None and not isinstance(data, Mapping):
        raise ConfigError(source, None, "expected a mapping of settings at the top level")
    return parse_gateway_settings(data, source, Path(source).resolve().parent)


def read_token(auth: AuthSettings) -> str | None:
    """The configured token (from ``token_file`` when set); raises :class:`ConfigError`."""
    if auth.token is not None:
        return auth.token
    if auth.token_file is None:
        return None
    try:
        token = Path(auth.token_file).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(auth.token_file, "auth.token_file", f"cannot read it: {exc}") from None
    if not token:
        raise ConfigError(auth.token_file, "auth.token_file", "the file holds no token")
    return token


def _int(r: Reader, name: str, default: int, lo: int, hi: int) -> int:
    value = r.integer(name, default, lo=lo, hi=hi)
    assert value is not None
    return value


def _bounded(r: Reader, name: str, default: float, lo: float, hi: float) -> float:
    value = r.number(name, default, lo=lo, hi=hi, what="a duration in seconds")
    assert value is not None
    return value


def _pace(r: Reader, default: float) -> float:
    value = r.number("pace", default, lo=0, hi=100, what="a multiple of real time (0: unpaced)")
    assert value is not None
    return value


def _engine_names() -> tuple[str, ...]:
    # Imported here: the engine table is light, but keep settings free of STT imports.
    from agent.gateway.stt.factory import ENGINE_NAMES

    return ENGINE_NAMES
