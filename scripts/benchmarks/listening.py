"""The daemon's listening CPU against the bare loop of the same engine (rows 1d, 1e).

Daemon: ``voice-agent run`` in its own process over the talk clip, file input
not paced; its CPU is the kernel's account of the exited process (``wait4``).
Its *marginal* CPU per audio second is the difference between a run over the
clip three times and a run over it once, divided by the difference in audio:
start-up (imports, models, connecting) and shutdown cancel out exactly, and
nothing is guessed about where start-up ends. The bare loop of each engine
runs in a fresh process of the same interpreter, through the engine's public
API, with ``time.thread_time()`` around the loop only (models loaded):

* openWakeWord: ``openwakeword.model.Model(...).predict`` on 80 ms frames;
* microWakeWord: ``MicroWakeWordFeatures.process_streaming`` on 10 ms chunks,
  every feature to ``MicroWakeWord.process_streaming``.

Every run is repeated, the kinds taking turns, and the lowest of each is kept
(other work on a shared machine only ever adds CPU time).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from benchmarks.capture_profile import Profile, profile_daemon, profile_table
from benchmarks.common import SCRIPTS, Row, read_wav, write_wav
from benchmarks.cpu import daemon_cpu

TARGET = 1.25
MARK = "<!-- listening overhead: scripts/benchmarks/listening.py -->"

_BARE = {
    "openwakeword": """
import openwakeword.model as oww
model = oww.Model(wakeword_models=["hey_jarvis"], inference_framework="onnx")
step, chunk = (lambda x: model.predict(x)), 1280
""",
    "micro": """
from pymicro_wakeword import MicroWakeWord, MicroWakeWordFeatures
from agent.hearing.micro import resolve_micro
model = MicroWakeWord.from_config(resolve_micro("hey_jarvis").manifest)
features = MicroWakeWordFeatures()
def step(x):
    for f in features.process_streaming(x.tobytes()):
        model.process_streaming(f)
chunk = 160
""",
}
_LOOP = """
import json, sys, time
sys.path[:0] = [{scripts!r}, {repo!r}]
import soundfile as sf
audio, _ = sf.read({audio!r}, dtype="int16")
{setup}
t0 = time.thread_time()
for i in range(0, audio.size - chunk + 1, chunk):
    step(audio[i : i + chunk])
print(json.dumps({{"cpu_per_s": (time.thread_time() - t0) / (audio.size / 16000)}}))
"""


def bare_cpu_per_s(engine: str, audio: Path) -> float:
    """CPU s per audio s of the engine's bare loop over ``audio``, in a fresh process."""
    code = _LOOP.format(
        scripts=str(SCRIPTS), repo=str(SCRIPTS.parent), audio=str(audio), setup=_BARE[engine]
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=900
    )
    return float(json.loads(done.stdout.strip().splitlines()[-1])["cpu_per_s"])


def overhead_rows(
    url: str, workdir: Path, talk: np.ndarray, gate_dbfs: float, repeats: int = 2,
    profile: bool = True,
) -> tuple[list[Row], list[Profile], dict[str, float]]:
    """Rows 1d/1e, the capture-thread profiles of both engines, and the bare loops."""
    once = write_wav(workdir / "talk1.wav", talk)
    thrice = write_wav(workdir / "talk3.wav", np.tile(talk, 3))
    extra_s = (read_wav(thrice).size - read_wav(once).size) / 16000
    engines = ("openwakeword", "micro")
    bare: dict[str, list[float]] = {e: [] for e in engines}
    daemon: dict[str, list[tuple[float, float]]] = {e: [] for e in engines}
    for rep in range(repeats):
        for engine in engines:
            bare[engine].append(bare_cpu_per_s(engine, thrice))
            runs = []
            for name, audio in (("1", once), ("3", thrice)):
                wake = {"engine": engine}
                runs.append(
                    daemon_cpu(url, workdir, f"ovh-{engine}-{name}-{rep}", audio,
                               ["hey_jarvis"], gate_dbfs, wake)
                )
            daemon[engine].append((runs[0].total_s, runs[1].total_s))
    rows: list[Row] = []
    lowest_bare = {e: min(v) for e, v in bare.items()}
    for key, engine in (("1d", "openwakeword"), ("1e", "micro")):
        short = min(a for a, _ in daemon[engine])
        long = min(b for _, b in daemon[engine])
        marginal = (long - short) / extra_s
        ratio = marginal / lowest_bare[engine]
        rows.append(Row(
            key,
            f"Listening CPU, talk, {engine}: the daemon's marginal CPU (3x the clip minus "
            "once) vs the engine's bare loop, same audio",
            f"{marginal * 1000:.2f} ms/s = {ratio:.2f}x (lowest of {repeats})",
            f"bare {engine} loop {lowest_bare[engine] * 1000:.2f} ms/s (lowest of {repeats})",
            f"<= {TARGET:g}x bare loop",
            ratio <= TARGET,
        ))
    profiles = [
        profile_daemon(url, workdir, thrice, engine, gate_dbfs) for engine in engines
    ] if profile else []
    return rows, profiles, {e: v * 1000 for e, v in lowest_bare.items()}


SLOWER = 8

