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
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from gpiozero import Device
from gpiozero.exc import BadPinFactory, PinFactoryFallback

from agent.device.button import DEFAULT_BOUNCE_S, DEFAULT_LONG_PRESS_S, ButtonMode, PushToTalk
from agent.device.led import DEFAULT_ERROR_S, StatusLed

log = logging.getLogger(__name__)

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
