"""The push-to-talk button (gpiozero): press and hold modes, long press."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal

from gpiozero import Button

from agent.device.callbacks import guarded

log = logging.getLogger(__name__)

ButtonMode = Literal["press", "hold"]
BUTTON_MODES: tuple[ButtonMode, ...] = ("press", "hold")

DEFAULT_BOUNCE_S = 0.02
DEFAULT_LONG_PRESS_S = 2.0


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
        self._on_press = guarded("on_press", on_press)
        self._on_release = guarded("on_release", on_release)
        self._on_long_press = guarded("on_long_press", on_long_press)
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
