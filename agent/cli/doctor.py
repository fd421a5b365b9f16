"""``voice-agent doctor [--config PATH] [--seconds 3] [--echo]``: is this device ready to talk?

Checks in turn, one line each (OK / WARN / FAIL, and under a WARN or FAIL
what to do about it):

1. the configuration (when it is invalid: its one-line error, and stop);
2. the microphone: ``--seconds`` of audio from ``audio.input`` with a level
   meter, warning on silence or clipping; from the same audio, the room's noise
   floor and whether the silence gate will close;
3. the speaker: the built-in done sound through ``audio.output``; with
   ``--echo``, a chirp and noise played while the microphone listens: the echo
   delay and level, and whether echo cancellation converges;
4. each wake model and its threshold, then the whole detector; then whether this
   board is fast enough: the live audio's CPU (wake word engine and VAD), and what
   the gateway service on this board said about its own speed;
5. the gateway: DNS, TCP, TLS, credentials, WebSocket handshake, ping/pong;
6. GPIO: the configured button and LED (a FAIL only when pins are configured);
7. the service user ``voice-agent`` and its groups, and whether the user
   running the doctor may open ``/dev/snd/*``.

Exit status 0 when nothing FAILed (warnings allowed), 1 otherwise. The
daemon's log lines are hidden (each problem is already a check line) unless
``--verbose``.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import time
from typing import Any, TextIO

from agent.cli.main import DEFAULT_CONFIG
from agent.doctor.report import Check, fmt_db


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--config``, ``--seconds`` and ``--verbose``."""
    parser.add_argument(
        "--config",
        metavar="PATH",
        default=DEFAULT_CONFIG,
        help=f"configuration file (default: {DEFAULT_CONFIG})",
    )
    parser.add_argument(
        "--seconds",
        type=_positive,
        default=3.0,
        metavar="S",
        help="seconds of microphone audio to measure (default: 3)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="also show the daemon's log lines"
    )
    parser.add_argument(
        "--echo",
        action="store_true",
        help="play a chirp and noise on the speaker and measure the echo at the microphone "
        "(delay, level, whether echo cancellation converges); needs both in one room",
    )


def _positive(text: str) -> float:
    value = float(text)
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text}")
    return value


class Report:
    """Prints check lines and the live microphone meter; counts warnings and failures."""

    BAR = 30
    FLOOR_DBFS = -60.0

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.tty = out.isatty()
        self.checks: list[Check] = []
        self._meter_shown = False
        self._next_line_s = 1.0
        self._period_peak = -math.inf
        self._last_draw = 0.0

    def show(self, check: Check) -> None:
        """Print one check (and its fix) as soon as it is known."""
        self._clear_meter()
        self.checks.append(check)
        self.out.write(f"{check.status:<5} {check.name:<18} {check.detail}\n")
        if check.fix and check.ok is not True:
            self.out.write(f"{'':<5} {'':<18} fix: {check.fix}\n")
        self.out.flush()

    def meter(self, seconds: float, peak_dbfs: float) -> None:
        """The level meter: one updating line on a terminal, a line per second otherwise.

        Off a terminal each line shows the highest peak of its second.
        """
        if not self.tty:
            self._period_peak = max(self._period_peak, peak_dbfs)
            if seconds < self._next_line_s:
                return
            peak_dbfs, self._period_peak = self._period_peak, -math.inf
            self._next_line_s = math.floor(seconds) + 1.0
        filled = 0
        if peak_dbfs > self.FLOOR_DBFS:
            filled = round(self.BAR * (peak_dbfs - self.FLOOR_DBFS) / -self.FLOOR_DBFS)
        bar = "#" * filled + "-" * (self.BAR - filled)
        level = f"{fmt_db(peak_dbfs):>6}"
        text = f"{'':<5} {'microphone':<18} [{bar}] {level} dBFS  {seconds:4.1f} s"
        if self.tty:
            now = time.monotonic()
            if now - self._last_draw >= 0.05:
                self._last_draw = now
                self.out.write(f"\r{text}\x1b[K")
                self.out.flush()
                self._meter_shown = True
        else:
            self.out.write(text + "\n")
            self.out.flush()

    def _clear_meter(self) -> None:
        if self._meter_shown:
            self.out.write("\r\x1b[K")
            self._meter_shown = False

    @property
    def failures(self) -> int:
        """Checks that FAILed."""
        return sum(1 for c in self.checks if c.ok is False)

    @property
    def warnings(self) -> int:
        """Checks that WARNed."""
        return sum(1 for c in self.checks if c.ok is None)

    def summary(self) -> None:
        """The closing line."""
        f, w = self.failures, self.warnings
        verdict = "ready" if f == 0 else "not ready"
        self.out.write(f"\n{verdict}: {f} failure{'s' * (f != 1)}, {w} warning{'s' * (w != 1)}\n")
        self.out.flush()


def run(args: argparse.Namespace) -> int:
    """Run every check; 0 when none failed, 1 otherwise."""
    from agent.doctor import audio, system
    from agent.doctor.gateway import check_gateway

    # Every problem the adapters log also comes back as a check line.
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.CRITICAL,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    report = Report(sys.stdout)
    report.out.write(f"voice-agent doctor: {args.config}\n\n")
    check, settings = system.check_config(args.config)
    report.show(check)
    if settings is None:
        report.summary()
        return 1
    captured: list[object] = []
    report.show(
        audio.check_microphone(settings.audio.input, args.seconds, report.meter, captured.append)
    )
    if captured:
        import numpy as np

        report.show(system.check_gate(settings.wake, np.concatenate(captured)))  # type: ignore[arg-type]
    report.show(audio.check_speaker(settings.audio.output))
    if args.echo:
        report.show(_check_echo(settings))
    wake_checks = system.check_wake_models(settings.wake)
    for check in wake_checks:
        report.show(check)
    if all(c.ok for c in wake_checks):
        from agent.doctor.speed import check_speed

        report.show(check_speed(settings.wake, settings.gateway.url))
    for check in check_gateway(settings.gateway):
        report.show(check)
    gpio = settings.gpio
    report.show(system.check_gpio(gpio, verbose=args.verbose))
    needs_gpio = gpio.button is not None or gpio.led is not None
    report.show(system.check_service_user(needs_gpio))
    report.show(audio.check_sound_devices())
    report.summary()
    return 1 if report.failures else 0


def _check_echo(settings: Any) -> Check:
    """``--echo``: the chirp check on the configured microphone and speaker."""
    from agent.audio.quiet import quiet_portaudio
    from agent.audio.sinks import open_sink
    from agent.audio.sources import SourceError, open_source
    from agent.doctor.echo import check_echo

    try:
        with quiet_portaudio():
            source = open_source(settings.audio.input)
            sink = open_sink(settings.audio.output)
    except (SourceError, ValueError, OSError) as exc:
        return Check("echo", False, f"cannot open the audio devices: {exc}")
    try:
        return check_echo(source, sink)
    finally:
        source.close()
        sink.close()
