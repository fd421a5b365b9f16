"""YAML -> frozen, typed settings; every error names its key.

The keys and defaults are those of ``docs/config.md`` (annotated in
``config/agent.yaml``). Use :func:`load_config` (or :func:`load_or_exit` in a
command) to get a :class:`Settings`; print it with :func:`redact`.

Relative paths in the file (wake models, sounds, token files, audio files) are
resolved against the directory of the configuration file and stored absolute.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Literal

from agent.config.link import GatewaySettings
from agent.config.operate import ControlSettings, HooksSettings, MetricsSettings

BUILTIN_WAKE_MODELS = (
    "alexa",
    "hey_jarvis",
    "hey_mycroft",
    "hey_rhasspy",
    "timer",
    "weather",
    "okay_nabu",
)
"""Wake word models usable by name in ``wake.models``: openWakeWord's six and
microWakeWord's four (alexa, hey_jarvis, hey_mycroft, okay_nabu)."""

WAKE_ENGINES = ("openwakeword", "micro")
"""``wake.engine`` values."""

DEFAULT_WAKE_THRESHOLD = 0.5
"""Threshold of a model that a ``wake.threshold`` map does not list."""


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

    echo_cancel: bool | Literal["auto"] = "auto"
    """Cancel the device's own reply in the microphone signal, with what the player
    wrote as the reference: true, false, or auto (on when the output is a real
    device, i.e. ``output.file`` is null)."""

    echo_suppression: bool = False
    """With echo cancellation: Speex's residual echo suppressor after the linear
    canceller (takes out about 6 dB more echo and helped barge-in in the benchmark's
    harder rooms, at ~1.5 ms/s more CPU while a reply plays; it also attenuates the
    user's voice a little while the reply plays)."""

    noise_suppression: bool = False
    """WebRTC noise suppression on the captured audio (wake word, VAD, stream)."""

    auto_gain: bool = False
    """WebRTC automatic gain control on the captured audio."""

    @property
    def echo_cancel_on(self) -> bool:
        """Whether echo cancellation is wanted, ``auto`` resolved."""
        if self.echo_cancel == "auto":
            return self.output.file is None
        return bool(self.echo_cancel)

    @property
    def processing_on(self) -> bool:
        """Whether any processing runs in the capture path (else it is bit-exact)."""
        return self.echo_cancel_on or self.noise_suppression or self.auto_gain


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
    """Fixed floor: frames quieter than this level (dBFS) skip wake inference (in both gate
    modes); None = no gate at all, always infer."""

    noise_gate: Literal["adaptive", "fixed"] = "adaptive"
    """adaptive: also skip frames within noise_gate_margin_db of the room's tracked noise
    floor | fixed: only noise_gate_dbfs."""

    noise_gate_margin_db: float = 6.0
    """Adaptive gate: how many dB above the tracked noise floor a frame still counts as quiet."""

    engine: str | dict[str, str] = "openwakeword"
    """openwakeword | micro, for the built-in names both engines have (alexa, hey_jarvis,
    hey_mycroft); or a map of model name to engine. Files pick their own engine."""

    def engine_for(self, model: str) -> str:
        """The engine configured for a wake.models entry (files decide for themselves)."""
        if isinstance(self.engine, dict):
            return self.engine.get(model_name(model), "openwakeword")
        return self.engine

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
    """Name of a wake model entry: a built-in name, or a file's name without its extension."""
    base = os.path.basename(model)
    for ext in (".onnx", ".tflite", ".json"):
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

    alarm: str | None = "builtin"
    """Played, with the announcement, while a finished timer rings."""


@dataclass(frozen=True)
class TimerSettings:
    """Ringing timers (``timers``)."""

    max_ring_s: float = 900.0
    """A finished timer rings at most this long (seconds) unless stopped."""


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

    timers: TimerSettings = field(default_factory=TimerSettings)
    """Ringing timers."""

    output: OutputSettings = field(default_factory=OutputSettings)
    """Printing and speaking."""

    debug: DebugSettings = field(default_factory=DebugSettings)
    """Turn recordings."""

    log: LogSettings = field(default_factory=LogSettings)
    """Logging."""

    hooks: HooksSettings = field(default_factory=HooksSettings)
    """A command fed every event (LEDs, home automation)."""

    control: ControlSettings = field(default_factory=ControlSettings)
    """The local control socket."""

    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    """Prometheus metrics."""
