"""``voice-agent devices [--config PATH]``: the audio devices PortAudio sees.

Prints every PortAudio device (index, name, input and output channels,
default rate) in a table and marks with ``*`` the input and output device the
configuration selects, resolved exactly as the daemon resolves
``audio.input.device`` / ``audio.output.device`` (an index, ``default``, or a
case-insensitive name substring; see :func:`agent.audio.devices.find_device`).

When the configuration cannot be read the devices are listed anyway, nothing
is marked and the reason is printed under the table. The exit status is then
0 if ``--config`` was not given (the default file may simply not exist yet on
a fresh machine) and 78 (EX_CONFIG) if it was given explicitly: the user asked
about that file and it is unusable. PortAudio that cannot start at all exits 1.

PortAudio prints ALSA and JACK probing noise on stderr while it enumerates the
devices; :func:`quiet_portaudio` hides those lines and passes every other line
through.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from agent.cli.main import DEFAULT_CONFIG

if TYPE_CHECKING:
    from agent.audio.devices import DeviceInfo, Direction
from agent.audio.quiet import quiet_portaudio


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--config PATH``."""
    parser.add_argument(
        "--config",
        metavar="PATH",
        default=None,
        help=f"configuration whose devices are marked (default: {DEFAULT_CONFIG}; "
        "when it was given and cannot be read, the exit status is 78)",
    )


class _Snapshot:
    """The four PyAudio calls :func:`find_device` makes, answered from a device list.

    The configured devices are resolved by the daemon's own ``find_device``
    against the list already read, rather than by initialising PortAudio (and
    its stderr noise) a second time.
    """

    def __init__(self, devices: list[DeviceInfo]) -> None:
        self._devices = devices

    @staticmethod
    def _info(device: DeviceInfo) -> dict[str, Any]:
        return {
            "index": device.index,
            "name": device.name,
            "maxInputChannels": device.max_input_channels,
            "maxOutputChannels": device.max_output_channels,
            "defaultSampleRate": float(device.default_rate),
        }

    def get_device_count(self) -> int:
        return len(self._devices)

    def get_device_info_by_index(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self._devices):
            raise ValueError(f"invalid device index {index}")
        return self._info(self._devices[index])

    def get_default_input_device_info(self) -> dict[str, Any]:
        return self._default("is_default_input")

    def get_default_output_device_info(self) -> dict[str, Any]:
        return self._default("is_default_output")

    def _default(self, attribute: str) -> dict[str, Any]:
        for device in self._devices:
            if getattr(device, attribute):
                return self._info(device)
        raise OSError("no default device")


@dataclass(frozen=True)
class Selection:
    """What the configuration selects for one direction."""

    direction: Direction
    setting: str
    """e.g. ``audio.input.device 'USB'`` or ``audio.input.file /x.wav``."""
    index: int | None = None
    """The device it resolves to (None: a file or command, or nothing matches)."""
    problem: str | None = None
    """Why nothing is marked for this direction."""


def resolve_selections(settings: Any, devices: list[DeviceInfo]) -> list[Selection]:
    """The configured input and output devices, resolved as the daemon resolves them."""
    from agent.audio.devices import DeviceNotFound, find_device

    pa = _Snapshot(devices)
    out: list[Selection] = []
    sections: tuple[tuple[Direction, Any], ...] = (
        ("input", settings.audio.input),
        ("output", settings.audio.output),
    )
    for direction, section in sections:
        if section.file:
            out.append(Selection(direction, f"audio.{direction}.file {section.file}"))
            continue
        if getattr(section, "command", None):
            out.append(Selection(direction, f"audio.{direction}.command {section.command!r}"))
            continue
        setting = f"audio.{direction}.device {section.device!r}"
        try:
            info = find_device(pa, section.device, direction)
        except DeviceNotFound as exc:
            out.append(Selection(direction, setting, problem=str(exc)))
            continue
        out.append(Selection(direction, setting, index=int(info["index"])))
    return out


