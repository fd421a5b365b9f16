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
    import numpy as np

    from agent.audio.quiet import quiet_portaudio
    from agent.audio.sources import SourceError, open_source

    what = _describe_input(inp)
    fix_device = (
        "pick the microphone: `voice-agent devices` lists them; set audio.input.device "
        "to a part of its name or its index"
    )
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
        return Check("microphone", False, f"{what}: {exc}", fix_device)
    opened.append(source)
    # A backstop for a device that neither delivers nor reports an error.
    guard = threading.Timer(3 * seconds + 15, source.close)
    guard.daemon = True
    guard.start()
    want = max(1, round(seconds * 16000))
    total = clipped = peak = 0
    energy = 0.0
    block_peak = 0  # of the current 100 ms of audio (the meter's step)
    rate = None
    try:
        while not errors and total < want:
            frame = source.read()
            if frame is None:
                break
            # Read while open: the source forgets its format once closed.
            rate = getattr(source, "opened_rate", None) or rate
            if on_audio is not None:
                on_audio(frame.samples[: want - total])
            x = np.abs(frame.samples[: want - total].astype(np.int32))
            while len(x):
                # Cut at 100 ms boundaries of audio time, so the meter steps evenly.
                step = METER_STEP - total % METER_STEP
                part, x = x[:step], x[step:]
                top = int(part.max())
                peak, block_peak = max(peak, top), max(block_peak, top)
                clipped += int(np.count_nonzero(part >= 32767))
                energy += float(np.dot(part, part.astype(np.float64)))
                total += len(part)
                if meter is not None and (total % METER_STEP == 0 or total >= want):
                    meter(total / 16000, dbfs(block_peak))
                    block_peak = 0
    finally:
        guard.cancel()
        source.close()
    where = f"{what} at {rate} Hz" if rate else what
    if errors or total == 0:
        reason = errors[0] if errors else "no audio arrived"
        return Check("microphone", False, f"{where}: {reason}", fix_device)
    rms = dbfs(math.sqrt(energy / total))
    levels = f"{total / 16000:.1f} s, peak {fmt_db(dbfs(peak))} dBFS, rms {fmt_db(rms)} dBFS"
    if dbfs(peak) < SILENT_DBFS:
        return Check(
            "microphone",
            None,
            f"microphone is silent ({where}: {levels})",
            "check alsamixer capture level (alsamixer, F4, select the card with F6) / the device "
            "(`voice-agent devices`, audio.input.device)",
        )
    if clipped > CLIP_SHARE * total:
        return Check(
            "microphone",
            None,
            f"microphone clips: {100 * clipped / total:.1f} % of samples at full scale "
            f"({where}: {levels})",
            "lower the capture level in alsamixer (F4), or speak further from the microphone",
        )
    return Check("microphone", True, f"{where}: {levels}")


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
