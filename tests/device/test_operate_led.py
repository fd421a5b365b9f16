"""Mute and the status LED and button, in the daemon (run in a thread), on
gpiozero's MockFactory pins (the only stand-in: this machine has no GPIO);
requests go over the real control socket."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from daemon_harness import running, settings_for
from gpiozero.pins.mock import MockFactory
from operate_support import client
from scripted_gateway import Reply, ScriptedGateway
from speech import compose, tone

BUTTON, LED = 17, 27


def test_mute_ends_a_turn_shows_on_the_led_and_the_button_is_refused(
    pins: MockFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="agent.device.conversation")
    audio, _ = compose(tmp_path / "in.wav", [("pause", 1.0), ("say", "what time"), ("pause", 30)])
    sock = tmp_path / "ctl.sock"
    button = pins.pin(BUTTON)
    with ScriptedGateway([Reply(silent=True)]) as gw:
        settings = settings_for(
            gw.url, str(audio), str(tmp_path / "out.wav"),
            gpio={"button": BUTTON, "led": LED}, control={"socket": str(sock)},
        )
        with running(settings) as (daemon, events), client(sock) as c:
            led = daemon.parts.gpio.led
            assert events.wait_count("connected")
            assert events.wait(lambda e: led.pattern == "off", 10)
            button.drive_low()
            button.drive_high()
            assert events.wait_count("audio_start", 1, 10)
            assert gw.wait_for(lambda: bool(gw.transactions), 10)
            assert c.send("mute") == {"ok": True, "muted": True, "changed": True}
            # The open turn ends at once, with its own reason.
            assert events.wait_count("audio_end", 1, 10, reason="muted")
            assert gw.wait_for(lambda: gw.transactions[0].ended, 10)
            assert events.states()[-1] == "idle"
            assert events.of("mute") == [{"muted": True}]
            assert events.wait(lambda e: led.pattern == "muted", 10)
            # The button does nothing while muted; the LED keeps showing it.
            button.drive_low()
            button.drive_high()
            assert events.wait(lambda e: "button: the microphone is muted" in caplog.text, 10)
            assert len(events.of("audio_start")) == 1
            assert led.pattern == "muted"
            assert c.send("unmute")["muted"] is False
            assert events.wait(lambda e: led.pattern == "off", 10)
            assert events.of("mute") == [{"muted": True}, {"muted": False}]


def test_a_missing_socket_directory_is_said_and_the_daemon_runs_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The default path's directory (/run/voice-agent) is missing off the service:
    # the daemon says so and runs on without a socket.
    audio, _ = compose(tmp_path / "in.wav", [("pause", 2.0)])
    missing = tmp_path / "no-such-dir" / "ctl.sock"
    with ScriptedGateway([Reply(audio=tone(0.2))]) as gw:
        settings = settings_for(
            gw.url, str(audio), str(tmp_path / "out.wav"), control={"socket": str(missing)}
        )
        with running(settings) as (daemon, events):
            assert events.wait_count("connected")
            assert daemon.operations.control is None
        assert not missing.exists()
    assert f"control socket off: {missing.parent} does not exist" in caplog.text
