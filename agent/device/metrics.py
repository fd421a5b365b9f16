"""Prometheus metrics (``metrics.listen``): counted from the events, read from the parts.

Most metrics are the event log counted: :meth:`Metrics.observe` sees every
event record (on whichever thread emitted it) and only increments counters,
so it never holds anything up. The rest are read from the parts when
scraped (the wake gate, capture overflows, the hook's drops) by
:class:`_Pulled`. Two latencies need moments no event marks: the wake
detection on the capture thread (:meth:`detected`) and the first
``audio_data`` handed to the connection (:meth:`audio_sent`).

The metric names are a contract (the README lists them).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Enum, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import start_http_server
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from agent.device.turn import State

# Every state the conversation can be in (ringing included): the metric shows them all.
STATES = tuple(state.value for state in State)

WAKE_SCORE_BUCKETS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)
WAKE_TO_AUDIO_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
REPLY_BUCKETS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 15.0)


class Metrics:
    """The device's metrics in their own registry, and the HTTP endpoint serving them."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.registry = CollectorRegistry()
        self._clock = clock
        r = self.registry
        ProcessCollector(registry=r)  # process_cpu_seconds_total, process_resident_memory_bytes
        self.turns = Counter(
            "voice_agent_turns", "Turns by how they started and how their utterance ended",
            ["started", "ended"], registry=r,
        )
        self.wakes = Counter(
            "voice_agent_wake_detections", "Wake word detections by model", ["model"], registry=r
        )
        self.wake_scores = Histogram(
            "voice_agent_wake_score", "Scores of the wake word detections", ["model"],
            buckets=WAKE_SCORE_BUCKETS, registry=r,
        )
        self.errors = Counter(
            "voice_agent_errors", "Error events by source", ["source"], registry=r
        )
        self.reconnects = Counter(
            "voice_agent_reconnects", "Gateway connections made after the first", registry=r
        )
        self.connected = Gauge(
            "voice_agent_gateway_connected", "1 while the gateway is connected", registry=r
        )
        self.muted = Gauge("voice_agent_muted", "1 while the microphone is muted", registry=r)
        self.state = Enum("voice_agent_state", "The conversation state", states=list(STATES),
                          registry=r)
        self.wake_to_audio = Histogram(
            "voice_agent_wake_to_first_audio_seconds",
            "From the wake word's detection (capture thread) to the turn's first audio_data sent",
            buckets=WAKE_TO_AUDIO_BUCKETS, registry=r,
        )
        self.reply_latency = Histogram(
            "voice_agent_speech_end_to_reply_audio_seconds",
            "From audio_end (end of speech) to the first sample of the reply played",
            buckets=REPLY_BUCKETS, registry=r,
        )
        self.control = Counter(
            "voice_agent_control_requests", "Control socket requests by command and result",
            ["command", "result"], registry=r,
        )
        self.capture_gaps = Counter(
            "voice_agent_capture_gaps", "Gaps in the captured audio (samples lost)", registry=r
        )
        self.capture_gap_samples = Counter(
            "voice_agent_capture_gap_samples", "Samples lost in capture gaps", registry=r
        )
        self.pulled = _Pulled()
        r.register(self.pulled)
        self._lock = threading.Lock()
        self._seen_connected = False
        self._listening_reason = "wake"
        self._open: dict[str, str] = {}  # turn id -> how it started, until its audio_end
        self._detected_at: float | None = None  # capture thread: the newest detection
        self._wake_at: float | None = None  # the detection that opened the turn
        self._speech_end_at: float | None = None
        self._server: Any = None

    # ------------------------------------------------------------ from the events
    def observe(self, record: dict[str, Any]) -> None:
        """Count one event record (any thread)."""
        name = record.get("event")
        with self._lock:
            handler = _HANDLERS.get(str(name))
            if handler is not None:
                handler(self, record)

    def _on_wake(self, r: dict[str, Any]) -> None:
        model = str(r.get("model"))
        self.wakes.labels(model=model).inc()
        score = r.get("score")
        if isinstance(score, int | float):
            self.wake_scores.labels(model=model).observe(float(score))
        self._wake_at = self._detected_at

    def _on_listening(self, r: dict[str, Any]) -> None:
        self._listening_reason = str(r.get("reason"))
        if self._listening_reason != "wake":
            self._wake_at = None

    def _on_audio_start(self, r: dict[str, Any]) -> None:
        self._open[str(r.get("id"))] = self._listening_reason
        self._speech_end_at = None

    def _on_audio_end(self, r: dict[str, Any]) -> None:
        started = self._open.pop(str(r.get("id")), self._listening_reason)
        self.turns.labels(started=started, ended=str(r.get("reason"))).inc()
        self._speech_end_at = self._clock()

    def _on_playback_start(self, r: dict[str, Any]) -> None:
        if self._speech_end_at is not None:
            self.reply_latency.observe(self._clock() - self._speech_end_at)
            self._speech_end_at = None

    def _on_state(self, r: dict[str, Any]) -> None:
        to = str(r.get("to"))
        if to in STATES:
            self.state.state(to)
        if to == "idle":
            for started in self._open.values():  # dropped without audio_end (connection lost)
                self.turns.labels(started=started, ended="abandoned").inc()
            self._open.clear()
            self._wake_at = None

    def _on_error(self, r: dict[str, Any]) -> None:
        self.errors.labels(source=str(r.get("source"))).inc()

    def _on_connected(self, r: dict[str, Any]) -> None:
        if self._seen_connected:
            self.reconnects.inc()
        self._seen_connected = True
        self.connected.set(1)

    def _on_disconnected(self, r: dict[str, Any]) -> None:
        self.connected.set(0)

    def _on_mute(self, r: dict[str, Any]) -> None:
        self.muted.set(1 if r.get("muted") else 0)

    # ------------------------------------------------------------ from the parts
    def detected(self) -> None:
        """The wake engine reported a detection (capture thread)."""
        self._detected_at = self._clock()

    def audio_sent(self) -> None:
        """An ``audio_data`` was handed to the connection (conversation thread)."""
        with self._lock:
            if self._wake_at is not None:
                self.wake_to_audio.observe(self._clock() - self._wake_at)
                self._wake_at = None

    def gap(self, samples: int) -> None:
        """The capture stream skipped ``samples`` (capture thread)."""
        self.capture_gaps.inc()
        self.capture_gap_samples.inc(samples)

    # ------------------------------------------------------------ serving
    def serve(self, host: str, port: int) -> str:
        """Serve ``/metrics`` on ``host:port`` (a thread); returns its URL."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        self._server = server
        address: Any = server.server_address
        bound_host, bound_port = str(address[0]), int(address[1])
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        return f"http://{shown}:{bound_port}/metrics"

    def close(self) -> None:
        """Stop serving."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()


