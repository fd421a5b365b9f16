"""The checks of ``voice-agent doctor``: each a small function returning :class:`Check`.

Every check uses the daemon's own code path for the thing it checks
(:func:`~agent.config.load_config`, :func:`~agent.audio.sources.open_source`,
:meth:`~agent.audio.playback.Player.from_settings`, the wake model loader,
:func:`~agent.gpio.open_gpio`; the gateway checks are in
:mod:`agent.doctor_gateway`), and says in one line what is wrong and in
another what to do about it. Heavy modules are imported inside the checks.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SERVICE_USER = "voice-agent"
"""The system user ``scripts/install.sh`` creates for the service."""

SILENT_DBFS = -60.0
"""A microphone whose peak stays below this level (dBFS) counts as silent."""

CLIP_SHARE = 0.001
"""A microphone with more than this share of samples at full scale counts as clipping."""

METER_STEP = 1600
"""Samples (100 ms of audio) per step of the level meter."""

Meter = Callable[[float, float], None]
"""Called with (seconds of audio so far, peak dBFS of the latest ~100 ms)."""


@dataclass(frozen=True)
class Check:
    """The outcome of one check: ``ok`` True (OK), None (WARN) or False (FAIL)."""

    name: str
    ok: bool | None
    detail: str
    fix: str | None = None
    """What to do about a WARN or FAIL (None when there is nothing to do)."""

    @property
    def status(self) -> str:
        """``OK``, ``WARN`` or ``FAIL``."""
        return {True: "OK", None: "WARN", False: "FAIL"}[self.ok]


def dbfs(peak: float) -> float:
    """The level of a peak sample value (int16 scale) in dBFS; -inf for 0."""
    return 20 * math.log10(peak / 32768) if peak > 0 else -math.inf


def fmt_db(level: float) -> str:
    """A level in dB with one decimal ("-inf" for silence, never "-0.0")."""
    return f"{round(level, 1) + 0.0:.1f}" if math.isfinite(level) else "-inf"


def check_config(path: str) -> tuple[Check, Any]:
    """Load the configuration: (OK, settings) or (FAIL with the one-line error, None)."""
    from agent.config import ConfigError, load_config

    try:
        settings = load_config(path)
    except ConfigError as err:
        return (
            Check(
                "configuration",
                False,
                str(err),
                f"edit {path}; `voice-agent check-config {path}` checks it "
                "(config/agent.yaml is the annotated example)",
            ),
            None,
        )
    return Check("configuration", True, f"{path} is valid"), settings


def _describe_input(inp: Any) -> str:
    if inp.file:
        return f"file {inp.file}"
    if inp.command:
        return f"command {inp.command!r}"
    return f"device {inp.device!r}"


def check_microphone(inp: Any, seconds: float = 3.0, meter: Meter | None = None) -> Check:
    """Capture ``seconds`` of audio (audio time) from ``audio.input`` and judge its level."""
    import numpy as np

    from agent.audio.sources import SourceError, open_source
    from agent.cmd_devices import quiet_portaudio

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
    from agent.audio.sounds import builtin_sound
    from agent.cmd_devices import quiet_portaudio

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


def check_wake_models(wake: Any) -> list[Check]:
    """Load each wake model (name, file, threshold), then the whole detector as the daemon does."""
    from agent.wake import WakeDetector
    from agent.wake_models import Classifier, WakeModelError, resolve_model

    checks = []
    for model in wake.models:
        name = f"wake {Path(model).name}"
        try:
            spec = resolve_model(model)
            classifier = Classifier(spec)
        except WakeModelError as exc:
            checks.append(
                Check(
                    name,
                    False,
                    str(exc),
                    "use a built-in model (alexa, hey_jarvis, hey_mycroft, hey_rhasspy, timer, "
                    "weather) or an openWakeWord .onnx file in wake.models",
                )
            )
            continue
        labels = list(classifier.labels.values())
        classes = f" (classes {', '.join(labels)})" if labels != [spec.name] else ""
        checks.append(
            Check(
                f"wake {spec.name}",
                True,
                f"loaded {spec.path.name}{classes}, threshold {wake.threshold_for(model):g}",
            )
        )
    if all(c.ok for c in checks):
        try:
            WakeDetector.from_settings(wake)
        except WakeModelError as exc:
            checks.append(Check("wake detector", False, str(exc), "see wake.models"))
    return checks


def check_gpio(gpio: Any) -> Check:
    """Open the configured button and LED through gpiozero (mock pins count)."""
    from gpiozero import Device

    # pin_factory_problem is what open_gpio itself runs; used alone when no pin is set.
    from agent.gpio import open_gpio, pin_factory_problem

    pins = [
        f"{what} on GPIO{pin}"
        for what, pin in (("button", gpio.button), ("LED", gpio.led))
        if pin is not None
    ]
    if not pins:
        reason = pin_factory_problem()
        where = "GPIO is available" if reason is None else f"no GPIO here ({reason})"
        return Check("gpio", True, f"no button or LED configured; {where}")
    try:
        opened = open_gpio(
            gpio.button, gpio.led, button_mode=gpio.button_mode, long_press_s=gpio.long_press_s
        )
    except Exception as exc:  # gpiozero's own errors: a busy or invalid pin
        return Check(
            "gpio",
            False,
            f"{', '.join(pins)}: {exc.__class__.__name__}: {exc}",
            "is the service running and holding the pins (sudo systemctl stop voice-agent)? "
            "otherwise check gpio.button / gpio.led (BCM numbers)",
        )
    try:
        if opened.unavailable_reason is not None:
            return Check(
                "gpio",
                False,
                f"{', '.join(pins)} configured, but GPIO is not available: "
                f"{opened.unavailable_reason}",
                "run on a Raspberry Pi with gpiozero's lgpio backend (python3-lgpio, or "
                "`pip install lgpio` in the venv) as a user in group gpio; "
                "or remove gpio.button / gpio.led",
            )
        factory = type(Device.pin_factory).__name__
        return Check("gpio", True, f"{', '.join(pins)} (pin factory {factory})")
    finally:
        opened.close()


def check_service_user(needs_gpio: bool, user: str = SERVICE_USER) -> Check:
    """Whether the service user exists and is in the groups ``audio`` (and ``gpio``)."""
    import grp
    import pwd

    name = f"user {user}"
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return Check(
            name,
            None,
            f"user {user} does not exist: not installed as a service",
            "sudo scripts/install.sh creates it (ignore this if you run voice-agent by hand)",
        )
    groups = {g.gr_name for g in grp.getgrall() if user in g.gr_mem}
    try:
        groups.add(grp.getgrgid(entry.pw_gid).gr_name)
    except KeyError:
        pass
    problems: list[str] = []
    fixes: list[str] = []
    failed = False
    if "audio" not in groups:
        problems.append("not in group audio (it cannot open the sound devices)")
        fixes.append(f"sudo usermod -aG audio {user}")
        failed = True
    if "gpio" not in groups:
        try:
            grp.getgrnam("gpio")
        except KeyError:
            # Not Raspberry Pi OS: only worth a word when pins are configured (and
            # the gpio check says more).
            if needs_gpio:
                problems.append("there is no group gpio on this machine (not Raspberry Pi OS?)")
        else:
            problems.append("not in group gpio (it cannot use the button and LED)")
            fixes.append(f"sudo usermod -aG gpio {user}")
            failed = failed or needs_gpio
    if not problems:
        return Check(name, True, f"{user} is in group audio" + (" and gpio" * ("gpio" in groups)))
    fix = "; ".join([*fixes, "then sudo systemctl restart voice-agent"]) if fixes else None
    return Check(name, False if failed else None, f"{user}: {'; '.join(problems)}", fix)


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
