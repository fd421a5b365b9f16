"""YAML -> frozen, typed settings; every error names its key.

The keys and defaults are those of ``docs/config.md`` (annotated in
``config/agent.yaml``). Use :func:`load_config` (or :func:`load_or_exit` in a
command) to get a :class:`Settings`; print it with :func:`redact`.

Relative paths in the file (wake models, sounds, token files, audio files) are
resolved against the directory of the configuration file and stored absolute.
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal, get_type_hints

from agent.config_schema import (
    EX_CONFIG,
    REDACTED,
    ConfigError,
    Context,
    load_yaml_file,
    redact_names,
    redact_url,
)

__all__ = [
    "BUILTIN_WAKE_MODELS",
    "EX_CONFIG",
    "AudioInputSettings",
    "AudioOutputSettings",
    "AudioSettings",
    "AuthSettings",
    "ConfigError",
    "DebugSettings",
    "GatewaySettings",
    "GpioSettings",
    "ListenSettings",
    "LocationSettings",
    "LogSettings",
    "OutputSettings",
    "ReconnectSettings",
    "Settings",
    "SoundSettings",
    "TlsSettings",
    "WakeSettings",
    "load_config",
    "known_keys",
    "load_or_exit",
    "model_name",
    "parse_config",
    "redact",
    "redact_url",
]

BUILTIN_WAKE_MODELS = ("alexa", "hey_jarvis", "hey_mycroft", "hey_rhasspy", "timer", "weather")
"""Wake word models shipped with openWakeWord, usable by name in ``wake.models``."""

DEFAULT_WAKE_THRESHOLD = 0.5
"""Threshold of a model that a ``wake.threshold`` map does not list."""


# --- gateway ------------------------------------------------------------------


@dataclass(frozen=True)
class AuthSettings:
    """How the agent authenticates to the gateway (``gateway.auth``)."""

    type: Literal["none", "bearer", "iam"] = "none"
    """none | bearer (a fixed token) | iam (an API key exchanged for short-lived tokens)."""

    token: str | None = field(default=None, repr=False)
    """bearer: the token itself (prefer token_file)."""

    token_file: str | None = None
    """bearer: absolute path of a file holding the token (read at each connect)."""

    api_key: str | None = field(default=None, repr=False)
    """iam: the API key (prefer api_key_file)."""

    api_key_file: str | None = None
    """iam: absolute path of a file holding the API key."""

    token_url: str | None = None
    """iam: the http(s) URL where the API key is exchanged for a token."""

    def bearer_token(self) -> str | None:
        """The bearer token (from ``token`` or, freshly read, ``token_file``), or None."""
        if self.token is not None:
            return self.token
        if self.token_file is not None:
            return Path(self.token_file).read_text(encoding="utf-8").strip()
        return None

    def iam_api_key(self) -> str | None:
        """The IAM API key (from ``api_key`` or, freshly read, ``api_key_file``), or None."""
        if self.api_key is not None:
            return self.api_key
        if self.api_key_file is not None:
            return Path(self.api_key_file).read_text(encoding="utf-8").strip()
        return None


@dataclass(frozen=True)
class TlsSettings:
    """TLS for ``wss://`` (``gateway.tls``)."""

    verify: bool = True
    """Verify the gateway's certificate and host name."""

    ca_file: str | None = None
    """Absolute path of a PEM file of CA certificates to trust instead of the system's."""


@dataclass(frozen=True)
class ReconnectSettings:
    """Backoff between reconnect attempts (``gateway.reconnect``)."""

    initial_s: float = 0.5
    """Upper bound of the first delay (seconds); doubles per failure, full jitter."""

    max_s: float = 30.0
    """Largest upper bound of the delay (seconds)."""


