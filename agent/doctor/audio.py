"""Doctor checks of the sound hardware: microphone level meter, speaker, ``/dev/snd`` access."""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.doctor.report import Check, dbfs, fmt_db

SILENT_DBFS = -60.0
"""A microphone whose peak stays below this level (dBFS) counts as silent."""

CLIP_SHARE = 0.001
"""A microphone with more than this share of samples at full scale counts as clipping."""

METER_STEP = 1600
"""Samples (100 ms of audio) per step of the level meter."""

Meter = Callable[[float, float], None]
"""Called with (seconds of audio so far, peak dBFS of the latest ~100 ms)."""


def _describe_input(inp: Any) -> str:
    if inp.file:
        return f"file {inp.file}"
    if inp.command:
        return f"command {inp.command!r}"
    return f"device {inp.device!r}"


FIX_DEVICE = (
    "pick the microphone: `voice-agent devices` lists them; set audio.input.device "
    "to a part of its name or its index"
)


class _Levels:
    """Peak, RMS and clipping of the captured audio, with the meter stepped every 100 ms."""

    def __init__(self, want: int, meter: Meter | None) -> None:
        self.want = want
        self.meter = meter
        self.total = self.clipped = self.peak = 0
        self.energy = 0.0
        self.block_peak = 0  # of the current 100 ms of audio (the meter's step)

    def add(self, samples: Any) -> None:
        """Count ``samples`` (up to ``want`` in all), cut at 100 ms boundaries of audio time."""
        import numpy as np

        x = np.abs(samples[: self.want - self.total].astype(np.int32))
        while len(x):
            step = METER_STEP - self.total % METER_STEP
            part, x = x[:step], x[step:]
            self._add_step(part)

    def _add_step(self, part: Any) -> None:
        import numpy as np

        top = int(part.max())
        self.peak, self.block_peak = max(self.peak, top), max(self.block_peak, top)
        self.clipped += int(np.count_nonzero(part >= 32767))
        self.energy += float(np.dot(part, part.astype(np.float64)))
        self.total += len(part)
        if self.meter is not None and (self.total % METER_STEP == 0 or self.total >= self.want):
            self.meter(self.total / 16000, dbfs(self.block_peak))
            self.block_peak = 0

    def judge(self, where: str) -> Check:
        """The microphone's check from the levels: silent, clipping, or fine."""
        rms = dbfs(math.sqrt(self.energy / self.total))
        levels = (f"{self.total / 16000:.1f} s, peak {fmt_db(dbfs(self.peak))} dBFS, "
                  f"rms {fmt_db(rms)} dBFS")
        if dbfs(self.peak) < SILENT_DBFS:
            return Check(
                "microphone",
                None,
                f"microphone is silent ({where}: {levels})",
                "check alsamixer capture level (alsamixer, F4, select the card with F6) / the "
                "device (`voice-agent devices`, audio.input.device)",
            )
        if self.clipped > CLIP_SHARE * self.total:
            return Check(
                "microphone",
                None,
                f"microphone clips: {100 * self.clipped / self.total:.1f} % of samples at full "
                f"scale ({where}: {levels})",
                "lower the capture level in alsamixer (F4), or speak further from the microphone",
            )
        return Check("microphone", True, f"{where}: {levels}")


def check_microphone(
    inp: Any,
    seconds: float = 3.0,
    meter: Meter | None = None,
    on_audio: Callable[[Any], None] | None = None,
) -> Check:
    """Capture ``seconds`` of audio (audio time) from ``audio.input`` and judge its level.

    ``on_audio`` gets every captured block of 16 kHz int16 samples (the room's
    noise floor is measured from them: :func:`agent.doctor.system.check_gate`).
    """
    from agent.audio.quiet import quiet_portaudio
    from agent.audio.sources import SourceError, open_source

    what = _describe_input(inp)
    errors: list[str] = []
    opened: list[Any] = []

    def on_error(message: str) -> None:
        # The source would retry for ever; the doctor reports instead.
        errors.append(message)
        if opened:
            opened[0].close()

    try:
        with quiet_portaudio():
            source = open_source(inp, on_error=on_error)
    except (SourceError, ValueError, OSError) as exc:
        return Check("microphone", False, f"{what}: {exc}", FIX_DEVICE)
    opened.append(source)
    levels = _Levels(max(1, round(seconds * 16000)), meter)
    rate = _capture(source, levels, errors, on_audio, backstop_s=3 * seconds + 15)
    where = f"{what} at {rate} Hz" if rate else what
    if errors or levels.total == 0:
        reason = errors[0] if errors else "no audio arrived"
        return Check("microphone", False, f"{where}: {reason}", FIX_DEVICE)
    return levels.judge(where)


