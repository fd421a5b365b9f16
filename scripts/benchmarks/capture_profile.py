"""Where the listening daemon's CPU goes: each stage of the capture thread, in thread CPU time.

The real :class:`~agent.device.daemon.Daemon` runs in this process on a file
(not paced) against the reference gateway; its stages are wrapped in place
(the instances' methods, not the code) with counters of
``time.thread_time()``, so each stage's figure is CPU of the thread it runs
on, not the wall clock, and other work on a shared machine does not enter
it. The capture thread and the conversation (main) thread are accounted
apart; every thread's CPU is read from its own clock
(``pthread_getcpuclockid``) while the capture loop runs, so start-up and
shutdown are left out.

The wrappers cost a little themselves (two clock reads per call, ~1 us each);
the table gives the capture thread's total both wrapped and not.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.common import daemon_config, read_wav

#: Stages in the order of the table: (key, what it covers).
STAGES = (
    ("capture", "capture and framing: the source's read (file, MicTap)"),
    ("front", "echo front end (CaptureProcessor.process; bypassed when off)"),
    ("gate", "silence gate: the frame's level and the floor"),
    ("features", "engine features (openWakeWord: melspectrogram + embedding; "
                 "micro: the TFLite front end)"),
    ("model", "engine model (openWakeWord: classifier; micro: streaming model)"),
    ("wake", "wake detector's own Python (framing, thresholds, the gate's ring)"),
    ("events", "events: the AudioFrame, the queue, the in-flight semaphore, the loop"),
    ("ring", "the pre-roll ring (conversation thread)"),
    ("vad", "the VAD and streaming (conversation thread; only in a turn)"),
    ("conversation", "the conversation thread's own handling of each frame"),
    ("other", "other threads (gateway connection, player, operations)"),
)


class Counters:
    """Thread CPU per stage; each wrapper adds to its stage when the call returns."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def wrap(self, obj: Any, name: str, stage: str) -> None:
        """Replace ``obj.name`` (a bound method) with a timed one."""
        inner: Callable[..., Any] = getattr(obj, name)
        clock = time.thread_time
        cpu, calls = self.cpu, self.calls

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = clock()
            try:
                return inner(*args, **kwargs)
            finally:
                cpu[stage] += clock() - t0
                calls[stage] += 1

        setattr(obj, name, timed)


@dataclass
class Profile:
    """One run's figures: ms of CPU per audio second by stage, and the threads' totals."""

    engine: str
    audio_s: float
    stages: dict[str, float] = field(default_factory=dict)
    threads: dict[str, float] = field(default_factory=dict)
    wrapped: bool = True


def _thread_clocks() -> dict[str, float]:
    out = {}
    for t in threading.enumerate():
        if t.ident is None:
            continue
        try:
            out[f"{t.name}:{t.ident}"] = time.clock_gettime(time.pthread_getcpuclockid(t.ident))
        except (OSError, ProcessLookupError):
            continue
    return out