@dataclass(frozen=True, repr=False)
class GatewaySettings:
    """The audio gateway and how to talk to it (``gateway``)."""

    url: str
    """ws:// or wss:// URL of the gateway (ws:// only to loopback unless allow_insecure)."""

    allow_insecure: bool = False
    """Allow unencrypted ws:// (and http:// token_url) to hosts that are not loopback."""

    query: dict[str, str] = field(default_factory=dict)
    """Extra query parameters added to the URL (skillset, userID, language, ...)."""

    headers: dict[str, str] = field(default_factory=dict)
    """Extra HTTP headers of the WebSocket handshake (tenantid, ...)."""

    auth: AuthSettings = field(default_factory=AuthSettings)
    """Authentication."""

    tls: TlsSettings = field(default_factory=TlsSettings)
    """TLS options for wss://."""

    stt_options: dict[str, Any] | None = None
    """Sent as a stt_options message after every connect, when set."""

    tts_options: dict[str, Any] | None = None
    """Sent as a tts_options message after every connect, when set."""

    audio_start_options: dict[str, Any] | None = None
    """The "options" object of each audio_start, when set."""

    ping_interval_s: float = 5.0
    """Seconds between WebSocket pings."""

    ping_timeout_s: float = 10.0
    """Seconds without a pong before the connection counts as lost."""

    reconnect: ReconnectSettings = field(default_factory=ReconnectSettings)
    """Reconnect backoff."""

    def __repr__(self) -> str:
        # The URL, query, headers and options may carry credentials.
        return f"GatewaySettings({_redact_gateway(dataclasses.asdict(self))!r})"


# --- audio --------------------------------------------------------------------


@dataclass(frozen=True)
class AudioInputSettings:
    """Where the microphone audio comes from (``audio.input``)."""

    device: str | int = "default"
    """PortAudio/ALSA input device: a name (substring match) or an index."""

    file: str | None = None
    """Absolute path of a WAV file to read instead of a device."""

    realtime: bool = True
    """file only: pace it like a microphone; false = as fast as possible, stop at its end."""

    command: str | None = None
    """Instead of a device: a shell command (run with /bin/sh -c) printing raw s16le PCM."""

    sample_rate: int = 16000
    """The device's or command's sample rate in Hz; converted to 16 kHz."""

    channels: int = 1
    """The device's or command's number of channels."""

    channel: int = 0
    """Which channel (0-based) to keep when channels > 1."""

    @property
    def source(self) -> Literal["device", "file", "command"]:
        """Which of device, file and command is used."""
        if self.file is not None:
            return "file"
        if self.command is not None:
            return "command"
        return "device"


@dataclass(frozen=True)
class AudioOutputSettings:
    """Where replies and sounds are played (``audio.output``)."""

    device: str | int = "default"
    """PortAudio/ALSA output device: a name (substring match) or an index."""

    file: str | None = None
    """Absolute path of a WAV file that receives everything played, instead of a device."""

    realtime: bool = True
    """file only: take as long as a speaker would."""

    volume: float = 1.0
    """Playback gain from 0 (silent) to 1 (unchanged)."""


@dataclass(frozen=True)
class AudioSettings:
    """Audio input and output (``audio``)."""

    input: AudioInputSettings = field(default_factory=AudioInputSettings)
    """Microphone (or file, or command)."""

    output: AudioOutputSettings = field(default_factory=AudioOutputSettings)
    """Speaker (or file)."""

    chunk_ms: int = 100
    """Milliseconds of audio per audio_data message."""


# --- wake, listen, location ---------------------------------------------------


@dataclass(frozen=True)
class WakeSettings:
    """Wake word detection (``wake``)."""

    models: tuple[str, ...] = ("hey_jarvis",)
    """Built-in model names and/or absolute paths of .onnx/.tflite model files."""

    threshold: float | dict[str, float] = DEFAULT_WAKE_THRESHOLD
    """Score in (0, 1] that counts as a detection; or a map of model name to score."""

    refractory_s: float = 2.0
    """Seconds after a detection during which the same model does not fire again."""

    preroll_ms: int = 500
    """Milliseconds of audio from before the detection that open each utterance."""

    speaking_threshold: float | None = 0.9
    """Self-trigger guard: while the device speaks, a model fires only at
    max(threshold_for(model), speaking_threshold); None = no detection while speaking."""

    noise_gate_dbfs: float | None = -55.0
    """Chunks quieter than this level (dBFS) skip wake inference; None = always infer."""

    def threshold_for(self, model: str) -> float:
        """Threshold of ``model`` (a name, a path, or a file name like hey_jarvis_v0.1.onnx)."""
        if not isinstance(self.threshold, dict):
            return self.threshold
        name = model_name(model)
        if name in self.threshold:
            return self.threshold[name]
        unversioned = _VERSION_SUFFIX.sub("", name)
        return self.threshold.get(unversioned, DEFAULT_WAKE_THRESHOLD)

    @property
    def names(self) -> tuple[str, ...]:
        """The models' names: built-in names as they are, files by their stem."""
        return tuple(model_name(m) for m in self.models)


