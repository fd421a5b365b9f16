"""PortAudio device lookup: by index, by name substring, or ``"default"``.

Used by :class:`~agent.audio.pyaudio_source.PyAudioSource` and
:class:`~agent.audio.sinks.PyAudioSink`, and by ``voice-agent devices``
through :func:`list_devices`. PyAudio is imported by the callers, never here,
so this module stays cheap to import.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Direction = Literal["input", "output"]


class DeviceNotFound(LookupError):
    """No PortAudio device matches the configured name or index."""


@dataclass(frozen=True)
class DeviceInfo:
    """One PortAudio device as the user sees it."""

    index: int
    name: str
    max_input_channels: int
    max_output_channels: int
    default_rate: int
    is_default_input: bool = False
    is_default_output: bool = False


def _channels_key(direction: Direction) -> str:
    return "maxInputChannels" if direction == "input" else "maxOutputChannels"


def find_device(pa: Any, spec: str | int, direction: Direction) -> dict[str, Any]:
    """Return PortAudio's info dict for the device ``spec`` names.

    ``spec`` is an index (int, or a string of digits), ``"default"`` for
    PortAudio's default device, or a case-insensitive substring of the name;
    the first device that can ``direction`` wins. An exact name match beats a
    substring match, so ``"default"``-like names stay reachable.
    Raises :class:`DeviceNotFound` with the list of candidates.
    """
    key = _channels_key(direction)
    if isinstance(spec, str) and spec.strip().isdigit():
        spec = int(spec.strip())
    if isinstance(spec, int):
        try:
            info: dict[str, Any] = pa.get_device_info_by_index(spec)
        except (OSError, ValueError) as exc:
            raise DeviceNotFound(f"no audio device with index {spec}") from exc
        if int(info[key]) < 1:
            raise DeviceNotFound(f"audio device {spec} ({info['name']}) has no {direction}")
        return info
    if spec.strip().lower() == "default":
        try:
            if direction == "input":
                return dict(pa.get_default_input_device_info())
            return dict(pa.get_default_output_device_info())
        except OSError as exc:
            raise DeviceNotFound(f"there is no default {direction} device") from exc
    wanted = spec.strip().lower()
    candidates = []
    for index in range(pa.get_device_count()):
        info = pa.get_device_info_by_index(index)
        if int(info[key]) >= 1:
            candidates.append(info)
    for info in candidates:
        if str(info["name"]).lower() == wanted:
            return info
    for info in candidates:
        if wanted in str(info["name"]).lower():
            return info
    names = ", ".join(repr(str(i["name"])) for i in candidates) or "none"
    raise DeviceNotFound(f"no {direction} device matches {spec!r} (available: {names})")


def list_devices() -> list[DeviceInfo]:
    """List every PortAudio device with its capabilities (initialises PortAudio)."""
    import pyaudio

    pa = pyaudio.PyAudio()
    try:
        try:
            default_in = int(pa.get_default_input_device_info()["index"])
        except OSError:
            default_in = -1
        try:
            default_out = int(pa.get_default_output_device_info()["index"])
        except OSError:
            default_out = -1
        result = []
        for index in range(pa.get_device_count()):
            info = pa.get_device_info_by_index(index)
            result.append(
                DeviceInfo(
                    index=index,
                    name=str(info["name"]),
                    max_input_channels=int(info["maxInputChannels"]),
                    max_output_channels=int(info["maxOutputChannels"]),
                    default_rate=int(info["defaultSampleRate"]),
                    is_default_input=index == default_in,
                    is_default_output=index == default_out,
                )
            )
        return result
    finally:
        pa.terminate()


def supported(pa: Any, index: int, rate: int, channels: int, direction: Direction) -> bool:
    """True when PortAudio says device ``index`` can do s16 at ``rate``/``channels``."""
    import pyaudio

    kwargs: dict[str, Any] = {"rate": rate}
    if direction == "input":
        kwargs.update(input_device=index, input_channels=channels, input_format=pyaudio.paInt16)
    else:
        kwargs.update(output_device=index, output_channels=channels, output_format=pyaudio.paInt16)
    try:
        return bool(pa.is_format_supported(**kwargs))
    except ValueError:
        return False
