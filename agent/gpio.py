"""Push-to-talk button and status LED through gpiozero.

These adapters never touch conversation state: the button only calls the
callbacks it was built with (the daemon's callbacks post events to its queue),
and the LED only shows the pattern it is told to show.

On a machine without GPIO (a laptop, a container, CI) gpiozero cannot load a
pin factory; :func:`open_gpio` then logs one line and hands back objects that
do nothing, so the daemon runs the same code with or without a button and LED.

Pins are BCM numbers, as in gpiozero. Tests use gpiozero's own
:class:`~gpiozero.pins.mock.MockFactory`.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from gpiozero import LED, Button, Device
from gpiozero.exc import BadPinFactory, PinFactoryFallback

log = logging.getLogger(__name__)

ButtonMode = Literal["press", "hold"]
BUTTON_MODES: tuple[ButtonMode, ...] = ("press", "hold")

Pattern = Literal["off", "on", "slow_blink", "fast_blink", "disconnected"]

# Errors gpiozero (or the backend it was told to load) raises when no pin
# factory can be used on this machine. BadPinFactory covers the default search
# ("Unable to load any default pin factory!") and an unknown
# GPIOZERO_PIN_FACTORY name; an explicitly named backend fails with its own
# ImportError (library missing), RuntimeError (RPi.GPIO off a Pi, gpiozero's
# PinUnknownPi) or OSError (pigpio daemon unreachable, no /dev/gpiochip).
# These are caught only around loading the factory, never around creating a
# device, so a wrong or busy pin on a real Pi still fails loudly.
NO_PIN_FACTORY_ERRORS: tuple[type[BaseException], ...] = (
    BadPinFactory,
    ImportError,
    RuntimeError,
    OSError,
)

DEFAULT_BOUNCE_S = 0.02
DEFAULT_LONG_PRESS_S = 2.0
DEFAULT_ERROR_S = 3.0


def _guarded(name: str, fn: Callable[..., None] | None) -> Callable[..., None]:
    """Wrap a daemon callback so a bug in it is logged, not lost in a gpiozero thread."""

    def call(*args: Any) -> None:
        if fn is None:
            return
        try:
            fn(*args)
        except Exception:
            log.exception("GPIO %s callback failed", name)

    return call


class PushToTalk:
    """A push-to-talk button on a BCM pin, wired to ground (internal pull-up).

    Calls ``on_press()`` when pressed, ``on_release(held_s)`` when released
    (``held_s`` is how long it was down, by gpiozero's clock), and
    ``on_long_press()`` once per press when held for ``long_press_s`` (gpiozero's
    ``hold_time``/``when_held``; the daemon uses it to cancel the turn).
    ``on_release`` is still called after a long press.

    ``mode`` (``press``: a press starts listening; ``hold``: talk while held)
    is only recorded here: the daemon decides what a press means.

    With ``pin=None`` nothing is opened and no callback ever fires.
    Callbacks run in gpiozero's threads: they must only post events.
    """

    def __init__(
        self,
        pin: int | None,
        *,
        mode: ButtonMode = "press",
        long_press_s: float = DEFAULT_LONG_PRESS_S,
        bounce_s: float | None = DEFAULT_BOUNCE_S,
        on_press: Callable[[], None] | None = None,
        on_release: Callable[[float], None] | None = None,
        on_long_press: Callable[[], None] | None = None,
        pin_factory: Any = None,
    ) -> None:
        if mode not in BUTTON_MODES:
            raise ValueError(f"button mode must be one of {', '.join(BUTTON_MODES)}, not {mode!r}")
        if not long_press_s > 0:
            raise ValueError(f"long_press_s must be > 0, not {long_press_s!r}")
        self.pin = pin
        self.mode: ButtonMode = mode
        self.long_press_s = float(long_press_s)
        self._on_press = _guarded("on_press", on_press)
        self._on_release = _guarded("on_release", on_release)
        self._on_long_press = _guarded("on_long_press", on_long_press)
        # Written and read only in gpiozero's event thread (press, then release).
        self._pressed_at: float | None = None
        self._button: Button | None = None
        if pin is not None:
            self._button = Button(
                pin,
                pull_up=True,
                bounce_time=bounce_s,
                hold_time=self.long_press_s,
                hold_repeat=False,
                pin_factory=pin_factory,
            )
            self._button.when_pressed = self._pressed
            self._button.when_released = self._released
            self._button.when_held = self._held

    @property
    def enabled(self) -> bool:
        """True when a real (or mock) pin is attached."""
        return self._button is not None

    @property
    def is_pressed(self) -> bool:
        """Whether the button is down right now (False without a pin)."""
        return self._button is not None and bool(self._button.is_pressed)

    def _pressed(self) -> None:
        assert self._button is not None
        self._pressed_at = self._button.pin_factory.ticks()
        self._on_press()

    def _released(self) -> None:
        assert self._button is not None
        factory = self._button.pin_factory
        held_s = 0.0
        if self._pressed_at is not None:
            # ticks_diff, not subtraction: some backends' ticks wrap around.
            held_s = max(0.0, float(factory.ticks_diff(factory.ticks(), self._pressed_at)))
        self._pressed_at = None
        self._on_release(held_s)

    def _held(self) -> None:
        self._on_long_press()

    def close(self) -> None:
        """Release the pin and stop gpiozero's hold thread. Idempotent."""
        if self._button is not None:
            self._button.close()
            self._button = None

    def __repr__(self) -> str:
        return f"PushToTalk(pin={self.pin!r}, mode={self.mode!r}, enabled={self.enabled})"


class StatusLed:
    """A status LED on a BCM pin (anode to the pin through a resistor) with named patterns.

    ``off()`` idle, ``on()`` listening, ``slow_blink()`` waiting for the reply,
    ``fast_blink()`` error (for ``error_s`` seconds, then back to the previous
    pattern), ``disconnected()`` a short blink every two seconds. ``pattern`` is
    the current name; ``on_change(name)``, if given, is called on every change,
    including the automatic return after ``fast_blink`` (from a timer thread).

    With ``pin=None`` nothing is driven but ``pattern`` is still tracked, so the
    daemon behaves the same without an LED.
    """

    SLOW_BLINK = (0.5, 0.5)
    FAST_BLINK = (0.1, 0.1)
    DISCONNECTED = (0.1, 1.9)

    def __init__(
        self,
        pin: int | None,
        *,
        active_high: bool = True,
        error_s: float = DEFAULT_ERROR_S,
        on_change: Callable[[str], None] | None = None,
        pin_factory: Any = None,
    ) -> None:
        if not error_s > 0:
            raise ValueError(f"error_s must be > 0, not {error_s!r}")
        self.pin = pin
        self.error_s = float(error_s)
        self._on_change = _guarded("on_change", on_change)
        # Re-entrant: on_change may read or set the pattern from inside a change.
        self._lock = threading.RLock()
        self._pattern: Pattern = "off"
        self._restore_to: Pattern = "off"
        self._generation = 0  # bumps on every change so a stale restore timer does nothing
        self._timer: threading.Timer | None = None
        self._closed = False
        self._led: LED | None = None
        if pin is not None:
            self._led = LED(
                pin, active_high=active_high, initial_value=False, pin_factory=pin_factory
            )

    @property
    def enabled(self) -> bool:
        """True when a real (or mock) pin is attached."""
        return self._led is not None

    @property
    def pattern(self) -> Pattern:
        """Name of the pattern shown now."""
        return self._pattern

    def off(self) -> None:
        """Idle: LED off."""
        self._set("off")

    def on(self) -> None:
        """Listening: LED steadily on."""
        self._set("on")

    def slow_blink(self) -> None:
        """Waiting for the reply: 0.5 s on, 0.5 s off."""
        self._set("slow_blink")

    def disconnected(self) -> None:
        """No gateway connection: a 0.1 s flash every 2 s."""
        self._set("disconnected")

    def fast_blink(self, duration_s: float | None = None) -> None:
        """Error: blink fast for ``duration_s`` (default ``error_s``), then restore.

        Restores the pattern that was showing before (a second error while
        the first is still blinking restarts the time, keeping that pattern).
        """
        duration = self.error_s if duration_s is None else float(duration_s)
        with self._lock:
            if self._closed:
                return
            if self._pattern != "fast_blink":
                self._restore_to = self._pattern
            self._set("fast_blink", blinks=max(1, round(duration / sum(self.FAST_BLINK))))
            gen = self._generation
            self._timer = threading.Timer(duration, self._restore, args=(gen,))
            self._timer.daemon = True
            self._timer.start()

    def _restore(self, gen: int) -> None:
        with self._lock:
            if gen == self._generation:  # nothing else was set meanwhile
                self._set(self._restore_to)

    def _set(self, name: Pattern, blinks: int | None = None) -> None:
        with self._lock:
            if self._closed:
                return  # a late call during shutdown must not start threads again
            # A timer can only be pending while fast_blink shows; cancelling it
            # here (without joining: we may be that timer's thread) is enough,
            # because the generation check stops one that is already running.
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._generation += 1
            if name == self._pattern and name != "fast_blink":
                return  # re-setting a blink would restart it with a visible glitch
            self._pattern = name
            if self._led is not None:
                if name == "off":
                    self._led.off()
                elif name == "on":
                    self._led.on()
                else:
                    on_s, off_s = {
                        "slow_blink": self.SLOW_BLINK,
                        "fast_blink": self.FAST_BLINK,
                        "disconnected": self.DISCONNECTED,
                    }[name]
                    self._led.blink(on_s, off_s, n=blinks, background=True)
            self._on_change(name)

    def close(self) -> None:
        """Stop any timer and blinking and release the pin (gpiozero leaves it an
        input, so the LED goes dark). Later pattern calls are ignored. Idempotent."""
        with self._lock:
            self._closed = True
            timer, self._timer = self._timer, None
            self._generation += 1
            if timer is not None:
                timer.cancel()
        if timer is not None and timer is not threading.current_thread():
            timer.join()
        with self._lock:
            if self._led is not None:
                self._led.close()  # stops the blink thread first
                self._led = None

    def __repr__(self) -> str:
        return f"StatusLed(pin={self.pin!r}, pattern={self._pattern!r}, enabled={self.enabled})"


class GpioSection(Protocol):
    """The fields of ``settings.gpio`` (``agent.config.GpioSettings``) this module reads."""

    @property
    def button(self) -> int | None: ...
    @property
    def button_mode(self) -> ButtonMode: ...
    @property
    def led(self) -> int | None: ...
    @property
    def long_press_s(self) -> float: ...


@dataclass
class Gpio:
    """The button and LED the daemon uses; no-op objects when GPIO is unavailable."""

    button: PushToTalk
    led: StatusLed
    unavailable_reason: str | None = None
    """Why GPIO could not be used (for ``doctor``), or None."""

    @property
    def available(self) -> bool:
        """True when at least one pin is really driven."""
        return self.button.enabled or self.led.enabled

    def close(self) -> None:
        """Release both pins. Idempotent."""
        self.button.close()
        self.led.close()

    @classmethod
    def from_settings(
        cls,
        gpio: GpioSection,
        *,
        on_press: Callable[[], None] | None = None,
        on_release: Callable[[float], None] | None = None,
        on_long_press: Callable[[], None] | None = None,
        on_led_change: Callable[[str], None] | None = None,
    ) -> Gpio:
        """Open from ``settings.gpio`` (see :func:`open_gpio`)."""
        return open_gpio(
            gpio.button,
            gpio.led,
            button_mode=gpio.button_mode,
            long_press_s=gpio.long_press_s,
            on_press=on_press,
            on_release=on_release,
            on_long_press=on_long_press,
            on_led_change=on_led_change,
        )


def pin_factory_problem() -> str | None:
    """Make sure gpiozero has a pin factory; return why not, or None on success.

    gpiozero warns once per backend it falls back from; those warnings are
    folded into the one log line instead of being printed on their own.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PinFactoryFallback)
        try:
            Device.ensure_pin_factory()
            error: BaseException | None = None
        except NO_PIN_FACTORY_ERRORS as exc:
            error = exc
    fallbacks = [
        str(w.message).removeprefix("Falling back from ")  # "lgpio: No module named 'lgpio'"
        for w in caught
        if issubclass(w.category, PinFactoryFallback)
    ]
    for w in caught:
        if not issubclass(w.category, PinFactoryFallback):
            log.warning("%s", w.message)  # e.g. gpiozero's "falling back to native" advice
    if error is None:
        for line in fallbacks:
            log.debug("%s", line)
        return None
    return "; ".join([str(error) or type(error).__name__, *fallbacks])


def open_gpio(
    button_pin: int | None,
    led_pin: int | None,
    *,
    button_mode: ButtonMode = "press",
    long_press_s: float = DEFAULT_LONG_PRESS_S,
    on_press: Callable[[], None] | None = None,
    on_release: Callable[[float], None] | None = None,
    on_long_press: Callable[[], None] | None = None,
    on_led_change: Callable[[str], None] | None = None,
    bounce_s: float | None = DEFAULT_BOUNCE_S,
    error_s: float = DEFAULT_ERROR_S,
    pin_factory: Any = None,
) -> Gpio:
    """Open the push-to-talk button and status LED; see :class:`PushToTalk`, :class:`StatusLed`.

    With both pins None nothing is touched. When gpiozero has no usable pin
    factory, logs one line ("GPIO not available (...): running without button
    and LED") and returns no-op objects. Other gpiozero errors (an invalid or
    busy pin on a real Pi) are raised, after releasing anything already opened.
    ``pin_factory`` is passed to gpiozero (None: ``Device.pin_factory``).
    """
    button_kw: dict[str, Any] = dict(
        mode=button_mode,
        long_press_s=long_press_s,
        bounce_s=bounce_s,
        on_press=on_press,
        on_release=on_release,
        on_long_press=on_long_press,
    )
    led_kw: dict[str, Any] = dict(error_s=error_s, on_change=on_led_change)
    if button_pin is None and led_pin is None:
        return Gpio(PushToTalk(None, **button_kw), StatusLed(None, **led_kw))
    if pin_factory is None:
        reason = pin_factory_problem()
        if reason is not None:
            log.warning("GPIO not available (%s): running without button and LED", reason)
            return Gpio(PushToTalk(None, **button_kw), StatusLed(None, **led_kw), reason)
    button = PushToTalk(button_pin, pin_factory=pin_factory, **button_kw)
    try:
        led = StatusLed(led_pin, pin_factory=pin_factory, **led_kw)
    except BaseException:
        button.close()
        raise
    return Gpio(button, led)
