"""The daemon: builds the parts in one place, runs the conversation thread.

Threads: capture (reads frames, runs the wake word, posts ``AudioFrame``),
gateway (websocket-client, posts messages), playback (posts start/finish),
gpiozero's callback threads (post button events). The main thread owns the
conversation: it takes one event at a time from the queue, and is the only
thread that changes conversation state. It also pings the systemd watchdog,
so a hung state machine gets the service restarted.
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
import time

from agent.audio.frames import Source
from agent.audio.sinks import Sink
from agent.common.event_sink import EventEmitter, EventSink
from agent.common.settings_values import ConfigError
from agent.config.load import load_config
from agent.config.settings import Settings
from agent.device import events as ev
from agent.device import timings
from agent.device.adapters import (
    EndpointerFactory,
    LedIndicator,
    PlayerSpeaker,
    RecordingEvents,
    espeak_wav,
)
from agent.device.announcements import AnnouncingConversation
from agent.device.conversation import Conversation
from agent.device.operate import Operations
from agent.device.parts import Parts
from agent.device.ports import Ports
from agent.device.slowness import CaptureWatch
from agent.link.protocol import GatewayMessage, Unknown

log = logging.getLogger(__name__)

FRAME_SAMPLES = 1280  # 80 ms: openWakeWord's frame
RING_SECONDS = 4.0  # pre-roll plus what a follow-up needs before speech is seen
MAX_FRAMES_IN_FLIGHT = 32
FIRST_CONNECT_S = 3.0
FIRST_CONNECT_BATCH_S = 30.0  # back-pressure for sources read faster than real time



SHOWN_EVENTS = frozenset({"transcript", "response", "text"})
"""Events that ``output.print`` already shows the person ("you said: ...", "assistant: ...")."""


def event_sink(s: Settings) -> EventSink:
    """The daemon's event log: in text form, what is printed is not logged again at INFO."""
    return EventSink(s.log.format, quiet=SHOWN_EVENTS if s.output.print else frozenset())


