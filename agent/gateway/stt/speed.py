"""Is this machine fast enough for speech to text? Said once, with what to do.

On a slow board (a Pi Zero 2 W, a busy Pi 3, an emulated arm64) pocketsphinx
can take longer than the utterance itself: every reply then comes seconds
late, and a device's wall-clock waits (its ``listen.response_timeout_s``)
start to run out. :class:`SpeedWatch` compares each recognition's time with
its audio's length and, the first time it is far slower than real time,
logs one warning naming the figures and the remedies. The verdict stays on
:attr:`SpeedWatch.slow` for whoever reports on the gateway.
"""

from __future__ import annotations

import logging

from agent.common.slowness import SLOW_STT
from agent.gateway.stt.engine import Transcript

log = logging.getLogger(__name__)

SLOW_FACTOR = 1.5
"""Recognition time over audio time above which speech to text is "far slower than
real time" (on a Pi 4 pocketsphinx runs at about 0.3x; at 12 % of one x86 core, 1.8x)."""
MIN_AUDIO_S = 1.0
"""Shorter utterances say little about speed (start-up costs dominate)."""


def advice(workers: int) -> str:
    """What to do about slow speech to text."""
    fewer = (f"set stt.workers: 1 (now {workers}: each worker takes its share of the CPU), "
             if workers > 1 else "")
    return (f"{fewer}run the gateway on a faster machine (point the device's gateway.url "
            "at it), or use a cloud engine (stt.engine: assemblyai or aiola); on the "
            "device, wake.engine: micro leaves more of the CPU to the gateway")


class SpeedWatch:
    """Watches recognition times; warns once when they are far slower than real time."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.slow: str | None = None
        """The first slow recognition, described (None while none was)."""

    def observe(self, result: Transcript) -> None:
        """One recognition's figures (engines that report no time are skipped)."""
        if self.slow is not None or result.audio_s < MIN_AUDIO_S or result.cpu_s <= 0:
            return
        factor = result.cpu_s / result.audio_s
        if factor <= SLOW_FACTOR:
            return
        self.slow = (
            f"{SLOW_STT}: {result.engine} took {result.cpu_s:.1f} s for "
            f"{result.audio_s:.1f} s of audio ({factor:.1f}x real time), so replies come late"
        )
        log.warning("%s; %s (said once)", self.slow, advice(self.workers))