_VERSION_SUFFIX = re.compile(r"_v\d+(?:\.\d+)*$")


def model_name(model: str) -> str:
    """Name of a wake model entry: a built-in name, or a file's name without .onnx/.tflite."""
    base = os.path.basename(model)
    for ext in (".onnx", ".tflite"):
        if base.lower().endswith(ext):
            return base[: -len(ext)]
    return base


@dataclass(frozen=True)
class ListenSettings:
    """When an utterance ends and how long to wait (``listen``)."""

    end_of_speech: Literal["vad", "gateway", "both"] = "both"
    """vad (local silence detection) | gateway (its end-of-speech) | both (first wins)."""

    silence_ms: int = 700
    """Milliseconds of trailing silence (audio time) that end an utterance."""

    no_speech_timeout_s: float = 5.0
    """After a wake word or button: seconds to give up if speech has not begun."""

    max_utterance_s: float = 10.0
    """Longest utterance in seconds; it is ended there."""

    response_timeout_s: float = 15.0
    """Seconds to wait for the gateway's response after audio_end."""

    followup_timeout_s: float = 8.0
    """After a response with prompt: true, seconds to wait for speech to begin."""

    vad_threshold: float = 0.5
    """Speech probability in (0, 1] above which the local VAD counts a chunk as speech."""


@dataclass(frozen=True)
class LocationSettings:
    """The device's location, passed to the gateway (``location``)."""

    latitude: float
    """Degrees north, -90 to 90."""

    longitude: float
    """Degrees east, -180 to 180."""


# --- gpio, sounds, output, debug, log -----------------------------------------


@dataclass(frozen=True)
class GpioSettings:
    """Push-to-talk button and status LED (``gpio``)."""

    button: int | None = None
    """BCM pin (0-27) of a push-to-talk button, or None."""

    button_mode: Literal["press", "hold"] = "press"
    """press: a press starts listening | hold: talk while held."""

    led: int | None = None
    """BCM pin (0-27) of a status LED, or None."""

    long_press_s: float = 2.0
    """Seconds a press must last to count as a long press."""


@dataclass(frozen=True)
class SoundSettings:
    """Feedback sounds (``sounds``): 'builtin', an absolute WAV path, or None (silent)."""

    wake: str | None = "builtin"
    """Played when listening starts."""

    done: str | None = "builtin"
    """Played when the utterance has been captured."""

    error: str | None = "builtin"
    """Played when a turn fails."""


@dataclass(frozen=True)
class OutputSettings:
    """What the agent prints and speaks (``output``)."""

    print: bool = True
    """Print transcripts, text and responses to stdout."""

    speak_text: bool = False
    """Speak a text reply with espeak-ng when no reply audio comes."""


@dataclass(frozen=True)
class DebugSettings:
    """Turn recordings for debugging (``debug``)."""

    record_dir: str | None = None
    """Absolute path of a directory where each turn's audio and messages are saved."""

    keep: int = 50
    """Newest turns kept in record_dir."""


@dataclass(frozen=True)
class LogSettings:
    """Logging (``log``)."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    """Lowest level logged."""

    format: Literal["text", "json"] = "text"
    """text: for people | json: one event object per line on stdout."""


@dataclass(frozen=True)
class Settings:
    """The whole configuration."""

    gateway: GatewaySettings
    """The audio gateway."""

    audio: AudioSettings = field(default_factory=AudioSettings)
    """Audio input and output."""

    wake: WakeSettings = field(default_factory=WakeSettings)
    """Wake word detection."""

    listen: ListenSettings = field(default_factory=ListenSettings)
    """Utterance endpointing and timeouts."""

    location: LocationSettings | None = None
    """The device's location, or None."""

    gpio: GpioSettings = field(default_factory=GpioSettings)
    """Button and LED."""

    sounds: SoundSettings = field(default_factory=SoundSettings)
    """Feedback sounds."""

    output: OutputSettings = field(default_factory=OutputSettings)
    """Printing and speaking."""

    debug: DebugSettings = field(default_factory=DebugSettings)
    """Turn recordings."""

    log: LogSettings = field(default_factory=LogSettings)
    """Logging."""


