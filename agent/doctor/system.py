"""The checks of ``voice-agent doctor``: each a small function returning :class:`Check`.

Every check uses the daemon's own code path for the thing it checks
(:func:`~agent.config.load_config`, :func:`~agent.audio.sources.open_source`,
:meth:`~agent.audio.playback.Player.from_settings`, the wake model loader,
:func:`~agent.device.gpio.open_gpio`; the gateway checks are in
:mod:`agent.doctor.gateway`), and says in one line what is wrong and in
another what to do about it. Heavy modules are imported inside the checks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.doctor.report import Check

SERVICE_USER = "voice-agent"
"""The system user ``scripts/install.sh`` creates for the service."""


def check_config(path: str) -> tuple[Check, Any]:
    """Load the configuration: (OK, settings) or (FAIL with the one-line error, None)."""
    from agent.common.settings_values import ConfigError
    from agent.config.load import load_config

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


def check_wake_models(wake: Any) -> list[Check]:
    """Load each wake model (name, file, threshold), then the whole detector as the daemon does."""
    from agent.hearing.engines import resolve_engine
    from agent.hearing.micro import MicroModelError, resolve_micro
    from agent.hearing.models import Classifier, WakeModelError, resolve_model
    from agent.hearing.wake import WakeDetector

    checks = []
    for model in wake.models:
        name = f"wake {Path(model).name}"
        try:
            micro = resolve_engine(model, wake.engine_for(model)) == "micro"
            if micro:
                found = resolve_micro(model)
                named = isinstance(wake.threshold, dict) and found.name in wake.threshold
                limit = wake.threshold_for(model) if named else found.cutoff
                checks.append(
                    Check(
                        f"wake {found.name}",
                        True,
                        f"microWakeWord {found.manifest.name}, threshold {limit:g}",
                    )
                )
                continue
        except (WakeModelError, MicroModelError) as exc:
            checks.append(Check(name, False, str(exc), "see wake.models and wake.engine"))
            continue
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


def check_gpio(gpio: Any, verbose: bool = False) -> Check:
    """Open the configured button and LED through gpiozero (mock pins count).

    With no pin configured a missing pin factory is no problem, so gpiozero's
    long list of backends it could not load is only shown with ``verbose``.
    """
    from gpiozero import Device

    # pin_factory_problem is what open_gpio itself runs; used alone when no pin is set.
    from agent.device.gpio import open_gpio, pin_factory_problem

    pins = [
        f"{what} on GPIO{pin}"
        for what, pin in (("button", gpio.button), ("LED", gpio.led))
        if pin is not None
    ]
    if not pins:
        reason = pin_factory_problem()
        if reason is None:
            where = "GPIO is available"
        elif verbose:
            where = f"no GPIO here ({reason})"
        else:
            where = "no GPIO on this machine (--verbose says why)"
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


def check_gate(wake: Any, audio: Any) -> Check:
    """The room's noise floor (from the microphone's audio) and whether the gate will close.

    The audio is judged by the same :class:`~agent.hearing.gate.SilenceGate` the daemon
    builds from ``wake``; the gate closes (the wake models stop) once a whole scoring
    window (about 2 s) of frames is quiet.
    """
    import numpy as np

    from agent.hearing.gate import GateMode, SilenceGate

    name = "silence gate"
    if wake.noise_gate_dbfs is None:
        return Check(name, True, "off (wake.noise_gate_dbfs: null): the models run on every frame")
    mode: GateMode = "fixed" if wake.noise_gate == "fixed" else "adaptive"
    gate = SilenceGate(mode, wake.noise_gate_dbfs, wake.noise_gate_margin_db)
    samples = np.asarray(audio, dtype=np.int16).reshape(-1)
    frames = samples[: samples.size - samples.size % 1280].reshape(-1, 1280)
    if len(frames) < 5:
        return Check(name, None, "too little microphone audio to judge the room", "")
    quiet = [gate.quiet(f) for f in frames]
    # The floor only falls at once; judge the second half, once it has settled.
    settled = quiet[len(quiet) // 2 :]
    share = sum(settled) / len(settled)
    floor = gate.floor.level
    room = "digital silence" if floor is None else f"{floor:.1f} dBFS"
    detail = (
        f"room's noise floor {room}; {mode} gate: quiet below {gate.threshold_dbfs:.1f} dBFS, "
        f"{100 * share:.0f} % of frames quiet"
    )
    if share >= 0.8:
        return Check(name, True, f"{detail}: it will close in this room (the models rest)")
    closing = f"{detail}: it will not close (the models run all the time)"
    if mode == "fixed":
        adaptive = SilenceGate("adaptive", wake.noise_gate_dbfs, wake.noise_gate_margin_db)
        would = [adaptive.quiet(f) for f in frames][len(frames) // 2 :]
        if sum(would) / len(would) >= 0.8:
            return Check(
                name, None, closing, "set wake.noise_gate: adaptive (it follows the room's floor)"
            )
    # Speech during the check keeps any gate open: a fact to know, not a fault.
    return Check(name, True, closing + "; if the room was quiet, it is too loud or changing")
