#!/usr/bin/env python3
"""Wake word CPU and memory: openWakeWord's own Model vs agent.hearing.wake, gated and not.

Prints CPU seconds per second of audio (time.process_time, 80 ms frames) on
the 34 s talk clip and on a quiet room (low noise), and the peak RSS of a fresh
interpreter after loading each. Figures only, no asserts. Run from anywhere:

    .venv/bin/python scripts/bench_wake.py [--models hey_jarvis ...] [--quiet-seconds 100]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED_AUDIO = REPO / "tests" / "data" / "audio"  # the project's own copies (NOTICE there)
sys.path.insert(0, str(REPO))

from agent.hearing.wake import WakeDetector  # noqa: E402

SR = 16000
FRAME = 1280


def talk_clip() -> np.ndarray:
    import soundfile as sf

    data, rate = sf.read(str(SHARED_AUDIO / "negative_office_talk_34s.wav"), dtype="int16")
    assert rate == SR
    return np.asarray(data, dtype=np.int16)


def quiet_room(seconds: float, dbfs: float) -> np.ndarray:
    rng = np.random.default_rng(0)
    n = int(seconds * SR)
    return np.round(rng.standard_normal(n) * 32768 * 10 ** (dbfs / 20)).astype(np.int16)


def cpu_per_audio_second(step: Callable[[np.ndarray, int], object], audio: np.ndarray) -> float:
    start = time.process_time()
    for i in range(0, audio.size - FRAME + 1, FRAME):
        step(audio[i : i + FRAME], i)
    return (time.process_time() - start) / (audio.size / SR)


# Peak RSS of the child itself. Linux carries ru_maxrss over from the parent across
# fork and exec (this benchmark's own process is large by then), so getrusage in the
# child would report ours; /proc/self/status's VmHWM belongs to the new image alone.
_PEAK_RSS = """
import resource
try:
    with open("/proc/self/status") as status:
        kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
except OSError:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(kb / 1024)
"""


def peak_rss_mb(code: str) -> float:
    """Peak RSS (MB) of a fresh interpreter that runs ``code``."""
    probe = code + "\n" + _PEAK_RSS
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["hey_jarvis"])
    parser.add_argument("--quiet-seconds", type=float, default=100.0)
    parser.add_argument("--quiet-dbfs", type=float, default=-65.0)
    parser.add_argument("--gate-dbfs", type=float, default=-55.0)
    args = parser.parse_args()
    models: list[str] = list(args.models)

    signals = {
        "talk clip (34.5 s)": talk_clip(),
        f"quiet room ({args.quiet_seconds:g} s at {args.quiet_dbfs:g} dBFS)": quiet_room(
            args.quiet_seconds, args.quiet_dbfs
        ),
    }
    print(f"models: {', '.join(models)}; 80 ms frames; CPU s per audio s (lower is better)")

    runners: dict[str, Callable[[], Callable[[np.ndarray, int], object]]] = {}
    try:
        import openwakeword.model as oww_model

        def upstream() -> Callable[[np.ndarray, int], object]:
            model = oww_model.Model(wakeword_models=list(models), inference_framework="onnx")
            return lambda frame, _pos: model.predict(frame)

        runners["openwakeword Model.predict"] = upstream
    except Exception as exc:  # noqa: BLE001 - report and carry on with ours
        print(f"(openwakeword.model not importable: {exc!r}; skipping it)")

    def ours(gate: float | None) -> Callable[[], Callable[[np.ndarray, int], object]]:
        return lambda: WakeDetector(models, noise_gate_dbfs=gate).process

    runners["agent.hearing.wake ungated"] = ours(None)
    runners[f"agent.hearing.wake gated ({args.gate_dbfs:g} dBFS)"] = ours(args.gate_dbfs)

    width = max(len(name) for name in runners)
    for label, audio in signals.items():
        print(f"\n{label}")
        for name, make in runners.items():
            step = make()
            cost = cpu_per_audio_second(step, audio)
            extra = ""
            owner = getattr(step, "__self__", None)
            if isinstance(owner, WakeDetector) and owner.noise_gate_dbfs is not None:
                total = owner.frames_scored + owner.frames_skipped
                extra = f"   (skipped {owner.frames_skipped}/{total} frames)"
            print(f"  {name:<{width}}  {cost:.4f}{extra}")

    listed = repr(models)
    talk_path = str(SHARED_AUDIO / "negative_office_talk_34s.wav")
    print("\npeak RSS of a fresh interpreter after loading")
    rss = {
        "python + numpy (baseline)": "import numpy",
        f"agent.hearing.wake.WakeDetector({listed})": (
            f"from agent.hearing.wake import WakeDetector\nWakeDetector({listed})"
        ),
        "  after scoring the 34 s talk clip": (
            "import soundfile as sf\nfrom agent.hearing.wake import WakeDetector\n"
            f"d = WakeDetector({listed}, noise_gate_dbfs=None)\n"
            f"a, _ = sf.read({talk_path!r}, dtype='int16')\n"
            "[d.process(a[i : i + 1280], i) for i in range(0, a.size, 1280)]"
        ),
        "  + Silero VAD (agent.hearing.vad)": (
            f"from agent.hearing.wake import WakeDetector\nWakeDetector({listed})\n"
            "from agent.hearing.vad import default_vad\ndefault_vad()"
        ),
        f"openwakeword.model.Model({listed})": (
            "import openwakeword.model as m\n"
            f"m.Model(wakeword_models={listed}, inference_framework='onnx')"
        ),
    }
    name_width = max(len(name) for name in rss)
    for name, code in rss.items():
        try:
            print(f"  {name:<{name_width}}  {peak_rss_mb(code):6.1f} MB")
        except subprocess.CalledProcessError as exc:
            print(f"  {name:<{name_width}}  failed: {exc.stderr.strip().splitlines()[-1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
