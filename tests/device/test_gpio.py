"""Button and LED adapters against gpiozero's own MockFactory.

Nothing of ours is mocked: gpiozero's MockFactory stands in for the Pi's
GPIO chip (there is none here), and the no-GPIO path runs in a subprocess with
gpiozero's real pin factory lookup.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from gpiozero import Device
from gpiozero.exc import PinInvalidPin
from gpiozero.pins.mock import MockFactory

from agent.device.button import ButtonMode, PushToTalk
from agent.device.gpio import Gpio, open_gpio
from agent.device.led import StatusLed

REPO = Path(__file__).resolve().parents[2]
BUTTON, LED_PIN = 17, 27
TIMEOUT = 10.0  # generous: the machine may be busy


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    """gpiozero's MockFactory as the default pin factory, restored afterwards."""
    saved = Device.pin_factory
    mock = MockFactory()
    Device.pin_factory = mock
    threads_before = set(threading.enumerate())
    try:
        yield mock
    finally:
        mock.reset()
        Device.pin_factory = saved
    # Every device was closed: no gpiozero hold/blink thread or timer is left.
    left = [t for t in threading.enumerate() if t not in threads_before and t.is_alive()]
    assert not left, left


def wait_for(predicate: Callable[[], bool], timeout: float = TIMEOUT) -> bool:
    """Poll a condition that another thread makes true; False on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


class Recorder:
    """Collects button callbacks as the daemon would (it would post events)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float | None]] = []
        self.pressed = threading.Event()
        self.released = threading.Event()
        self.long = threading.Event()

    def on_press(self) -> None:
        self.calls.append(("press", None))
        self.pressed.set()

    def on_release(self, held_s: float) -> None:
        self.calls.append(("release", held_s))
        self.released.set()

    def on_long_press(self) -> None:
        self.calls.append(("long", None))
        self.long.set()

    def kw(self) -> dict[str, Any]:
        return {
            "on_press": self.on_press,
            "on_release": self.on_release,
            "on_long_press": self.on_long_press,
        }


def test_press_and_release_report_held_time(factory: MockFactory) -> None:
    rec = Recorder()
    button = PushToTalk(BUTTON, mode="hold", long_press_s=30, **rec.kw())
    try:
        assert button.mode == "hold" and button.enabled
        pin = factory.pin(BUTTON)
        assert pin.state == 1  # pulled up: released
        before_press = time.monotonic()
        pin.drive_low()
        assert rec.pressed.wait(TIMEOUT)
        assert button.is_pressed
        after_press = time.monotonic()
        time.sleep(0.05)
        before_release = time.monotonic()
        pin.drive_high()
        assert rec.released.wait(TIMEOUT)
        after_release = time.monotonic()
    finally:
        button.close()
    assert [name for name, _ in rec.calls] == ["press", "release"]
    held = rec.calls[1][1]
    assert held is not None
    # MockFactory's clock is time.monotonic, so the held time lies between
    # what the test saw on either side of each edge.
    assert before_release - after_press <= held <= after_release - before_press


def test_long_press_fires_once_per_press(factory: MockFactory) -> None:
    rec = Recorder()
    button = PushToTalk(BUTTON, long_press_s=0.2, **rec.kw())
    try:
        pin = factory.pin(BUTTON)
        pin.drive_low()
        assert rec.long.wait(TIMEOUT)
        # Keep holding for several more hold times: with hold_repeat it would
        # fire again. (A slow machine only makes this check weaker.)
        time.sleep(0.6)
        pin.drive_high()
        assert rec.released.wait(TIMEOUT)
        # A second press fires again, once.
        rec.long.clear()
        pin.drive_low()
        assert rec.long.wait(TIMEOUT)
        pin.drive_high()
    finally:
        button.close()  # joins gpiozero's hold thread: no callback after this
    assert [name for name, _ in rec.calls] == [
        "press",
        "long",
        "release",
        "press",
        "long",
        "release",
    ]
    assert rec.calls[2][1] is not None and rec.calls[2][1] >= 0.2


def test_short_press_is_not_a_long_press(factory: MockFactory) -> None:
    rec = Recorder()
    button = PushToTalk(BUTTON, long_press_s=30, **rec.kw())
    try:
        pin = factory.pin(BUTTON)
        pin.drive_low()
        pin.drive_high()
        assert rec.released.wait(TIMEOUT)
    finally:
        button.close()
    assert [name for name, _ in rec.calls] == ["press", "release"]


