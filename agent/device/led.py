"""The status LED (gpiozero): one pattern per conversation state, the error blink."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Literal

from gpiozero import LED

from agent.device.callbacks import guarded

log = logging.getLogger(__name__)

Pattern = Literal[
    "off", "on", "slow_blink", "fast_blink", "disconnected", "muted", "ringing"
]

DEFAULT_ERROR_S = 3.0


class StatusLed:
    """A status LED on a BCM pin (anode to the pin through a resistor) with named patterns.

    ``off()`` idle, ``on()`` listening, ``slow_blink()`` waiting for the reply,
    ``fast_blink()`` error (for ``error_s`` seconds, then back to the previous
    pattern), ``disconnected()`` a short blink every two seconds, ``muted()``
    mostly on (dark half a second every two). ``pattern`` is
    the current name; ``on_change(name)``, if given, is called on every change,
    including the automatic return after ``fast_blink`` (from a timer thread).

    With ``pin=None`` nothing is driven but ``pattern`` is still tracked, so the
    daemon behaves the same without an LED.
    """

    SLOW_BLINK = (0.5, 0.5)
    FAST_BLINK = (0.1, 0.1)
    DISCONNECTED = (0.1, 1.9)
    MUTED = (1.5, 0.5)
    RINGING = (0.25, 0.25)

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
        self._on_change = guarded("on_change", on_change)
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

    def muted(self) -> None:
        """Microphone muted: on 1.5 s, off 0.5 s (unlike any other pattern, mostly lit)."""
        self._set("muted")
    def ringing(self) -> None:
        """A timer is ringing: 0.25 s on, 0.25 s off, until it is stopped."""
        self._set("ringing")

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
                        "muted": self.MUTED,
                        "ringing": self.RINGING,
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
