"""Builds :class:`agent.config.Settings` from parsed YAML, one section at a time.

Each function reads one section through a :class:`~agent.common.settings_reader.Reader`
(which refuses unknown keys and wrong types) and adds the checks that span
several keys (auth combinations, reconnect bounds, button vs LED, ...).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from typing import Any, Literal, cast

from agent.common.settings_reader import Context, Reader, field_names
from agent.common.settings_values import MISSING, check_number, describe, file_problem
from agent.config.link import GatewaySettings
from agent.config.operate import ControlSettings, HooksSettings, MetricsSettings
from agent.config.parse_link import parse_gateway
from agent.config.parse_operate import parse_control, parse_hooks, parse_metrics
from agent.config.settings import (
    BUILTIN_WAKE_MODELS,
    WAKE_ENGINES,
    AudioInputSettings,
    AudioOutputSettings,
    AudioSettings,
    DebugSettings,
    GpioSettings,
    ListenSettings,
    LocationSettings,
    LogSettings,
    OutputSettings,
    Settings,
    SoundSettings,
    TimerSettings,
    WakeSettings,
    model_name,
)

# Every default comes from the dataclasses, so they are written in one place.
_D = Settings(gateway=GatewaySettings(url="ws://127.0.0.1"))


def parse_settings(data: Mapping[str, Any], ctx: Context) -> Settings:
    """Validate the top-level mapping ``data`` and build the settings."""
    top = Reader(data, "", ctx, field_names(Settings))
    return Settings(
        gateway=parse_gateway(top.sub("gateway", field_names(GatewaySettings))),
        audio=_audio(top.sub("audio", field_names(AudioSettings))),
        wake=_wake(top.sub("wake", field_names(WakeSettings))),
        listen=_listen(top.sub("listen", field_names(ListenSettings))),
        location=_location(top),
        gpio=_gpio(top.sub("gpio", field_names(GpioSettings))),
        sounds=_sounds(top.sub("sounds", field_names(SoundSettings))),
        timers=TimerSettings(
            max_ring_s=top.sub("timers", field_names(TimerSettings)).duration(
                "max_ring_s", _D.timers.max_ring_s
            )
        ),
        output=_output(top.sub("output", field_names(OutputSettings))),
        debug=_debug(top.sub("debug", field_names(DebugSettings))),
        log=_log(top.sub("log", field_names(LogSettings))),
        hooks=parse_hooks(top.sub("hooks", field_names(HooksSettings))),
        control=parse_control(top.sub("control", field_names(ControlSettings))),
        metrics=parse_metrics(top.sub("metrics", field_names(MetricsSettings))),
    )


# --- audio --------------------------------------------------------------------


def _device(r: Reader, default: str | int) -> str | int:
    value = r.raw("device")
    if value is MISSING:
        return default
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    r.fail("device", f"expected a device name or index (0 or more), got {describe(value)}")


def _audio(r: Reader) -> AudioSettings:
    i = r.sub("input", field_names(AudioInputSettings))
    file = i.path("file", must_exist=True)
    command = i.string("command", _D.audio.input.command)
    if file is not None and command is not None:
        i.fail(
            "command", f"expected at most one of {i.key('file')} and {i.key('command')}, got both"
        )
    channels = i.integer("channels", _D.audio.input.channels, lo=1, hi=32)
    assert channels is not None
    channel = i.integer("channel", _D.audio.input.channel, lo=0, what="a channel index")
    assert channel is not None
    if channel >= channels:
        i.fail(
            "channel", f"expected a channel below {i.key('channels')} ({channels}), got {channel}"
        )
    sample_rate = i.integer(
        "sample_rate", _D.audio.input.sample_rate, lo=8000, hi=192000, what="a sample rate in Hz"
    )
    audio_input = AudioInputSettings(
        device=_device(i, _D.audio.input.device),
        file=file,
        realtime=i.boolean("realtime", _D.audio.input.realtime),
        command=command,
        sample_rate=cast(int, sample_rate),
        channels=channels,
        channel=channel,
    )
    o = r.sub("output", field_names(AudioOutputSettings))
    out_file = o.path("file")
    if out_file is not None and not os.path.isdir(os.path.dirname(out_file)):
        o.fail("file", f"expected a file in an existing directory, got {describe(o.raw('file'))}")
    volume = o.number("volume", _D.audio.output.volume, lo=0, hi=1)
    audio_output = AudioOutputSettings(
        device=_device(o, _D.audio.output.device),
        file=out_file,
        realtime=o.boolean("realtime", _D.audio.output.realtime),
        volume=cast(float, volume),
    )
    chunk_ms = r.integer("chunk_ms", _D.audio.chunk_ms, lo=10, hi=1000, what="milliseconds")
    return AudioSettings(
        input=audio_input,
        output=audio_output,
        chunk_ms=cast(int, chunk_ms),
        echo_cancel=_echo_cancel(r),
        echo_suppression=r.boolean("echo_suppression", _D.audio.echo_suppression),
        noise_suppression=r.boolean("noise_suppression", _D.audio.noise_suppression),
        auto_gain=r.boolean("auto_gain", _D.audio.auto_gain),
    )


def _echo_cancel(r: Reader) -> bool | Literal["auto"]:
    value = r.raw("echo_cancel")
    if value is MISSING:
        return _D.audio.echo_cancel
    if isinstance(value, bool) or value == "auto":
        return cast("bool | Literal['auto']", value)
    r.fail("echo_cancel", f"expected true, false or auto, got {describe(value)}")


# --- wake, listen, location ---------------------------------------------------


def _wake(r: Reader) -> WakeSettings:
    raw = r.raw("models")
    if raw is MISSING:
        raw = list(_D.wake.models)
    elif isinstance(raw, str):
        raw = [raw]  # a single model written without brackets
    builtin = ", ".join(BUILTIN_WAKE_MODELS)
    if not isinstance(raw, list) or not raw:
        r.fail(
            "models",
            f"expected a list of wake word models ({builtin} or .onnx/.tflite/.json paths), "
            f"got {'an empty list' if raw == [] else describe(raw)}",
        )
    models: list[str] = []
    for index, entry in enumerate(raw):
        key = f"models[{index}]"
        if isinstance(entry, str) and entry in BUILTIN_WAKE_MODELS:
            models.append(entry)
        elif isinstance(entry, str) and entry.lower().endswith((".onnx", ".tflite", ".json")):
            full = r.resolve(entry)
            problem = file_problem(full)
            if problem:
                r.fail(key, f"expected an existing model file, got {describe(entry)} ({problem})")
            models.append(full)
        else:
            close = difflib.get_close_matches(str(entry), BUILTIN_WAKE_MODELS, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close and isinstance(entry, str) else ""
            r.fail(
                key,
                f"expected a built-in model ({builtin}) or a path to a .onnx, .tflite or "
                f".json file, got {describe(entry)}{hint}",
            )
        if model_name(models[-1]) in (model_name(m) for m in models[:-1]):
            r.fail(key, f"expected each model once, got {describe(model_name(entry))} twice")
    names = [model_name(m) for m in models]
    return WakeSettings(
        models=tuple(models),
        threshold=_threshold(r, names),
        refractory_s=r.duration("refractory_s", _D.wake.refractory_s),
        preroll_ms=cast(
            int, r.integer("preroll_ms", _D.wake.preroll_ms, lo=0, hi=5000, what="milliseconds")
        ),
        speaking_threshold=r.number(
            "speaking_threshold",
            _D.wake.speaking_threshold,
            lo=0,
            hi=1,
            lo_open=True,
            optional=True,
        ),
        noise_gate_dbfs=r.number(
            "noise_gate_dbfs",
            _D.wake.noise_gate_dbfs,
            lo=-120,
            hi=0,
            optional=True,
            what="a level in dBFS",
        ),
        noise_gate=cast(Any, r.choice("noise_gate", _D.wake.noise_gate, ("adaptive", "fixed"))),
        noise_gate_margin_db=cast(
            float,
            r.number(
                "noise_gate_margin_db",
                _D.wake.noise_gate_margin_db,
                lo=0.5,
                hi=30,
                what="a number of dB",
            ),
        ),
        engine=_engine(r, names),
    )


def _engine(r: Reader, names: list[str]) -> str | dict[str, str]:
    value = r.raw("engine")
    if value is MISSING:
        return _D.wake.engine
    choices = ", ".join(WAKE_ENGINES)
    if isinstance(value, str):
        if value not in WAKE_ENGINES:
            r.fail("engine", f"expected one of {choices} or a map by model, got {describe(value)}")
        return value
    if not isinstance(value, Mapping):
        r.fail("engine", f"expected one of {choices} or a map by model, got {describe(value)}")
    out: dict[str, str] = {}
    for key, engine in value.items():
        name = model_name(key) if isinstance(key, str) else None
        if name not in names:
            r.fail(
                f"engine.{key}",
                f"expected one of wake.models ({', '.join(names)}), got {describe(key)}",
            )
        if engine not in WAKE_ENGINES:
            r.fail(f"engine.{key}", f"expected one of {choices}, got {describe(engine)}")
        assert name is not None
        out[name] = str(engine)
    return out


def _threshold(r: Reader, names: list[str]) -> float | dict[str, float]:
    value = r.raw("threshold")
    if value is MISSING:
        return _D.wake.threshold
    if not isinstance(value, Mapping):
        return check_number(value, lambda m: r.fail("threshold", m), lo=0, hi=1, lo_open=True)
    out: dict[str, float] = {}
    for key, score in value.items():
        name = model_name(key) if isinstance(key, str) else None
        if name not in names:
            r.fail(
                f"threshold.{key}",
                f"expected one of wake.models ({', '.join(names)}), got {describe(key)}",
            )
        assert name is not None
        out[name] = check_number(
            score, lambda m, k=key: r.fail(f"threshold.{k}", m), lo=0, hi=1, lo_open=True
        )
    return out


def _listen(r: Reader) -> ListenSettings:
    return ListenSettings(
        end_of_speech=cast(
            Any, r.choice("end_of_speech", _D.listen.end_of_speech, ("vad", "gateway", "both"))
        ),
        silence_ms=cast(
            int, r.integer("silence_ms", _D.listen.silence_ms, lo=1, hi=60000, what="milliseconds")
        ),
        no_speech_timeout_s=r.duration("no_speech_timeout_s", _D.listen.no_speech_timeout_s),
        max_utterance_s=r.duration("max_utterance_s", _D.listen.max_utterance_s),
        response_timeout_s=r.duration("response_timeout_s", _D.listen.response_timeout_s),
        followup_timeout_s=r.duration("followup_timeout_s", _D.listen.followup_timeout_s),
        vad_threshold=cast(
            float, r.number("vad_threshold", _D.listen.vad_threshold, lo=0, hi=1, lo_open=True)
        ),
    )


def _location(top: Reader) -> LocationSettings | None:
    value = top.raw("location")
    if value is MISSING or value is None:
        return None
    if not isinstance(value, Mapping):
        top.fail(
            "location",
            f"expected null or a mapping of latitude and longitude, got {describe(value)}",
        )
    r = top.sub("location", field_names(LocationSettings))
    lat = check_number(r.raw("latitude"), lambda m: r.fail("latitude", m), lo=-90, hi=90)
    lon = check_number(r.raw("longitude"), lambda m: r.fail("longitude", m), lo=-180, hi=180)
    return LocationSettings(latitude=lat, longitude=lon)


# --- gpio, sounds, output, debug, log -----------------------------------------


def _gpio(r: Reader) -> GpioSettings:
    button = r.integer("button", _D.gpio.button, lo=0, hi=27, optional=True, what="a BCM pin")
    led = r.integer("led", _D.gpio.led, lo=0, hi=27, optional=True, what="a BCM pin")
    if button is not None and button == led:
        r.fail("led", f"expected a different pin than gpio.button ({button}), got {led}")
    return GpioSettings(
        button=button,
        button_mode=cast(Any, r.choice("button_mode", _D.gpio.button_mode, ("press", "hold"))),
        led=led,
        long_press_s=r.duration("long_press_s", _D.gpio.long_press_s),
    )


def _sound(r: Reader, name: str) -> str | None:
    value = r.raw(name)
    if value is MISSING:
        return cast(str | None, getattr(_D.sounds, name))
    if value == "builtin":
        return "builtin"
    if value is None:
        return None
    if isinstance(value, str) and value.strip():
        full = r.resolve(value)
        problem = file_problem(full)
        if problem is None:
            return full
        r.fail(name, f"expected builtin, null or a sound file, got {describe(value)} ({problem})")
    r.fail(name, f"expected builtin, null or a sound file, got {describe(value)}")


def _sounds(r: Reader) -> SoundSettings:
    return SoundSettings(
        wake=_sound(r, "wake"),
        done=_sound(r, "done"),
        error=_sound(r, "error"),
        alarm=_sound(r, "alarm"),
    )


def _output(r: Reader) -> OutputSettings:
    return OutputSettings(
        print=r.boolean("print", _D.output.print),
        speak_text=r.boolean("speak_text", _D.output.speak_text),
    )


def _debug(r: Reader) -> DebugSettings:
    keep = r.integer("keep", _D.debug.keep, lo=1, what="a number of turns")
    return DebugSettings(record_dir=r.path("record_dir"), keep=cast(int, keep))


def _log(r: Reader) -> LogSettings:
    return LogSettings(
        level=cast(Any, r.choice("level", _D.log.level, ("debug", "info", "warning", "error"))),
        format=cast(Any, r.choice("format", _D.log.format, ("text", "json"))),
    )