_HANDLERS: dict[str, Callable[[Metrics, dict[str, Any]], None]] = {
    "wake": Metrics._on_wake,
    "listening": Metrics._on_listening,
    "audio_start": Metrics._on_audio_start,
    "audio_end": Metrics._on_audio_end,
    "playback_start": Metrics._on_playback_start,
    "state": Metrics._on_state,
    "error": Metrics._on_error,
    "connected": Metrics._on_connected,
    "disconnected": Metrics._on_disconnected,
    "mute": Metrics._on_mute,
}


class _Pulled(Collector):
    """Values the parts keep themselves, read at each scrape (readers set by the wiring)."""

    def __init__(self) -> None:
        self.wake_frames: Callable[[], tuple[int, int]] = lambda: (0, 0)  # (scored, skipped)
        self.overflows: Callable[[], int] = lambda: 0
        self.hook: Callable[[], tuple[int, int]] = lambda: (0, 0)  # (dropped, restarts)

    def collect(self) -> Iterator[Metric]:
        scored, skipped = self.wake_frames()
        frames = CounterMetricFamily(
            "voice_agent_wake_frames", "80 ms frames by whether the wake models ran",
            labels=["inference"],
        )
        frames.add_metric(["run"], scored)
        frames.add_metric(["skipped"], skipped)
        yield frames
        total = scored + skipped
        yield GaugeMetricFamily(
            "voice_agent_wake_gate_closed_ratio",
            "Share of frames the silence gate kept from the wake models, since start",
            value=skipped / total if total else 0.0,
        )
        yield CounterMetricFamily(
            "voice_agent_capture_overflows", "Microphone input overflows", value=self.overflows()
        )
        dropped, restarts = self.hook()
        yield CounterMetricFamily(
            "voice_agent_hook_dropped_events", "Events the hook command could not take in time",
            value=dropped,
        )
        yield CounterMetricFamily(
            "voice_agent_hook_restarts", "Times the hook command was started again", value=restarts
        )
