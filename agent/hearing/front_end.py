"""Building the capture front end from the ``audio`` settings.

:func:`build_front_end` decides whether anything runs between the microphone
and the listeners. With ``echo_cancel`` off (or ``auto`` with a file output)
and ``noise_suppression`` and ``auto_gain`` false it returns no processor, so
the captured frames go on untouched (bit-exact, as before). With echo
cancellation it wraps the player's sink in a
:class:`~agent.audio.reference.ReferenceTap`, so the samples the player writes
become the canceller's far-end reference with their timing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from agent.audio.reference import ReferenceTap, ReferenceTimeline
from agent.audio.sinks import Sink
from agent.hearing.apm import ApmUnavailable, WebRtcApm
from agent.hearing.echo import CaptureProcessor
from agent.hearing.speex import SpeexEchoCanceller

log = logging.getLogger(__name__)

RESIDUAL_DB = -40  # audio.echo_suppression: the residual echo suppressor's attenuation


class ProcessingSettings(Protocol):
    """The fields of the ``audio`` settings the front end reads."""

    @property
    def echo_cancel(self) -> object: ...

    @property
    def echo_cancel_on(self) -> bool: ...

    @property
    def echo_suppression(self) -> bool: ...

    @property
    def noise_suppression(self) -> bool: ...

    @property
    def auto_gain(self) -> bool: ...


@dataclass(frozen=True)
class FrontEnd:
    """The processor (None: bypass) and the sink the player should write to."""

    processor: CaptureProcessor | None
    sink: Sink

    @property
    def echo_cancel(self) -> bool:
        """Whether echo cancellation runs (else the raised speaking threshold guards)."""
        return self.processor is not None and self.processor.echo_cancel


def build_front_end(settings: ProcessingSettings, sink: Sink) -> FrontEnd:
    """The front end ``settings`` ask for, around ``sink``.

    Raises :class:`ApmUnavailable` (naming the key) when a stage was asked for
    explicitly and its library cannot be loaded; with ``echo_cancel: auto`` a
    missing libspeexdsp logs a warning and leaves echo cancellation off.
    """
    aec = settings.echo_cancel_on
    ns, agc = settings.noise_suppression, settings.auto_gain
    if not (aec or ns or agc):
        return FrontEnd(None, sink)
    canceller = None
    if aec:
        try:
            # Residual suppression: -40 dB with no one speaking, -10 dB under the near end
            # (the settings the benchmark measured; scripts/bench_echo_rooms.py "res").
            residual = RESIDUAL_DB if settings.echo_suppression else None
            canceller = SpeexEchoCanceller(residual_db=residual)
        except ApmUnavailable as exc:
            if settings.echo_cancel != "auto":
                raise ApmUnavailable(f"audio.echo_cancel: {exc}") from exc
            log.warning("echo cancellation off: %s; the raised wake threshold guards", exc)
    cleaner = None
    if ns or agc:
        try:
            cleaner = WebRtcApm(noise_suppression=ns, auto_gain=agc)
        except ApmUnavailable as exc:
            key = "audio.noise_suppression" if ns else "audio.auto_gain"
            raise ApmUnavailable(f"{key}: {exc}") from exc
    if canceller is None and cleaner is None:
        return FrontEnd(None, sink)
    timeline = ReferenceTimeline() if canceller is not None else None
    tapped: Sink = ReferenceTap(sink, timeline) if timeline is not None else sink
    processor = CaptureProcessor(canceller, cleaner, timeline)
    log.info(
        "capture processing: echo cancel %s%s, noise suppression %s, auto gain %s",
        "on" if canceller else "off",
        " with residual echo suppression" if canceller and canceller.residual_db else "",
        "on" if ns else "off", "on" if agc else "off",
    )
    return FrontEnd(processor, tapped)