def _capture(
    source: Any,
    levels: _Levels,
    errors: list[str],
    on_audio: Callable[[Any], None] | None,
    backstop_s: float,
) -> int | None:
    """Read until ``levels`` has what it wants, an error, or the end; the rate it opened at."""
    # A backstop for a device that neither delivers nor reports an error.
    guard = threading.Timer(backstop_s, source.close)
    guard.daemon = True
    guard.start()
    rate = None
    try:
        while not errors and levels.total < levels.want:
            frame = source.read()
            if frame is None:
                break
            # Read while open: the source forgets its format once closed.
            rate = getattr(source, "opened_rate", None) or rate
            if on_audio is not None:
                on_audio(frame.samples[: levels.want - levels.total])
            levels.add(frame.samples)
    finally:
        guard.cancel()
        source.close()
    return rate


def check_speaker(out: Any, timeout_s: float = 10.0) -> Check:
    """Play the built-in ``done`` sound through ``audio.output`` (the daemon's player)."""
    from agent.audio.playback import Player
    from agent.audio.quiet import quiet_portaudio
    from agent.audio.sounds import builtin_sound

    what = f"file {out.file}" if out.file else f"device {out.device!r}"
    fix = (
        "pick the speaker: `voice-agent devices` lists them; set audio.output.device "
        "to a part of its name or its index"
    )
    errors: list[str] = []
    try:
        with quiet_portaudio():
            player = Player.from_settings(out, on_error=errors.append)
    except (OSError, ValueError) as exc:
        return Check("speaker", False, f"{what}: {exc}", fix)
    try:
        sound = builtin_sound("done")
        if not errors:
            played = player.play_sound(sound).wait(timeout_s)
            if not played:
                errors.append(f"the sound did not finish playing within {timeout_s:g} s")
            elif not errors:
                player.sink.drain()  # the sound is idle in the player: let the device finish it
    finally:
        player.close()
    if errors:
        return Check("speaker", False, f"{what}: {errors[0]}", fix)
    rate = player.sink.rate
    detail = f"played the done sound ({len(sound) / 16000:.2f} s) on {what} at {rate} Hz"
    if out.volume <= 0:
        return Check(
            "speaker", None, f"{detail}, but audio.output.volume is 0", "raise audio.output.volume"
        )
    return Check(
        "speaker",
        True,
        f"{detail}; if you heard nothing, check alsamixer's playback level",
    )


def check_sound_devices(directory: str = "/dev/snd") -> Check:
    """Whether the user running the doctor may open the ALSA device files."""
    import pwd

    try:
        me = pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        me = str(os.geteuid())
    name = "sound devices"
    path = Path(directory)
    if not path.is_dir():
        return Check(
            name,
            None,
            f"{directory} does not exist: the kernel has no sound card (arecord -l lists none)",
            "connect a USB microphone or sound card, or enable the HAT's driver "
            "(dtoverlay in /boot/firmware/config.txt) and reboot",
        )
    files = sorted(p for p in path.iterdir() if p.name.startswith(("pcm", "control")))
    if not files:
        return Check(name, None, f"{directory} has no PCM or control devices", "see arecord -l")
    blocked = [p.name for p in files if not os.access(p, os.R_OK | os.W_OK)]
    if blocked:
        return Check(
            name,
            False,
            f"user {me} cannot open {', '.join(blocked)} in {directory}",
            f"sudo usermod -aG audio {me}, then log out and in again",
        )
    return Check(name, True, f"user {me} can open the {len(files)} devices in {directory}")