# --- public API ---------------------------------------------------------------


def load_config(path: str | os.PathLike[str]) -> Settings:
    """Read, parse and validate a YAML configuration file.

    Raises :class:`ConfigError` (one line, exit code 78) for any problem.
    Relative paths inside are taken relative to the file's directory.
    """
    data = load_yaml_file(path)
    base_dir = os.path.dirname(os.path.abspath(os.fspath(path)))
    return parse_config(data, os.fspath(path), base_dir=base_dir)


def parse_config(
    data: Mapping[str, Any] | None,
    source: str,
    *,
    base_dir: str | os.PathLike[str] | None = None,
) -> Settings:
    """Validate already-parsed data; ``source`` names it in errors.

    Relative paths are taken relative to ``base_dir`` (default: the current directory).
    """
    ctx = Context(source, Path(base_dir) if base_dir is not None else Path.cwd(), known_keys())
    if data is None:  # an empty file: only gateway.url is missing
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(
            source,
            None,
            "expected a mapping of sections (gateway, audio, wake, ...) at the top level, "
            f"got {'a list' if isinstance(data, list) else 'a ' + type(data).__name__}",
        )
    # Imported here: agent.config_parse builds the dataclasses defined above.
    from agent.config_parse import parse_settings

    return parse_settings(data, ctx)


def load_or_exit(path: str | os.PathLike[str]) -> Settings:
    """:func:`load_config`, or print the one-line error to stderr and exit with 78."""
    try:
        return load_config(path)
    except ConfigError as err:
        print(err, file=sys.stderr)
        sys.exit(err.exit_code)


def redact(settings: Settings) -> dict[str, Any]:
    """The settings as plain data (dicts, lists, scalars) with every secret replaced by ``***``.

    Secrets: auth.token and auth.api_key, URL passwords, and the values of
    headers, query parameters and option keys whose names mark a secret
    (authorization, cookie, or containing token/key/secret/password/auth).
    Token and key *files* are shown by path; their contents are never read here.
    """
    data = _lists(dataclasses.asdict(settings))
    data["gateway"] = _redact_gateway(data["gateway"])
    return data


def _redact_gateway(gateway: dict[str, Any]) -> dict[str, Any]:
    out = dict(gateway)
    out["url"] = redact_url(out["url"])
    auth = dict(out["auth"])
    for secret in ("token", "api_key"):
        if auth.get(secret) is not None:
            auth[secret] = REDACTED
    if auth.get("token_url"):
        auth["token_url"] = redact_url(auth["token_url"])
    out["auth"] = auth
    for name in ("query", "headers", "stt_options", "tts_options", "audio_start_options"):
        out[name] = redact_names(out[name])
    return out


def _lists(value: Any) -> Any:
    # asdict keeps tuples; YAML's safe dumper and JSON want lists.
    if isinstance(value, dict):
        return {k: _lists(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_lists(v) for v in value]
    return value


@cache
def known_keys() -> tuple[str, ...]:
    """Every dotted key of the schema (``gateway.auth.token``, ``wake.models``, ...)."""
    out: list[str] = []

    def walk(cls: type, prefix: str) -> None:
        hints = get_type_hints(cls)
        for f in dataclasses.fields(cls):
            key = f"{prefix}{f.name}"
            out.append(key)
            nested = [
                t for t in getattr(hints[f.name], "__args__", ()) if dataclasses.is_dataclass(t)
            ]
            target = hints[f.name] if dataclasses.is_dataclass(hints[f.name]) else None
            for t in [target, *nested]:
                if isinstance(t, type):
                    walk(t, key + ".")

    walk(Settings, "")
    return tuple(out)
