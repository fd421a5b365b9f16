"""The push-to-talk button and the status LED, end to end, on gpiozero's own
MockFactory pins (the only stand-in: this machine has no GPIO)."""

from __future__ import annotations

from pathlib import Path

import pytest
from daemon_harness import running, settings_for
from gpiozero.pins.mock import MockFactory
from scripted_gateway import Reply, ScriptedGateway
from speech import compose, tone

BUTTON, LED = 17, 27


@pytest.fixture
def question(tmp_path: Path) -> Path:
    audio, _ = compose(
        tmp_path / "in.wav",
        [
            ("pause", 1.0),
            ("say", "what time is it"),
            ("pause", 4.0),
        ],
    )
    return audio


def _settings(gw: ScriptedGateway, audio: Path, tmp: Path, mode: str, **extra: object):
    return settings_for(
        gw.url,
        str(audio),
        str(tmp / "out.wav"),
        gpio={"button": BUTTON, "led": LED, "button_mode": mode, **extra},
    )


def test_press_mode_vad_ends_and_led_follows(
    pins: MockFactory, question: Path, tmp_path: Path
) -> None:
    button, led = pins.pin(BUTTON), pins.pin(LED)
    with ScriptedGateway([Reply(audio=tone(1.0))]) as gw:
        with running(_settings(gw, question, tmp_path, "press")) as (daemon, events):
            assert events.wait_count("connected")
            assert events.wait(lambda e: daemon.parts.gpio.led.pattern == "off", 10)
            assert led.state == 0  # idle and connected: off
            button.drive_low()  # press
            assert events.wait_count("listening", 1, 10, reason="button")
            button.drive_high()
            assert events.wait(lambda e: daemon.parts.gpio.led.pattern == "on", 10)
            assert led.state == 1  # listening: on
            assert events.wait_count("audio_end", 1, 20)
            assert events.wait_count("playback_start", 1, 20)
            assert events.wait(lambda e: daemon.parts.gpio.led.pattern == "slow_blink", 10)
            assert events.wait_count("playback_end", 1, 20)
            assert events.wait(lambda e: e.states()[-1] == "idle", 10)
            assert events.wait(lambda e: daemon.parts.gpio.led.pattern == "off", 10)
        assert events.of("audio_end")[0]["reason"] == "vad"
        assert len(gw.transactions) == 1
        assert gw.transactions[0].options is None  # a button turn names no wake word


def test_press_again_ends_the_utterance(pins: MockFactory, question: Path, tmp_path: Path) -> None:
    button = pins.pin(BUTTON)
    with ScriptedGateway([Reply(audio=tone(0.2))]) as gw:
        with running(_settings(gw, question, tmp_path, "press")) as (_d, events):
            assert events.wait_count("connected")
            button.drive_low()
            button.drive_high()
            assert events.wait_count("audio_start", 1, 10)
            button.drive_low()  # second press while listening
            button.drive_high()
            assert events.wait_count("audio_end", 1, 10)
        assert events.of("audio_end")[0]["reason"] == "button"


def test_hold_mode_streams_until_release(pins: MockFactory, question: Path, tmp_path: Path) -> None:
    button = pins.pin(BUTTON)
    with ScriptedGateway([Reply(audio=tone(0.2))]) as gw:
        with running(_settings(gw, question, tmp_path, "hold")) as (_d, events):
            assert events.wait_count("connected")
            button.drive_low()
            assert events.wait_count("listening", 1, 10, reason="button")
            # Hold well past the end of speech + silence_ms: silence must not end it.
            assert gw.wait_for(
                lambda: bool(gw.transactions) and len(gw.transactions[0].audio) >= 4.0 * 32000, 20
            )
            assert "audio_end" not in events.names()
            button.drive_high()
            assert events.wait_count("audio_end", 1, 10)
        assert events.of("audio_end")[0]["reason"] == "button"


def test_long_press_cancels_the_turn(pins: MockFactory, question: Path, tmp_path: Path) -> None:
    button = pins.pin(BUTTON)
    with ScriptedGateway([Reply(audio=tone(0.5))]) as gw:
        settings = _settings(gw, question, tmp_path, "press", long_press_s=0.3)
        with running(settings) as (_d, events):
            assert events.wait_count("connected")
            button.drive_low()
            assert events.wait_count("audio_start", 1, 10)
            assert events.wait_count("audio_end", 1, 10)  # held: cancelled
            button.drive_high()
            assert events.wait(lambda e: e.states()[-1] == "idle", 10)
            assert gw.wait_for(lambda: bool(gw.transactions) and gw.transactions[0].ended, 10)
        assert events.of("audio_end")[0]["reason"] == "button"
        assert "playback_start" not in events.names()  # the reply was not played


def test_led_blinks_fast_on_error_then_shows_idle(
    pins: MockFactory, question: Path, tmp_path: Path
) -> None:
    button = pins.pin(BUTTON)
    with ScriptedGateway([Reply(error="no skill for that")]) as gw:
        with running(_settings(gw, question, tmp_path, "press")) as (daemon, events):
            led = daemon.parts.gpio.led
            assert events.wait_count("connected")
            button.drive_low()
            button.drive_high()
            assert events.wait_count("error", 1, 20)
            assert events.wait(lambda e: led.pattern == "fast_blink", 10)
            assert events.wait(lambda e: led.pattern == "off", 15)  # back to idle
            assert events.states()[-1] == "idle"
        assert gw.transactions