def test_failing_callback_is_logged_and_later_events_still_arrive(
    factory: MockFactory, caplog: pytest.LogCaptureFixture
) -> None:
    rec = Recorder()

    def broken() -> None:
        raise RuntimeError("daemon bug")

    button = PushToTalk(BUTTON, long_press_s=30, on_press=broken, on_release=rec.on_release)
    try:
        pin = factory.pin(BUTTON)
        with caplog.at_level(logging.ERROR, logger="agent.device"):
            pin.drive_low()
            pin.drive_high()
            assert rec.released.wait(TIMEOUT)
    finally:
        button.close()
    assert any("on_press callback failed" in r.getMessage() for r in caplog.records)


def test_bad_button_parameters_are_rejected() -> None:
    with pytest.raises(ValueError, match="mode"):
        PushToTalk(None, mode="toggle")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="long_press_s"):
        PushToTalk(None, long_press_s=0)


def test_led_on_and_off_drive_the_pin(factory: MockFactory) -> None:
    changes: list[str] = []
    led = StatusLed(LED_PIN, on_change=changes.append)
    try:
        pin = factory.pin(LED_PIN)
        assert led.pattern == "off" and pin.state == 0
        led.on()
        assert led.pattern == "on" and pin.state == 1
        led.off()
        assert led.pattern == "off" and pin.state == 0
        led.off()  # no change, no event
    finally:
        led.close()
    assert changes == ["on", "off"]
    led.slow_blink()  # after close: ignored, no thread started
    led.fast_blink(0.01)
    assert led.pattern == "off"


@pytest.mark.parametrize("pattern", ["slow_blink", "disconnected", "fast_blink"])
def test_blinking_patterns_toggle_the_pin(factory: MockFactory, pattern: str) -> None:
    led = StatusLed(LED_PIN, error_s=60)
    try:
        pin = factory.pin(LED_PIN)
        pin.clear_states()
        getattr(led, pattern)()
        assert led.pattern == pattern
        # off, on, off: the blink thread is really toggling the pin
        assert wait_for(lambda: [s.state for s in pin.states][:3] == [False, True, False])
        led.off()
        assert led.pattern == "off"
        assert pin.state == 0
    finally:
        led.close()


def test_blink_timings_follow_the_pattern(factory: MockFactory) -> None:
    led = StatusLed(LED_PIN)
    try:
        pin = factory.pin(LED_PIN)
        pin.clear_states()
        led.disconnected()
        assert wait_for(lambda: len(pin.states) >= 3)
        led.off()
    finally:
        led.close()
    # states[i].timestamp is the time the pin spent in the previous state, so
    # states[2] is how long it was on. Only a lower bound: the blink thread
    # can be late, never early.
    assert pin.states[1].state is True and pin.states[2].state is False
    assert pin.states[2].timestamp >= StatusLed.DISCONNECTED[0]


def test_fast_blink_returns_to_previous_pattern(factory: MockFactory) -> None:
    changes: list[str] = []
    back = threading.Event()

    def on_change(name: str) -> None:
        changes.append(name)
        if len(changes) >= 3:
            back.set()

    led = StatusLed(LED_PIN, on_change=on_change)
    try:
        pin = factory.pin(LED_PIN)
        led.slow_blink()
        led.fast_blink(duration_s=0.3)
        assert led.pattern == "fast_blink"
        assert back.wait(TIMEOUT)
        assert led.pattern == "slow_blink"
        pin.clear_states()
        assert wait_for(lambda: len(pin.states) >= 2)  # blinking again
    finally:
        led.close()
    assert changes == ["slow_blink", "fast_blink", "slow_blink"]


def test_a_pattern_set_during_fast_blink_wins(factory: MockFactory) -> None:
    changes: list[str] = []
    led = StatusLed(LED_PIN, on_change=changes.append)
    try:
        pin = factory.pin(LED_PIN)
        led.fast_blink(duration_s=0.2)
        led.on()
        # Wait past the error time: a timer that was not cancelled would
        # switch back to "off" here. (A slow machine only weakens the check.)
        time.sleep(0.4)
        assert led.pattern == "on" and pin.state == 1
    finally:
        led.close()
    assert changes == ["fast_blink", "on"]