def profile_daemon(
    url: str, workdir: Path, audio: Path, engine: str, gate: float | None, *, wrap: bool = True,
    audio_section: dict[str, Any] | None = None,
) -> Profile:
    """Run the daemon in this process over ``audio`` and account its threads and stages."""
    from agent.config.load import parse_config
    from agent.device.daemon import Daemon

    seconds = read_wav(audio).size / 16000
    config = daemon_config(
        url, audio, workdir / f"profile-{engine}.out.wav",
        wake={"models": ["hey_jarvis"], "noise_gate_dbfs": gate, "engine": engine},
        log={"level": "error", "format": "json"},
    )
    if audio_section:
        config["audio"].update(audio_section)

    class _Quiet:
        def emit(self, event: str, **fields: Any) -> None:
            del event, fields

    daemon = Daemon(parse_config(config, "profile"), events=_Quiet())
    counters = Counters()
    main_cpu: dict[str, float] = {}
    clocks: dict[str, dict[str, float]] = {}
    loop = daemon._capture_loop

    def capture_loop() -> None:
        clocks["start"] = _thread_clocks()
        t0 = time.thread_time()
        loop()
        main_cpu["capture"] = time.thread_time() - t0
        clocks["end"] = _thread_clocks()

    daemon._capture_loop = capture_loop  # type: ignore[method-assign]
    daemon._capture = threading.Thread(target=capture_loop, name="capture", daemon=True)
    if wrap:
        _instrument(daemon, counters)
    daemon.run()
    start, end = clocks["start"], clocks["end"]
    threads = {k.split(":")[0]: (end[k] - start[k]) for k in end if k in start}
    ms = 1000 / seconds
    prof = Profile(engine, seconds, wrapped=wrap)
    prof.threads = {k: v * ms for k, v in threads.items()}
    cap = threads.get("capture", main_cpu["capture"])
    main = threads.get("MainThread", 0.0)
    other = sum(v for k, v in threads.items() if k not in ("capture", "MainThread"))
    c = counters.cpu
    if wrap:
        engine_cpu = c["features"] + c["model"]
        prof.stages = {
            "capture": c["capture"],
            "front": c["front"],
            "gate": c["gate"],
            "features": c["features"],
            "model": c["model"],
            "wake": c["detector"] - c["gate"] - engine_cpu,
            "events": cap - c["capture"] - c["front"] - c["detector"],
            "ring": c["ring"],
            "vad": c["vad"],
            "conversation": main - c["ring"] - c["vad"],
            "other": other,
        }
        prof.stages = {k: v * ms for k, v in prof.stages.items()}
    prof.threads["capture (loop)"] = cap * ms
    return prof


def _instrument(daemon: Any, counters: Counters) -> None:
    """Wrap each stage's method on the daemon's own parts."""
    parts = daemon.parts
    counters.wrap(parts.source, "read", "capture")
    if daemon.front.processor is not None:
        counters.wrap(daemon.front.processor, "process", "front")
    detector = getattr(parts.detector, "inner", parts.detector)
    counters.wrap(parts.detector, "process", "detector")
    if detector.gate is not None:
        counters.wrap(detector.gate, "quiet", "gate")
    for scorer in detector.scorers:
        if hasattr(scorer, "_features_of"):  # microWakeWord
            counters.wrap(scorer, "_features_of", "features")
            for stream in scorer._streams:
                counters.wrap(stream, "feed", "model")
        else:  # openWakeWord
            counters.wrap(scorer._features, "push", "features")
            for classifier in scorer.classifiers:
                counters.wrap(classifier, "scores", "model")
    counters.wrap(daemon.ring, "append_samples", "ring")
    counters.wrap(daemon.conversation, "_listen", "vad")


def profile_table(profiles: list[Profile], bare: dict[str, float]) -> str:
    """A Markdown table: one column per engine, ms of CPU per audio second by stage."""
    head = "| stage | " + " | ".join(p.engine for p in profiles) + " |\n"
    head += "|---|" + "---|" * len(profiles) + "\n"
    lines = []
    for key, what in STAGES:
        cells = " | ".join(f"{p.stages.get(key, 0.0):.2f}" for p in profiles)
        lines.append(f"| {what} | {cells} |")
    wrapped = " | ".join(f"{p.threads['capture (loop)']:.2f}" for p in profiles)
    lines.append(f"| **capture thread, total (wrapped)** | {wrapped} |")
    main = " | ".join(f"{p.threads.get('MainThread', 0.0):.2f}" for p in profiles)
    lines.append(f"| **conversation thread, total** | {main} |")
    bare_cells = " | ".join(f"{bare.get(p.engine, float('nan')):.2f}" for p in profiles)
    lines.append(f"| bare loop of the engine (its public API), same audio | {bare_cells} |")
    return head + "\n".join(lines) + "\n"
