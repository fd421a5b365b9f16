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

log = logging.getLogger(__name__)


class ProcessingSettings(Protocol):
    """The fields of the ``audio`` settings the front end reads."""

    @property
    def echo_cancel(self) -> object: ...

    @property
    def echo_cancel_on(self) -> bool: ...

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
        return self.processor is not None and self.processor.apm.echo_cancel


def build_front_end(settings: ProcessingSettings, sink: Sink) -> FrontEnd:
    """The front end ``settings`` ask for, around ``sink``.

    Raises :class:`ApmUnavailable` (naming the key) when a stage was asked for
    explicitly and WebRTC's module cannot be loaded; with ``echo_cancel: auto``
    and nothing else on, it logs a warning and falls back to the bypass.
    """
    aec = settings.echo_cancel_on
    ns, agc = settings.noise_suppression, settings.auto_gain
    if not (aec or ns or agc):
        return FrontEnd(None, sink)
    try:
        apm = WebRtcApm(echo_cancel=aec, noise_suppression=ns, auto_gain=agc)
    except ApmUnavailable as exc:
        if settings.echo_cancel == "auto" and not (ns or agc):
            log.warning("echo cancellation off: %s; the raised wake threshold guards", exc)
            return FrontEnd(None, sink)
        key = "audio.echo_cancel" if aec else (
            "audio.noise_suppression" if ns else "audio.auto_gain")
        raise ApmUnavailable(f"{key}: {exc}") from exc
    timeline = ReferenceTimeline() if aec else None
    tapped: Sink = ReferenceTap(sink, timeline) if timeline is not None else sink
    processor = CaptureProcessor(apm, timeline, always_on=ns or agc)
    log.info(
        "capture processing: echo cancel %s, noise suppression %s, auto gain %s",
        "on" if aec else "off", "on" if ns else "off", "on" if agc else "off",
    )
    return FrontEnd(processor, tapped)
