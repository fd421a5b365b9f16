"""Turns back to back against the reference gateway: continuity, stuck states, memory, latency.

The input is one WAV of N turns, each [``hey jarvis``, ``what time is it``,
2.5 s of quiet] (espeak-ng), under -60 dBFS hiss over the whole file so that
every slice of it is unique. The daemon reads it as fast as it can
(``realtime: false``; capture pauses while a reply is awaited or played), with
``sounds.wake: null`` so each utterance must reach the gateway as one exact
contiguous slice of the file. The trailing quiet is longer than the 2.56 s of
frames the capture thread may read ahead of the conversation (32 in flight),
so the next wake word is never read while the daemon still waits for a reply.

Figures:
* continuity: each transaction the gateway received equals ``source[start:start+len]``;
* stuck states: wake, audio_start, audio_end, replies played and returns to idle all equal N;
* memory, threads, file descriptors of the daemon at turn 10, every quarter and turn N
  (sampled at that turn's ``audio_end`` event, while the daemon waits for the reply);
* latency from the daemon's timing marks (:mod:`agent.device.timings`) and the
  gateway's receive times (both ``time.monotonic``, one clock on Linux).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import (
    SR,
    DaemonProcess,
    ProcSample,
    Row,
    daemon_config,
    noise,
    percentile,
    proc_sample,
    write_wav,
)

WAKE_TEXT = "hey jarvis"
PHRASE_TEXT = "what time is it"
VOICE, SPEED = "en-gb", 140
TAIL_S = 2.5
HISS_DBFS = -60.0
LEAD_S = 1.0
PREROLL_MS = 500  # the default wake.preroll_ms
VAD_REPLAYS = 1000  # turns whose end of speech is replayed offline through agent.hearing.vad


@dataclass
class Turn:
    """Where one turn's speech sits in the soak file (samples)."""

    wake_start: int
    phrase_start: int
    phrase_last: int  # the last spoken sample of the phrase (louder than 2% of its peak)
    end: int  # where the next turn begins


@dataclass
class Received:
    """What the gateway received in one transaction, with its receive times (monotonic)."""

    id: str
    audio: bytes
    t_first_audio: float | None
    t_end: float | None
    end_reason: str  # the gateway's: client (audio_end), gateway (its endpointer), ...


def _spoken_end(x: np.ndarray) -> int:
    loud = np.nonzero(np.abs(x.astype(np.int32)) > 0.02 * np.abs(x).max())[0]
    return int(loud[-1])


def build_soak_wav(path: Path, turns: int) -> tuple[np.ndarray, list[Turn]]:
    """Write the soak input; returns its samples and the layout of every turn."""
    from test_wake import espeak  # the test suite's espeak-ng + sox helper

    wake = espeak(WAKE_TEXT, VOICE, SPEED, path.parent)
    phrase = espeak(PHRASE_TEXT, VOICE, SPEED, path.parent)
    tail = np.zeros(int(TAIL_S * SR), dtype=np.int16)
    turn_audio = np.concatenate((wake, phrase, tail))
    lead = int(LEAD_S * SR)
    total = lead + turns * turn_audio.size + int(TAIL_S * SR)
    source = np.zeros(total, dtype=np.int16)
    layout = []
    for k in range(turns):
        start = lead + k * turn_audio.size
        source[start : start + turn_audio.size] = turn_audio
        layout.append(
            Turn(
                start,
                start + wake.size,
                start + wake.size + _spoken_end(phrase),
                start + turn_audio.size,
            )
        )
    step = 1 << 20  # add the hiss in pieces: one float64 array of it all would be large
    for i, at in enumerate(range(0, total, step)):
        piece = source[at : at + step]
        hiss = noise(piece.size, HISS_DBFS, seed=1000 + i)
        source[at : at + step] = np.clip(piece.astype(np.int32) + hiss, -32768, 32767)
    write_wav(path, source)
    return source, layout


