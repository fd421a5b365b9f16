"""Operating the device from outside: the hook command, the control socket, the metrics.

:class:`Operations` is built by the daemon in one call and wraps a few
parts on their way into the conversation:

- the event emitter (:class:`ObservedEvents`): every event also goes, as the
  JSON log's record, to the hook's queue, the metrics and the last error;
- the capture source (:class:`MicTap`): zeros while the microphone is muted
  (so no wake word can fire and nothing of the room is kept), gaps counted;
- the wake engine and the connection (:class:`_MeteredEngine`,
  :class:`_MeteredLink`): the two moments the wake-to-audio latency needs.

Control requests arrive as :class:`~agent.device.events.ControlRequest` on
the one queue; :meth:`Operations.answer` runs on the conversation thread and
is the only code here that changes conversation state.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from agent.audio.frames import Frame, Source
from agent.common.event_sink import EventEmitter, event_record
from agent.device import events as ev
from agent.device.control import Request, error
from agent.device.parts import Connection, Detection, Parts, WakeEngine
from agent.link import protocol

if TYPE_CHECKING:
    from agent.config.settings import Settings
    from agent.device.conversation import Conversation
    from agent.device.hooks import HookRunner
    from agent.device.metrics import Metrics

log = logging.getLogger(__name__)


class OperateError(Exception):
    """The control socket or the metrics endpoint cannot be opened (one line)."""


class ObservedEvents:
    """An emitter that also hands each event's record to observers (which never block)."""

    def __init__(self, inner: EventEmitter, observers: Sequence[Callable[[dict[str, Any]], None]]):
        from agent.common.redact import REDACTOR

        self.inner = inner
        self.observers = list(observers)
        self.redactor = getattr(inner, "redactor", REDACTOR)  # the connection adds secrets

    def emit(self, event: str, **fields: Any) -> None:
        """Emit, then give the observers the same record as the JSON event log."""
        self.inner.emit(event, **fields)
        record = event_record(event, fields, self.redactor)
        for observe in self.observers:
            try:
                observe(record)
            except Exception:  # an observer's bug must not stop the conversation
                log.exception("event observer failed on %s", event)


class MicTap:
    """A capture source that delivers silence while muted, and reports gaps."""

    def __init__(self, inner: Source, on_gap: Callable[[int], None] | None = None) -> None:
        self.inner = inner
        self.muted = threading.Event()  # set by the conversation thread, read by capture
        self._on_gap = on_gap

    @property
    def frame_samples(self) -> int:
        return self.inner.frame_samples

    @property
    def errors(self) -> int:
        return self.inner.errors

    @property
    def overflows(self) -> int:
        return self.inner.overflows

    def read(self) -> Frame | None:
        frame = self.inner.read()
        if frame is None:
            return None
        if frame.gap and self._on_gap is not None:
            self._on_gap(frame.gap)
        if self.muted.is_set():
            # The same positions, no sound: the stream stays contiguous for
            # the ring and the detector, and nothing said while muted is kept.
            frame = replace(frame, samples=np.zeros_like(frame.samples))
        return frame

    def close(self) -> None:
        self.inner.close()


class _MeteredEngine:
    """The wake engine, noting the moment of each detection for the metrics."""

    def __init__(self, inner: WakeEngine, metrics: Metrics) -> None:
        self.inner = inner
        self._metrics = metrics

    def process(self, frame: np.ndarray, position: int) -> Sequence[Detection]:
        found = self.inner.process(frame, position)
        if found:
            self._metrics.detected()
        return found

    def set_speaking(self, speaking: bool) -> None:
        self.inner.set_speaking(speaking)


class _MeteredLink:
    """The connection, noting each ``audio_data`` sent for the metrics."""

    def __init__(self, inner: Connection, metrics: Metrics) -> None:
        self.inner = inner
        self._metrics = metrics

    @property
    def connected(self) -> bool:
        return self.inner.connected

    def send(self, msg: protocol.ClientMessage) -> bool:
        sent = self.inner.send(msg)
        if sent and isinstance(msg, protocol.AudioData):
            self._metrics.audio_sent()
        return sent

    def start(self) -> None:
        self.inner.start()

    def wait_connected(self, timeout: float | None = None) -> bool:
        return self.inner.wait_connected(timeout)

    def set_location(self, latitude: float, longitude: float) -> bool:
        return self.inner.set_location(latitude, longitude)

    def close(self, timeout: float = 5.0) -> None:
        self.inner.close(timeout)