class Daemon:
    """``voice-agent run``: wire the parts, run until a signal or the input ends."""

    def __init__(
        self,
        settings: Settings,
        config_path: str | None = None,
        *,
        events: EventEmitter | None = None,
        source: Source | None = None,
        sink: Sink | None = None,
    ) -> None:
        self.settings = settings
        self._events_override = events  # tests observe events through their own sink
        # Tests and benchmarks plug in other audio (the simulated room); None: from settings.
        self._source_override, self._sink_override = source, sink
        self.config_path = config_path
        # SimpleQueue, not Queue: its put() is reentrant, so the signal handlers
        # may post to it. A Queue's put() from a handler that interrupts the main
        # thread inside get() (holding the queue's lock) deadlocks the daemon.
        self.queue: queue.SimpleQueue[ev.Event] = queue.SimpleQueue()
        self._in_flight = threading.Semaphore(MAX_FRAMES_IN_FLIGHT)
        # Sources read faster than real time pause while a reply is awaited,
        # so a batch run behaves as if the gateway answered instantly.
        self._accepting = threading.Event()
        self._accepting.set()
        self._capture_stop = threading.Event()
        self.parts = self._build()
        self.conversation = self._build_conversation()
        self._capture = threading.Thread(target=self._capture_loop, name="capture", daemon=True)

    # ------------------------------------------------------------ building
    def _build(self) -> Parts:
        s = self.settings
        from agent.audio.playback import Player
        from agent.audio.ring import RingBuffer
        from agent.audio.sinks import open_sink
        from agent.audio.sources import open_source
        from agent.common.logs import configure_logging
        from agent.device.gpio import Gpio
        from agent.device.notify import Notifier
        from agent.device.recorder import TurnRecorder
        from agent.hearing.front_end import build_front_end
        from agent.hearing.vad import default_vad
        from agent.hearing.wake import WakeDetector
        from agent.link.connection import GatewayConnection

        configure_logging(s.log.level, s.log.format)
        recorder = TurnRecorder(s.debug.record_dir, s.debug.keep) if s.debug.record_dir else None
        sink = self._events_override or event_sink(s)
        # Hooks, control socket, metrics (agent.device.operate): they see every event.
        self.operations = Operations(s, self.queue.put)
        events = self.operations.events(RecordingEvents(sink, recorder))
        put = self.queue.put
        self.ring = RingBuffer.for_seconds(RING_SECONDS)
        self.vad_model = default_vad()
        detector = WakeDetector.from_settings(s.wake)
        source = self._source_override or open_source(
            s.audio.input, FRAME_SAMPLES, on_error=lambda m: put(ev.AudioFault(m))
        )
        # Echo cancellation, noise suppression, auto gain (None: the bit-exact bypass).
        fault = lambda m: put(ev.AudioFault(m))  # noqa: E731
        speaker = self._sink_override or open_sink(s.audio.output, on_error=fault)
        self.front = build_front_end(s.audio, speaker)
        player = Player(
            self.front.sink,
            volume=s.audio.output.volume,
            on_started=self._playback_started,
            on_finished=lambda rid, interrupted: put(ev.PlaybackFinished(rid, interrupted)),
            on_error=lambda m: put(ev.AudioFault(m)),
        )
        connection = GatewayConnection.from_settings(
            s,
            events=events,
            on_message=self._gateway_message,
            on_connected=lambda: put(ev.Connected()),
            on_disconnected=lambda reason: put(ev.Disconnected(reason)),
        )
        gpio = Gpio.from_settings(
            s.gpio,
            on_press=lambda: put(ev.ButtonPressed()),
            on_release=lambda held: put(ev.ButtonReleased(held)),
            on_long_press=lambda: put(ev.ButtonLongPress()),
        )
        parts = Parts(source, detector, connection, player, gpio, Notifier(), events, recorder)
        self.operations.wire(parts)
        self.operations.open()
        return parts

    # Callbacks of the playback and gateway threads: post an event (and leave a
    # timestamp for scripts/bench.py when agent.device.timings is on; a no-op otherwise).
    def _playback_started(self, reply_id: str) -> None:
        timings.mark("playback_started", id=reply_id)
        self.queue.put(ev.PlaybackStarted(reply_id))

    def _gateway_message(self, message: GatewayMessage | Unknown) -> None:
        timings.mark("gateway_message", action=message.action, id=message.id)
        self.queue.put(ev.GatewayMessage(message))

    def _build_conversation(self) -> Conversation:
        s, parts = self.settings, self.parts
        self.speaker = PlayerSpeaker(parts.player, s.sounds)
        ports = Ports(
            link=parts.connection,
            speaker=self.speaker,
            ring=self.ring,
            new_endpointer=EndpointerFactory(lambda: self.settings.listen, self.vad_model),
            events=parts.events,
            indicator=LedIndicator(parts.gpio.led) if parts.gpio.led.enabled else None,
            # With echo cancellation the normal thresholds hold while speaking;
            # without it, the raised wake.speaking_threshold is the guard.
            set_speaking=(
                (lambda _on: None) if self.front.echo_cancel else parts.detector.set_speaking
            ),
            say=espeak_wav,
            on_state=self._on_state,
            recorder=parts.recorder,
        )
        return AnnouncingConversation(s, ports)

    # ------------------------------------------------------------ running
    def run(self) -> int:
        """Run until SIGTERM/SIGINT (exit 0) or a non-realtime input ends."""
        from agent.device.notify import watchdog_interval_s

        self._install_signals()
        parts = self.parts
        parts.connection.start()
        # Give the first connection attempt a moment, so a wake word at start-up
        # is not refused; a batch input (not real time) waits longer for it.
        batch = bool(self.settings.audio.input.file) and not self.settings.audio.input.realtime
        parts.connection.wait_connected(FIRST_CONNECT_BATCH_S if batch else FIRST_CONNECT_S)
        self._capture.start()
        self.operations.start()
        parts.notifier.ready(status="idle")
        watchdog = watchdog_interval_s()
        try:
            self._loop(watchdog)
        finally:
            self._close()
        return 0

    def _loop(self, watchdog: float | None) -> None:
        conv = self.conversation
        notifier = self.parts.notifier
        next_ping = 0.0
        while not conv.finished:
            timeout = conv.next_timeout()
            if watchdog is not None:
                until_ping = max(0.0, next_ping - time.monotonic())
                timeout = until_ping if timeout is None else min(timeout, until_ping)
            try:
                event = self.queue.get(timeout=timeout)
            except queue.Empty:
                event = None
            if isinstance(event, ev.Reload):
                self._reload()
            elif isinstance(event, ev.ControlRequest):
                self.operations.answer(conv, event)
            elif event is not None:
                try:
                    conv.handle(event)
                except Exception as exc:  # a bug must not kill a kitchen device
                    log.exception("conversation failed on %s", type(event).__name__)
                    conv.handle(ev.AudioFault(f"internal error: {exc}"))
                if isinstance(event, ev.AudioFrame):
                    self._in_flight.release()
            conv.tick()
            # Pinged from this loop, so a hung state machine stops the pings;
            # once per interval (half of WatchdogSec), not once per event.
            if watchdog is not None and time.monotonic() >= next_ping:
                notifier.watchdog()
                next_ping = time.monotonic() + watchdog

    def _on_state(self, state: str) -> None:
        self.parts.notifier.status(state)
        if self.settings.audio.input.file and not self.settings.audio.input.realtime:
            if state in ("waiting", "speaking"):
                self._accepting.clear()
            else:
                self._accepting.set()

    def _capture_loop(self) -> None:
        source, detector, put = self.parts.source, self.parts.detector, self.queue.put
        front = self.front.processor
        watch = CaptureWatch(source, paced=self._paced_input())
        while not self._capture_stop.is_set():
            self._accepting.wait()
            try:
                frame = source.read()
            except Exception as exc:  # the sources reopen themselves; this is a bug
                log.exception("capture failed")
                put(ev.AudioFault(f"capture failed: {exc}"))
                return
            if frame is None:
                put(ev.SourceEnded())
                return
            if front is not None:  # before the ring and the wake engine: all see clean audio
                frame = front.process(frame, time.monotonic())
            hits = tuple(
                ev.WakeHit(d.model, d.score, d.position)
                for d in detector.process(frame.samples, frame.position)
            )
            if hits:
                timings.mark("wake_detected", position=hits[0].position)
            watch.frame(len(frame.samples))
            self._in_flight.acquire()
            put(ev.AudioFrame(frame.samples, frame.position, hits))

    def _paced_input(self) -> bool:
        """A source paced by a clock (a microphone, a real-time file or command)."""
        i = self.settings.audio.input
        return not i.file or i.realtime

    # ------------------------------------------------------------ signals
    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # tests run the daemon in a thread and post Shutdown themselves
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.queue.put(ev.Shutdown()))
        signal.signal(signal.SIGHUP, lambda *_: self.queue.put(ev.Reload()))

    def stop(self) -> None:
        """Ask the daemon to shut down (any thread)."""
        self.queue.put(ev.Shutdown())

    def _reload(self) -> None:
        """SIGHUP: apply a new configuration, or keep the old one if it is bad."""
        notifier = self.parts.notifier
        if not self.config_path:
            return
        notifier.reloading()
        try:
            new = load_config(self.config_path)
        except ConfigError as exc:
            self.parts.events.emit("error", message=str(exc), source="config")
            notifier.ready(status=f"reload rejected; {self.conversation.state.value}")
            return
        old = self.settings
        needs_restart = [
            name
            for name in ("gateway", "audio", "wake", "gpio", "debug", "hooks", "control", "metrics")
            if getattr(old, name) != getattr(new, name)
        ]
        if needs_restart:
            log.warning("reload: changes to %s take effect on restart", ", ".join(needs_restart))
        if new.location != old.location and new.location is not None:
            self.parts.connection.set_location(new.location.latitude, new.location.longitude)
        from agent.common.logs import configure_logging

        configure_logging(new.log.level, new.log.format)
        self.settings = new
        self.conversation.settings = new
        self.speaker.sounds = new.sounds
        self.parts.events.emit("reloaded", restart_needed=needs_restart)
        notifier.ready(status=self.conversation.state.value)

    def _close(self) -> None:
        parts = self.parts
        parts.notifier.stopping()
        self._capture_stop.set()
        self._accepting.set()
        self._in_flight.release()
        parts.connection.close(timeout=2.0)
        closers = (parts.source.close, parts.player.close, parts.gpio.close, self.operations.close)
        for closer in closers:
            try:
                closer()
            except Exception:
                log.exception("error while closing")
        if parts.recorder:
            parts.recorder.end()