@dataclass
class SoakWatch:
    """Samples of the daemon process taken while it runs."""

    turns: int
    at_turn: dict[int, ProcSample] = field(default_factory=dict)
    last: ProcSample | None = None
    peak_hwm_mb: float = 0.0
    ended: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def checkpoints(self) -> list[int]:
        """Turns sampled: the 10th, every quarter, the last."""
        marks = {min(10, self.turns), self.turns}
        marks.update(self.turns * q // 4 for q in (1, 2, 3) if self.turns * q // 4 > 10)
        return sorted(marks)

    def on_event(self, daemon: DaemonProcess, event: dict[str, Any]) -> None:
        """At the 10th and the last audio_end the daemon waits for its reply: sample it."""
        if event["event"] != "audio_end":
            return
        self.ended += 1
        if self.ended in self.checkpoints:
            sample = proc_sample(daemon.pid)
            if sample is not None:
                self.at_turn[self.ended] = sample
                self.peak_hwm_mb = max(self.peak_hwm_mb, sample.hwm_mb)

    def poll(self, daemon: DaemonProcess) -> None:
        """Keep the latest sample (VmHWM only grows: the last one before exit is the peak)."""
        while not self.stop.wait(0.2):
            sample = proc_sample(daemon.pid)
            if sample is None:
                continue
            self.last = sample
            self.peak_hwm_mb = max(self.peak_hwm_mb, sample.hwm_mb)


def run_soak(
    url: str,
    workdir: Path,
    turns: int,
    transactions: Any,
    silence_ms: int = 700,
) -> list[Row]:
    """Run the soak and return rows 3a-3b (memory), 4a-4c (latency), 5a-5c (soak).

    ``transactions(n)`` returns the gateway's :class:`Received` list, in order
    (waiting a little for ``n`` of them to be finished).
    """
    wav = workdir / "soak.wav"
    source, layout = build_soak_wav(wav, turns)
    config = daemon_config(
        url,
        wav,
        workdir / "soak.out.wav",
        listen={"end_of_speech": "vad", "silence_ms": silence_ms},
    )
    watch = SoakWatch(turns)
    daemon = DaemonProcess(workdir, "soak", config, on_event=watch.on_event)
    audio_s = source.size / SR
    t0 = time.monotonic()
    daemon.start()
    poller = threading.Thread(target=watch.poll, args=(daemon,), daemon=True)
    poller.start()
    code = daemon.wait(timeout=300 + turns * 3.0)
    watch.stop.set()
    poller.join(5)
    wall = time.monotonic() - t0
    got: list[Received] = transactions(turns)
    matched = match_transactions(got, source, layout)
    return (
        memory_rows(daemon, watch)
        + latency_rows(daemon, matched, source, silence_ms)
        + soak_rows(daemon, watch, matched, code, wall, audio_s)
    )


Match = tuple[Received, int | None, Turn | None]


def find_slice(source: np.ndarray, received: np.ndarray, lo: int = 0, hi: int = -1) -> int | None:
    """Offset of ``received`` as one exact slice of ``source`` starting in ``[lo, hi)``."""
    hi = source.size if hi < 0 else hi
    hi = min(hi, source.size - received.size + 1)
    if received.size == 0 or hi <= lo:
        return None
    candidates = lo + np.flatnonzero(source[lo:hi] == received[0])
    for k in range(1, min(received.size, 16)):
        candidates = candidates[source[candidates + k] == received[k]]
    for offset in candidates:
        if np.array_equal(source[offset : offset + received.size], received):
            return int(offset)
    return None


def match_transactions(
    got: list[Received], source: np.ndarray, layout: list[Turn]
) -> list[Match]:
    """Each transaction with its offset in the source and the turn it belongs to."""
    out: list[Match] = []
    starts = np.array([t.wake_start for t in layout])
    span = layout[0].end - layout[0].wake_start if layout else SR
    hint = 0
    for rec in got:
        audio = np.frombuffer(rec.audio, dtype="<i2")
        # Transactions come in file order: look just after the previous one first.
        offset = find_slice(source, audio, hint, hint + 3 * span)
        if offset is None:
            offset = find_slice(source, audio)
        turn = None
        if offset is not None:
            hint = offset + audio.size
            index = int(np.searchsorted(starts, offset + PREROLL_MS * SR // 1000, "right")) - 1
            turn = layout[index] if index >= 0 else None
        out.append((rec, offset, turn))
    return out


def vad_end_point(source: np.ndarray, start: int, silence_ms: int) -> int | None:
    """Where agent.hearing.vad's end-of-speech puts the end, fed frames as the daemon feeds it."""
    from agent.hearing.vad import EndOfSpeech

    eos = EndOfSpeech(silence_ms=silence_ms)
    eos.start(start)
    for at in range(start, min(source.size, start + 10 * SR), 1280):
        event = eos.process(source[at : at + 1280], at)
        if event is not None and event.kind == "ended":
            return event.position if event.reason == "vad" else None
    return None


def _stats_ms(values: list[float], count: bool = True) -> str:
    if not values:
        return "no samples"
    return (
        f"median {percentile(values, 50):.1f} ms, p95 {percentile(values, 95):.1f} ms, "
        f"max {max(values):.1f} ms" + (f" (n={len(values)})" if count else "")
    )


def memory_rows(daemon: DaemonProcess, watch: SoakWatch) -> list[Row]:
    """3a peak RSS after start, 3b peak RSS after N turns and growth from turn 10."""
    start = daemon.at_connect
    early = watch.at_turn.get(min(10, watch.turns))
    late = watch.at_turn.get(watch.turns)
    peak = max(watch.peak_hwm_mb, late.hwm_mb if late else 0.0)
    growth = (late.rss_mb - early.rss_mb) if (early and late) else float("nan")
    from bench_wake import peak_rss_mb

    reference = peak_rss_mb(
        "import openwakeword.model as m\n"
        "m.Model(wakeword_models=['hey_jarvis'], inference_framework='onnx')"
    )
    ref = f"bare `import openwakeword.model` + Model(['hey_jarvis']): {reference:.0f} MB"
    return [
        Row(
            "3a",
            "Memory: daemon peak RSS (VmHWM) after start",
            f"{start.hwm_mb:.1f} MB" if start else "not sampled",
            ref,
            "<= 120 MB",
            bool(start and start.hwm_mb <= 120),
        ),
        Row(
            "3b",
            f"Memory: daemon peak RSS after {watch.turns} turns; RSS growth turn "
            f"{min(10, watch.turns)} -> {watch.turns}",
            f"peak {peak:.1f} MB; growth {growth:+.1f} MB (RSS at turn "
            + ", ".join(
                f"{k}: {watch.at_turn[k].rss_mb:.1f}" for k in watch.checkpoints
                if k in watch.at_turn
            )
            + " MB)",
            ref,
            "peak <= 120 MB, growth < 5 MB",
            bool(early and late and peak <= 120 and growth < 5),
        ),
    ]


def latency_rows(
    daemon: DaemonProcess,
    matched: list[Match],
    source: np.ndarray,
    silence_ms: int,
) -> list[Row]:
    """4a wake -> first audio_data at the gateway, 4b end of speech, 4c reply -> sink."""
    detected = {int(m["position"]): float(m["t"]) for m in daemon.marks("wake_detected")}
    wake_to_wire: list[float] = []
    speech_to_end: list[float] = []
    vad_end: list[float] = []
    for rec, offset, turn in matched:
        if offset is None:
            continue
        detection = offset + PREROLL_MS * SR // 1000
        t_detect = detected.get(detection)
        if t_detect is not None and rec.t_first_audio is not None:
            wake_to_wire.append((rec.t_first_audio - t_detect) * 1000)
        if turn is not None:
            # The transaction ends where the capture stream was when audio_end was sent
            # (the conversation closes it at the end of the frame that ended speech).
            end = offset + len(rec.audio) // 2
            speech_to_end.append((end - turn.phrase_last) * 1000 / SR)
            if len(vad_end) < VAD_REPLAYS:
                point = vad_end_point(source, detection, silence_ms)
                if point is not None:
                    vad_end.append((point - turn.phrase_last) * 1000 / SR)
    first_data: dict[str, float] = {}
    for m in daemon.marks("gateway_message"):
        if m.get("action") == "audio_data" and m.get("id") not in first_data:
            first_data[str(m["id"])] = float(m["t"])
    to_sink = [
        (float(m["t"]) - first_data[str(m["id"])]) * 1000
        for m in daemon.marks("playback_started")
        if str(m.get("id")) in first_data
    ]
    limit_end = silence_ms + 100
    return [
        Row(
            "4a",
            "Latency: wake detection (daemon) -> first audio_data received by the gateway",
            _stats_ms(wake_to_wire),
            "",
            "<= 30 ms (p95)",
            bool(wake_to_wire) and percentile(wake_to_wire, 95) <= 30,
        ),
        Row(
            "4b",
            "Latency: last spoken sample -> audio_end, in audio time (end_of_speech: vad)",
            _stats_ms(speech_to_end),
            f"silence_ms = {silence_ms}; agent.hearing.vad's own end point (replayed on "
            f"{len(vad_end)} turns): {_stats_ms(vad_end, count=False)}",
            f"<= silence_ms + 100 = {limit_end} ms (max)",
            bool(speech_to_end) and max(speech_to_end) <= limit_end,
        ),
        Row(
            "4c",
            "Latency: first reply audio_data received (daemon) -> first sample to the output sink",
            _stats_ms(to_sink),
            "",
            "<= 50 ms (p95)",
            bool(to_sink) and percentile(to_sink, 95) <= 50,
        ),
    ]


def soak_rows(
    daemon: DaemonProcess,
    watch: SoakWatch,
    matched: list[Match],
    code: int,
    wall: float,
    audio_s: float,
) -> list[Row]:
    """5a continuity, 5b stuck states, 5c threads and file descriptors."""
    n = watch.turns
    got = [rec for rec, _o, _t in matched]
    exact = sum(1 for _r, offset, _t in matched if offset is not None)
    turns_hit = {id(t) for _r, o, t in matched if o is not None and t is not None}
    counts = {
        "wake": daemon.count("wake"),
        "audio_start": daemon.count("audio_start"),
        "audio_end": daemon.count("audio_end"),
        "replies played": daemon.count("playback_end", interrupted=False),
        "back to idle": daemon.count("state", to="idle"),
        "audio_end at the gateway": sum(1 for r in got if r.t_end is not None),
    }
    reasons: dict[str, int] = {}
    for r in got:
        reasons[r.end_reason] = reasons.get(r.end_reason, 0) + 1
    ours: dict[str, int] = {}
    for e in daemon.events:
        if e["event"] == "audio_end":
            ours[str(e.get("reason"))] = ours.get(str(e.get("reason")), 0) + 1
    errors = daemon.count("error")
    states_ok = all(v == n for v in counts.values()) and errors == 0 and code == 0
    early = watch.at_turn.get(min(10, n))
    late = watch.at_turn.get(n)
    threads_ok = bool(early and late and late.threads <= early.threads and late.fds <= early.fds)
    return [
        Row(
            "5a",
            f"Continuity: {n} turns back to back ({audio_s:.0f} s of audio in {wall:.0f} s), "
            "each transaction vs the source file",
            f"{exact}/{len(got)} transactions exact slices, covering {len(turns_hit)}/{n} turns",
            "source[start:start+len]",
            "all exact: 0 lost or repeated samples",
            exact == len(got) == n and len(turns_hit) == n,
        ),
        Row(
            "5b",
            "Stuck states: every turn ends in idle",
            ", ".join(f"{k} {v}" for k, v in counts.items())
            + f"; errors {errors}; exit {code}; audio_end reasons: "
            + ", ".join(f"{k} {v}" for k, v in sorted(ours.items()))
            + "; ended by (gateway's record): "
            + ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())),
            f"{n} turns",
            "all counts equal to the turns, 0 errors, exit 0",
            states_ok,
        ),
        Row(
            "5c",
            f"Threads / open fds of the daemon at turn {min(10, n)} and turn {n}",
            (f"threads {early.threads} -> {late.threads}, fds {early.fds} -> {late.fds}"
             if early and late else "not sampled"),
            "",
            "no growth",
            threads_ok,
        ),
    ]
