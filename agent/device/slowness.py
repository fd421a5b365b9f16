"""Is this board fast enough for the capture thread? Said once, with what to do.

The capture thread runs the front end and the wake word engine on every
80 ms frame. On a board too slow for them it falls behind the microphone:
the capture queue fills and audio is dropped (the source's ``overflows``),
so utterances lose words and wake words are missed. :class:`CaptureWatch`
notices either the first overflow or, before it comes to that, the thread
spending most of each frame's duration working, and logs one warning with
the figures and the remedies. Only for sources paced by a clock (a
microphone, a real-time file): a file read as fast as it goes is no test.
"""

from __future__ import annotations

import logging
import time

log = logging.getLogger(__name__)

RATE = 16000
BUSY_SHARE = 0.8
"""The capture thread's CPU time over the audio time it handled above which it is
about to fall behind (the conversation thread and the player need the rest)."""
WINDOW_S = 10.0
"""Audio seconds over which that share is measured."""

ADVICE = (
    "use wake.engine: micro (microWakeWord: a fraction of openWakeWord's CPU), fewer "
    "wake.models, and run the gateway on another machine (gateway.url) rather than on "
    "this board"
)


class CaptureWatch:
    """Watches the capture thread's load and the source's overflows (call per frame)."""

    def __init__(self, source: object, *, paced: bool) -> None:
        self._source = source
        self._paced = paced
        self.slow: str | None = None
        """What was noticed (None while nothing was)."""
        self._cpu0 = time.thread_time()
        self._samples = 0

    def frame(self, samples: int) -> None:
        """One frame of ``samples`` was read and handled by this (the capture) thread."""
        if self.slow is not None or not self._paced:
            return
        overflows = int(getattr(self._source, "overflows", 0) or 0)
        if overflows:
            self._say(f"the capture thread fell behind the microphone ({overflows} "
                      "overflow(s): audio was dropped)")
            return
        self._samples += samples
        if self._samples < WINDOW_S * RATE:
            return
        cpu, audio_s = time.thread_time() - self._cpu0, self._samples / RATE
        self._cpu0, self._samples = time.thread_time(), 0
        if cpu > BUSY_SHARE * audio_s:
            self._say(f"the capture thread used {cpu:.1f} s of CPU for {audio_s:.0f} s of "
                      f"audio ({cpu / audio_s:.0%} of a core): it is about to fall behind")

    def _say(self, what: str) -> None:
        self.slow = what
        log.warning("this board is too slow: %s; %s (said once)", what, ADVICE)