def format_table(devices: list[DeviceInfo], selections: list[Selection]) -> list[str]:
    """The device table, one line per device, ``*`` in front of the selected ones."""
    chosen: dict[int, list[str]] = {}
    for sel in selections:
        if sel.index is not None:
            chosen.setdefault(sel.index, []).append(f"configured {sel.direction}")
    rows = []
    for d in devices:
        notes = list(chosen.get(d.index, []))
        defaults = [
            w for w, on in (("input", d.is_default_input), ("output", d.is_default_output)) if on
        ]
        if defaults:
            notes.append("PortAudio default " + " and ".join(defaults))
        mark = "*" if d.index in chosen else " "
        rows.append(
            (
                mark,
                str(d.index),
                d.name,
                str(d.max_input_channels),
                str(d.max_output_channels),
                str(d.default_rate),
                ", ".join(notes),
            )
        )
    header = (" ", "#", "name", "in", "out", "rate", "")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for r in [header, *rows]:
        cells = [
            r[0],
            r[1].rjust(widths[1]),
            r[2].ljust(widths[2]),
            r[3].rjust(widths[3]),
            r[4].rjust(widths[4]),
            r[5].rjust(widths[5]),
            r[6],
        ]
        lines.append("  ".join(cells).rstrip())
    return lines


def _user() -> str:
    """The effective user's name (not $USER: sudo -u and su may leave it stale)."""
    import pwd

    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def print_devices(
    devices: list[DeviceInfo],
    selections: list[Selection] | None,
    config_note: str,
    out: TextIO,
) -> None:
    """Print the table and the legend; ``selections`` None means the config was not read."""
    out.write(f"Audio devices (PortAudio, as user {_user()} sees them):\n\n")
    if not devices:
        out.write(
            "  none: PortAudio lists no device. Is a microphone or sound card connected?\n"
            "  (arecord -l and aplay -l show what ALSA sees)\n"
        )
    else:
        out.write("\n".join(format_table(devices, selections or [])) + "\n")
        out.write("\nin/out = input/output channels; rate = default sample rate in Hz\n")
    if selections is None:
        if config_note:
            out.write(f"nothing is marked: {config_note}\n")
        return
    out.write(f"* = selected by {config_note}:\n")
    for sel in selections:
        if sel.index is not None:
            name = next(d.name for d in devices if d.index == sel.index)
            out.write(f"    {sel.direction + ':':<7} {sel.setting} -> #{sel.index} {name}\n")
        elif sel.problem is not None:
            out.write(f"    {sel.direction + ':':<7} {sel.setting}: {sel.problem}\n")
        else:
            out.write(f"    {sel.direction + ':':<7} {sel.setting} (no device used)\n")


def run(args: argparse.Namespace) -> int:
    """List the devices, marking the configured ones; see the module docstring for the status."""
    from agent.audio.devices import list_devices
    from agent.common.settings_values import ConfigError
    from agent.config.load import load_config

    explicit = args.config is not None
    path = args.config if explicit else DEFAULT_CONFIG
    settings = None
    note: str | None = None
    if not explicit and not os.path.exists(path):
        # Nothing is wrong: this machine is simply not configured (yet).
        plain = f"(no configuration at {path}; to mark the devices a file selects: --config FILE)"
    else:
        try:
            settings = load_config(path)
            note = path
        except ConfigError as err:
            note = str(err)
            if explicit:
                print(err, file=sys.stderr)

    try:
        with quiet_portaudio():
            devices = list_devices()
    except OSError as exc:
        print(f"voice-agent devices: cannot initialise PortAudio: {exc}", file=sys.stderr)
        return 1
    selections = resolve_selections(settings, devices) if settings is not None else None
    if note is None:
        print_devices(devices, None, "", sys.stdout)
        print(plain)
    else:
        print_devices(devices, selections, note, sys.stdout)
    sys.stdout.flush()
    if settings is None and explicit:
        return ConfigError.exit_code
    return 0
