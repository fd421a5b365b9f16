"""Listening CPU: ``voice-agent run`` on a file vs a bare openWakeWord loop on the same audio.

Both run in their own process of this interpreter, one after the other. The
reference is ``openwakeword.model.Model(...).predict`` on 80 ms frames
(``bench_wake.cpu_per_audio_second``: process CPU time around the loop only,
models already loaded). The daemon's CPU is its own process's user + system
time from the kernel (``wait4``); the gateway runs in the benchmark's process
and is not counted. The daemon's start-up (imports, loading the models,
connecting) is measured at the ``connected`` event and reported apart: the
per-second figure that meets the target excludes it, and both are printed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import SCRIPTS, DaemonProcess, Row, daemon_config, read_wav

_BARE_LOOP = """
import json, sys
sys.path.insert(0, {scripts!r})
import soundfile as sf
import openwakeword.model as oww
from bench_wake import cpu_per_audio_second
audio, _ = sf.read({audio!r}, dtype="int16")
model = oww.Model(wakeword_models={models!r}, inference_framework="onnx")
print(json.dumps({{"cpu_per_s": cpu_per_audio_second(lambda f, _p: model.predict(f), audio)}}))
"""


def bare_loop_cpu_per_s(audio: Path, models: list[str]) -> float:
    """CPU s per audio s of openWakeWord's ``Model.predict`` loop over ``audio``."""
    code = _BARE_LOOP.format(scripts=str(SCRIPTS), audio=str(audio), models=models)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=600
    )
    return float(json.loads(done.stdout.strip().splitlines()[-1])["cpu_per_s"])


@dataclass
class DaemonCpu:
    """One batch run of the daemon over a file."""

    audio_s: float
    total_s: float  # CPU of the whole process life
    startup_s: float  # CPU when the connected event arrived

    @property
    def per_s(self) -> float:
        """CPU s per audio s once started (start-up excluded)."""
        return (self.total_s - self.startup_s) / self.audio_s

    @property
    def per_s_with_startup(self) -> float:
        """CPU s per audio s including start-up."""
        return self.total_s / self.audio_s


def daemon_cpu(
    url: str,
    workdir: Path,
    name: str,
    audio: Path,
    models: list[str],
    gate: float | None,
    wake: dict[str, object] | None = None,
) -> DaemonCpu:
    """Run ``voice-agent run`` over ``audio`` (not paced) and account its CPU."""
    seconds = read_wav(audio).size / 16000
    config = daemon_config(
        url,
        audio,
        workdir / f"{name}.out.wav",
        wake={"models": models, "noise_gate_dbfs": gate, **(wake or {})},
    )
    daemon = DaemonProcess(workdir, name, config).start()
    code = daemon.wait(timeout=120 + seconds)
    if code != 0 or daemon.cpu_s is None or daemon.cpu_at_connect is None:
        raise RuntimeError(f"daemon run {name} failed (exit {code}): {daemon.stderr_tail()}")
    if daemon.count("wake"):
        raise RuntimeError(f"daemon run {name}: a wake word was detected in audio without one")
    return DaemonCpu(seconds, daemon.cpu_s, daemon.cpu_at_connect)


def _ms(x: float) -> str:
    return f"{x * 1000:.1f} ms/s"


def cpu_rows(
    url: str,
    workdir: Path,
    talk: Path,
    rooms: dict[str, Path],
    models: list[str],
    gate_dbfs: float,
    repeats: int = 1,
) -> list[Row]:
    """Rows 1a-1c (talk: openWakeWord gated and not, microWakeWord) and 2a (steady rooms).

    ``rooms`` maps a label ("-50 dBFS + hum") to its file. The gate is the default
    one (adaptive, with ``gate_dbfs`` as its fixed floor). With ``repeats`` > 1
    every run is repeated, the references and the daemon runs taking turns, and
    the lowest CPU of each is kept: other work on the machine only ever adds CPU
    time (shared caches and cores), never removes it.
    """
    talk_s = read_wav(talk).size / 16000
    micro = {"engine": "micro"}
    runs: list[tuple[str, str, Path, float | None, dict[str, object] | None, float]] = [
        ("1a", f"Listening CPU, talk ({talk_s:.1f} s), openWakeWord, gate on (adaptive, default)",
         talk, gate_dbfs, None, 0.6),
        ("1b", f"Listening CPU, talk ({talk_s:.1f} s), openWakeWord, gate off",
         talk, None, None, 1.15),
        ("1c", f"Listening CPU, talk ({talk_s:.1f} s), microWakeWord (wake.engine: micro), "
         "gate on", talk, gate_dbfs, micro, 0.15),
    ]
    for index, (label, path) in enumerate(rooms.items()):
        seconds = read_wav(path).size / 16000
        runs.append((f"2a{index + 1}", f"Listening CPU, steady room {label} ({seconds:.0f} s), "
                     "openWakeWord, gate on (adaptive, default)", path, gate_dbfs, None, 0.15))
    files = sorted({audio for _k, _l, audio, *_ in runs})
    bare: dict[Path, list[float]] = {audio: [] for audio in files}
    daemon: dict[str, list[DaemonCpu]] = {key: [] for key, *_ in runs}
    for rep in range(repeats):
        for audio in files:
            bare[audio].append(bare_loop_cpu_per_s(audio, models))
        for key, _label, audio, gate, wake, _limit in runs:
            daemon[key].append(
                daemon_cpu(url, workdir, f"cpu-{key}-{rep}", audio, models, gate, wake)
            )
    rows = []
    note = f" (lowest of {repeats})" if repeats > 1 else ""
    for key, label, audio, _gate, _wake, limit in runs:
        run = min(daemon[key], key=lambda r: r.per_s)
        reference = min(bare[audio])
        ratio = run.per_s / reference
        rows.append(
            Row(
                key,
                label,
                f"{_ms(run.per_s)} = {ratio:.2f}x{note} (with start-up: "
                f"{_ms(run.per_s_with_startup)}; start-up {run.startup_s:.2f} s CPU)",
                f"bare openWakeWord Model.predict loop {_ms(reference)}{note}",
                f"<= {limit:g}x bare loop",
                ratio <= limit,
            )
        )
    return rows