CUT = """
**What was cut (issue 26).** The same profile before the work, microWakeWord (ms/s):
capture 0.36, gate 0.15, features 0.85, model 1.35 (a Python call per 10 ms feature
through `process_streaming_prob`, `statistics.mean` per stride), wake detector 0.18,
events 0.09, ring 0.04, conversation 0.14: capture thread 2.98, where the bare loop
costs 2.0. Now: the models run once per 30 ms stride on all of a frame's features with
the library's own arithmetic (bit-identical: `tests/hearing/test_micro.py` compares
every frame's score with `MicroWakeWord.process_streaming_prob`), the window's mean by
`math.fsum` (the same value as `statistics.mean` for these float32 outputs), no raw-
audio ring for microWakeWord (it keeps its own features), thresholds worked out once,
the gate's level by one exact dot product, and the file source reads eight frames per
call. Idle (gate closed): microWakeWord runs only its front end (needed: its noise
estimate has a long memory); openWakeWord nothing but the gate; the VAD runs only in a
turn; the echo front end passes a whole idle frame on untouched.

**Catch-up (1f, missed by about 30-40 ms at x8).** openWakeWord's replay is 25
melspectrogram and 15 embedding runs; the embeddings alone are ~14 ms here (~0.9 ms
each; one batch of 15 is no cheaper and bit-identical), so x8 they exceed 100 ms by
themselves. Keeping them warm while the gate is closed would cost ~12 ms/s in a quiet
room (about 0.5x the bare loop, against the 0.15x target of 2a), so it was not done: the
quiet-room figures stand, and microWakeWord (1g, 16 ms) is the engine for a board where
the first frames after silence matter.
"""


def catch_up_rows(repeats: int = 5) -> list[Row]:
    """Rows 1f/1g: the frame at which sound returns, in thread CPU, scaled to a board 8x slower.

    4 s of -70 dBFS hiss (the gate closes), the shared "alexa" clip, 4 s of hiss;
    ``alexa`` on each engine, adaptive gate. The re-opening frame's thread CPU (the
    engine rebuilding its state, then scoring the frame) is the most a detection
    in the first frame after silence is held back; the lowest of ``repeats``.
    """
    import time

    from bench_wake import SHARED_AUDIO

    from agent.hearing.gate import SilenceGate
    from agent.hearing.wake import WakeDetector

    wake = read_wav(SHARED_AUDIO / "wake_alexa.wav")
    hiss = (np.random.default_rng(0).standard_normal(16000 * 4) * 32768 * 10 ** (-70 / 20))
    hiss16 = hiss.astype(np.int16)
    audio = np.concatenate((hiss16, wake, hiss16))
    audio = audio[: audio.size // 1280 * 1280]
    rows = []
    for key, engine in (("1f", "openwakeword"), ("1g", "micro")):
        detector = WakeDetector(["alexa"], engine=engine, gate=SilenceGate("adaptive", -55.0))
        reopen, ordinary = [], []
        for _ in range(repeats):
            detector.reset()
            was_skipped = False
            for i in range(0, audio.size, 1280):
                t0 = time.thread_time()
                detector.process(audio[i : i + 1280], i)
                took = time.thread_time() - t0
                if was_skipped and not detector.last_skipped:
                    reopen.append(took)
                elif not detector.last_skipped and i > 4 * 16000:
                    ordinary.append(took)
                was_skipped = detector.last_skipped
        worst = min(reopen) * 1000 * SLOWER
        frame = float(np.median(ordinary)) * 1000 * SLOWER
        rows.append(Row(
            key,
            f"Catch-up when sound returns after the gate closed, {engine} (alexa): the "
            f"re-opening frame's thread CPU x{SLOWER} (a board {SLOWER}x slower)",
            f"{worst:.0f} ms (here {worst / SLOWER:.1f} ms; lowest of {repeats}); held back "
            f"vs ungated: {worst - frame:.0f} ms",
            f"an ordinary frame x{SLOWER}: {frame:.0f} ms",
            f"<= 100 ms held back on a board {SLOWER}x slower",
            worst - frame <= 100,
        ))
    return rows


def section(rows: list[Row], profiles: list[Profile], bare_ms: dict[str, float]) -> str:
    """The docs/benchmarks.md section: rows 1d/1e and the capture thread's profile."""
    lines = [
        MARK,
        "## Listening at the engine's own cost (issue 26)",
        "",
        "Measured with `.venv/bin/python scripts/bench.py --only listening --repeats 3` "
        "on a machine **shared with about eight other engineers' work on 2 cores (loaded)**: "
        "every CPU figure is thread or process CPU time (not wall time), the lowest of the "
        "repeats; load only ever adds to them.",
        "",
        "| # | figure | measured | reference | target | result |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r.key} | {r.figure} | {r.measured} | {r.reference} | {r.target} | "
                     f"{r.verdict} |")
    lines += [
        "",
        "### Where the capture thread's time goes (ms of CPU per audio second, talk clip x3)",
        "",
        "`scripts/benchmarks/capture_profile.py`: the real `Daemon` in the benchmark's "
        "process on the talk clip (file, not paced, adaptive gate), each stage's method "
        "wrapped on its instance with `time.thread_time()` counters; each thread's CPU read "
        "from its own clock while the capture loop runs. The wrappers add about 2 clock "
        "reads per call (~1 us each).",
        "",
        profile_table(profiles, bare_ms),
        CUT,
    ]
    return "\n".join(lines) + "\n"


def write_section(path: Path, text: str) -> None:
    """Put the section in ``path``: replace the old one, else before the echo section."""
    old = path.read_text() if path.exists() else ""
    echo = "<!-- echo cancellation: scripts/bench_echo.py -->"
    if MARK in old:
        start = old.index(MARK)
        end = old.find("<!-- ", start + len(MARK))
        new = old[:start] + text + ("\n" + old[end:] if end >= 0 else "")
    elif echo in old:
        at = old.index(echo)
        new = old[:at] + text + "\n" + old[at:]
    else:
        new = old.rstrip() + "\n\n" + text
    path.write_text(new)