def test_fast_blink_twice_keeps_the_original_pattern(factory: MockFactory) -> None:
    back = threading.Event()
    led = StatusLed(LED_PIN, on_change=lambda name: back.set() if name == "on" else None)
    try:
        led.on()
        back.clear()
        led.fast_blink(duration_s=0.2)
        led.fast_blink(duration_s=0.2)
        assert back.wait(TIMEOUT)
        assert led.pattern == "on"
        assert factory.pin(LED_PIN).state == 1
    finally:
        led.close()


def test_open_gpio_with_mock_factory(factory: MockFactory) -> None:
    rec = Recorder()
    gpio = open_gpio(BUTTON, LED_PIN, button_mode="press", long_press_s=0.2, **rec.kw())
    try:
        assert gpio.available and gpio.unavailable_reason is None
        assert gpio.button.mode == "press"
        factory.pin(BUTTON).drive_low()
        assert rec.long.wait(TIMEOUT)
        factory.pin(BUTTON).drive_high()
        gpio.led.on()
        assert factory.pin(LED_PIN).state == 1
    finally:
        gpio.close()
        gpio.close()  # idempotent
    assert [name for name, _ in rec.calls] == ["press", "long", "release"]
    # Pins were released: they can be opened again.
    again = open_gpio(BUTTON, LED_PIN)
    again.close()


def test_open_gpio_led_only(factory: MockFactory) -> None:
    gpio = open_gpio(None, LED_PIN)
    try:
        assert not gpio.button.enabled and gpio.led.enabled and gpio.available
    finally:
        gpio.close()


def test_open_gpio_releases_button_when_led_pin_fails(factory: MockFactory) -> None:
    with pytest.raises(PinInvalidPin):  # gpiozero's own error for a pin that does not exist
        open_gpio(BUTTON, 9999)
    # The button pin was released again.
    open_gpio(BUTTON, None).close()


def test_from_settings_uses_the_gpio_section(factory: MockFactory) -> None:
    @dataclass(frozen=True)
    class Section:  # shaped like agent.config.GpioSettings (settings.gpio)
        button: int | None = BUTTON
        button_mode: ButtonMode = "hold"
        led: int | None = None
        long_press_s: float = 1.5

    gpio = Gpio.from_settings(Section())
    try:
        assert gpio.button.enabled and gpio.button.mode == "hold"
        assert gpio.button.long_press_s == 1.5
        assert not gpio.led.enabled
    finally:
        gpio.close()


def test_no_pins_touch_nothing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(Device, "pin_factory", None)
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "no-such-factory")
    with caplog.at_level(logging.DEBUG, logger="agent.device"):
        gpio = open_gpio(None, None)
    assert Device.pin_factory is None  # gpiozero was never asked for a factory
    assert not caplog.records
    assert not gpio.available
    gpio.led.slow_blink()  # still tracks the pattern name
    assert gpio.led.pattern == "slow_blink"
    gpio.close()


NO_GPIO_SCRIPT = textwrap.dedent(
    """
    import logging, sys
    logging.basicConfig(level=logging.DEBUG, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    from agent.device.gpio import open_gpio
    gpio = open_gpio(17, 27, button_mode="hold", long_press_s=2.0,
                     on_press=lambda: None)
    if gpio.available:
        print("AVAILABLE")
        gpio.close()
        sys.exit(0)
    assert not gpio.button.enabled and not gpio.led.enabled
    assert gpio.button.mode == "hold"
    gpio.led.fast_blink(0.01)
    gpio.led.on()
    assert gpio.led.pattern == "on"
    gpio.close()
    print("NOOP", gpio.unavailable_reason)
    """
)


def run_without_gpio(env_factory: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GPIOZERO_")}
    if env_factory is not None:
        env["GPIOZERO_PIN_FACTORY"] = env_factory
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "-c", NO_GPIO_SCRIPT],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def assert_one_line(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("NOOP"), result.stdout
    lines = result.stderr.splitlines()
    # Exactly one line: no per-device repeat, no gpiozero fallback warnings.
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("WARNING agent.device.gpio: GPIO not available (")
    assert lines[0].endswith("): running without button and LED")


def test_unusable_pin_factory_gives_noop_objects_and_one_line() -> None:
    result = run_without_gpio("no-such-factory")
    assert_one_line(result)
    assert "no-such-factory" in result.stderr


def test_default_pin_factory_on_a_machine_without_gpio() -> None:
    result = run_without_gpio(None)
    if result.stdout.startswith("AVAILABLE"):
        pytest.skip("this machine has GPIO")
    assert_one_line(result)
    # gpiozero's fallback warnings are folded into the line.
    assert "Unable to load any default pin factory" in result.stderr