class Operations:
    """The hook, the control socket and the metrics of one daemon, built from the settings."""

    def __init__(self, settings: Settings, post: Callable[[ev.Event], None]) -> None:
        self.settings = settings
        self._post = post
        self.last_error: dict[str, Any] | None = None
        self.metrics: Metrics | None = None
        self.metrics_url: str | None = None
        self.hook: HookRunner | None = None
        self.control: Any = None
        self.mic: MicTap | None = None
        if settings.metrics.listen is not None:
            from agent.device.metrics import Metrics

            self.metrics = Metrics()
        if settings.hooks.command:
            from agent.device.hooks import HookRunner

            self.hook = HookRunner(settings.hooks.command, settings.hooks.events)

    def _note_error(self, record: dict[str, Any]) -> None:
        if record.get("event") == "error":
            self.last_error = {k: record.get(k) for k in ("message", "source", "ts")}

    def events(self, inner: EventEmitter) -> ObservedEvents:
        """The emitter every part gets: ``inner`` plus the hook, the metrics, the last error."""
        observers: list[Callable[[dict[str, Any]], None]] = [self._note_error]
        if self.metrics is not None:
            observers.append(self.metrics.observe)
        if self.hook is not None:
            observers.append(self.hook.observe)
        return ObservedEvents(inner, observers)

    def wire(self, parts: Parts) -> None:
        """Wrap the source, the wake engine and the connection (before the conversation)."""
        m = self.metrics
        self.mic = MicTap(parts.source, on_gap=m.gap if m is not None else None)
        parts.source = self.mic
        if m is not None:
            parts.detector = _MeteredEngine(parts.detector, m)
            parts.connection = _MeteredLink(parts.connection, m)
            pulled, detector, source = m.pulled, parts.detector.inner, self.mic.inner
            pulled.wake_frames = lambda: (
                int(getattr(detector, "frames_scored", 0)),
                int(getattr(detector, "frames_skipped", 0)),
            )
            pulled.overflows = lambda: int(source.overflows)
            hook = self.hook
            if hook is not None:
                pulled.hook = lambda: (hook.dropped, hook.restarts)

    def open(self) -> None:
        """Bind the control socket and the metrics endpoint; :class:`OperateError` if not."""
        from agent.device.control_server import ControlServer

        path = self.settings.control.socket
        if path is not None and not os.path.isdir(os.path.dirname(path)):
            # Off the service (a PC, the tests) /run/voice-agent does not exist:
            # said once, like a missing GPIO, and the device runs without it.
            log.warning("control socket off: %s does not exist (systemd's "
                        "RuntimeDirectory= makes it)", os.path.dirname(path))
            path = None
        if path is not None:
            metrics = self.metrics
            counted = metrics.control if metrics is not None else None
            try:
                self.control = ControlServer(
                    path,
                    lambda req, reply: self._post(ev.ControlRequest(req.command, req.value, reply)),
                    on_request=(
                        (lambda c, ok: counted.labels(command=c, result="ok" if ok else "error")
                         .inc()) if counted is not None else None
                    ),
                )
            except OSError as exc:
                raise OperateError(f"control.socket: {exc.strerror or exc}: {path}") from None
        if self.metrics is not None and self.settings.metrics.listen is not None:
            host, port = self.settings.metrics.listen
            try:
                self.metrics_url = self.metrics.serve(host, port)
            except OSError as exc:
                where = f"{host}:{port}"
                raise OperateError(f"metrics.listen: {exc.strerror or exc}: {where}") from None
            log.info("metrics on %s", self.metrics_url)

    def start(self) -> None:
        """Start the hook and the control socket's thread."""
        if self.hook is not None:
            self.hook.start()
        if self.control is not None:
            self.control.start()

    # ------------------------------------------------------------ conversation thread
    def answer(self, conv: Conversation, req: ev.ControlRequest) -> None:
        """Carry out one control request and hand back its reply."""
        try:
            reply = self._carry_out(conv, Request(req.command, req.value))
        except Exception as exc:  # a bug answers with an error, the loop goes on
            log.exception("control: %s failed", req.command)
            reply = error(f"internal error: {exc}")
        req.reply(reply)

    def _carry_out(self, conv: Conversation, req: Request) -> dict[str, Any]:
        if req.command == "listen":
            if conv.muted:
                return error("the microphone is muted; unmute it first")
            if conv.state.value in ("listening", "streaming"):
                return {"ok": True, "started": False, "state": conv.state.value}
            if not conv.listen():
                reason = "not connected to the gateway" if not conv.p.link.connected else (
                    "the turn could not start")
                return error(reason)
            return {"ok": True, "started": True, "state": conv.state.value}
        if req.command == "stop":
            return {"ok": True, "stopped": conv.stop_sounding()}
        if req.command in ("mute", "unmute"):
            muted = req.command == "mute"
            if self.mic is not None:  # the capture thread's zeros first, then the state
                (self.mic.muted.set if muted else self.mic.muted.clear)()
            changed = conv.set_muted(muted)
            return {"ok": True, "muted": muted, "changed": changed}
        if req.command == "volume":
            assert req.value is not None
            return {"ok": True, "volume": _percent(conv.p.speaker.set_volume(req.value / 100))}
        return self.status(conv)

    def status(self, conv: Conversation) -> dict[str, Any]:
        """The ``status`` reply."""
        hook = self.hook
        return {
            "ok": True,
            "state": conv.state.value,
            "connected": conv.p.link.connected,
            "muted": conv.muted,
            "audio_position": conv.audio_pos,  # samples captured so far (audio time)
            "volume": _percent(conv.p.speaker.volume),
            "last_error": self.last_error,
            "metrics": self.metrics_url,
            "hook": None if hook is None else {
                "command": hook.name, "pid": hook.pid,
                "dropped": hook.dropped, "restarts": hook.restarts,
            },
        }

    def close(self) -> None:
        """Close the socket, stop the hook and the endpoint (each failure logged)."""
        for closer in (
            self.control.close if self.control is not None else None,
            self.hook.close if self.hook is not None else None,
            self.metrics.close if self.metrics is not None else None,
        ):
            if closer is None:
                continue
            try:
                closer()
            except Exception:
                log.exception("error while closing")


def _percent(volume: float) -> int:
    return int(round(volume * 100))
