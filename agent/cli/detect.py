"""``voice-agent detect FILE.wav``: print the wake word detections in a recording.

Reads any WAV (or other libsndfile format) at any rate and channel count,
converts it to 16 kHz mono int16 (channels averaged, resampled with soxr) and
runs the same :class:`agent.hearing.wake.WakeDetector` the daemon uses, printing each
detection at its audio time.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

DEFAULT_MODELS = ("alexa", "hey_jarvis", "hey_mycroft", "hey_rhasspy")
DEFAULT_NOISE_GATE_DBFS = -55.0
PAD_SAMPLES = 16000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``detect`` options."""
    parser.add_argument("file", metavar="FILE.wav", help="audio file to scan")
    parser.add_argument(
        "--model",
        action="append",
        metavar="NAME_OR_PATH",
        help="wake model: a built-in name (alexa, hey_jarvis, hey_mycroft, hey_rhasspy, "
        "timer, weather) or an .onnx path; repeat for several "
        f"(default: {', '.join(DEFAULT_MODELS)}; with --engine micro, its own built-ins)",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=None,
        metavar="X",
        help="score threshold (default 0.5; microWakeWord models: their own cutoff)",
    )
    parser.add_argument(
        "--refractory",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="audio time before the same model may detect again (default 2.0)",
    )
    parser.add_argument(
        "--engine",
        choices=("openwakeword", "micro"),
        default="openwakeword",
        help="engine of the built-in names both have (alexa, hey_jarvis, hey_mycroft); "
        "okay_nabu and .json/.tflite files are microWakeWord's (default openwakeword)",
    )
    parser.add_argument(
        "--gate",
        choices=("adaptive", "fixed"),
        default="adaptive",
        help="silence gate: adaptive (the tracked noise floor + margin, and below "
        f"{DEFAULT_NOISE_GATE_DBFS:g} dBFS) or fixed ({DEFAULT_NOISE_GATE_DBFS:g} dBFS only); "
        "default adaptive, as the daemon",
    )
    parser.add_argument(
        "--no-gate",
        action="store_true",
        help="score every frame (no silence gate)",
    )


def read_audio_16k(path: Path) -> Any:
    """Read an audio file as 16 kHz mono int16 (a NumPy array).

    Raises OSError (missing file) or RuntimeError (libsndfile cannot read it).
    """
    import numpy as np
    import soundfile as sf
    import soxr

    info = sf.info(str(path))
    if info.samplerate == 16000 and info.channels == 1:
        data, _ = sf.read(str(path), dtype="int16", always_2d=False)
        return np.asarray(data, dtype=np.int16)
    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    mono = data.mean(axis=1)
    if rate != 16000:
        mono = soxr.resample(mono, rate, 16000)
    return np.clip(np.round(mono * 32768.0), -32768, 32767).astype(np.int16)


def default_models(engine: str) -> tuple[str, ...]:
    """The models scanned when none is named: every built-in one of ``engine``."""
    if engine == "micro":
        from agent.hearing.micro import BUILTIN_MICRO_MODELS

        return BUILTIN_MICRO_MODELS
    return DEFAULT_MODELS


def run(args: argparse.Namespace) -> int:
    """Scan the file; 0 on success, 2 if the file or a model cannot be used."""
    path = Path(args.file)
    if not path.is_file():
        print(f"voice-agent detect: {path}: no such file", file=sys.stderr)
        return 2
    try:
        audio = read_audio_16k(path)
    except (OSError, RuntimeError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"voice-agent detect: {path}: cannot read audio: {reason}", file=sys.stderr)
        return 2

    import numpy as np

    from agent.hearing.gate import SilenceGate
    from agent.hearing.models import WakeModelError
    from agent.hearing.wake import WakeDetector

    models = tuple(args.model) if args.model else default_models(args.engine)
    gate = None if args.no_gate else SilenceGate(args.gate, DEFAULT_NOISE_GATE_DBFS)
    # A threshold given on the command line applies to every model; otherwise each
    # microWakeWord model keeps its own cutoff (as in the daemon).
    thresholds = args.threshold if args.threshold is not None else {}
    try:
        detector = WakeDetector(
            models,
            thresholds=thresholds,
            refractory_s=args.refractory,
            gate=gate,
            engine=args.engine,
        )
    except WakeModelError as exc:
        print(f"voice-agent detect: {exc}", file=sys.stderr)
        return 2

    # Like openWakeWord's predict_clip, pad 1 s of silence at both ends: the first
    # frames after start are not scored, and a detection comes a few frames after
    # the word, so a clip that starts or ends with the wake word still detects.
    # Times are reported relative to the file's first sample.
    pad = np.zeros(PAD_SAMPLES, dtype=np.int16)
    detections = detector.process(np.concatenate((pad, audio, pad)), -PAD_SAMPLES)
    for d in detections:
        print(f"{d.seconds:6.2f} s  {d.model}  score {d.score:.3f}")
    seconds = audio.size / 16000
    frames = detector.frames_scored + detector.frames_skipped
    if detector.gate is None:
        gated = "gate off"
    else:
        gated = f"gate skipped {detector.frames_skipped} of {frames} frames"
    noun = "detection" if len(detections) == 1 else "detections"
    limits = ", ".join(f"{name} {detector.threshold_for(name):g}" for name in detector.model_names)
    print(
        f"{len(detections)} {noun} in {seconds:.2f} s of audio "
        f"(models: {', '.join(detector.model_names)}; thresholds {limits}; {gated})"
    )
    if detector.gate is not None:
        stats = detector.gate.stats
        if detector.gate.mode == "adaptive":
            print(
                f"noise floor: {stats.floor_min:.1f} to {stats.floor_max:.1f} dBFS tracked "
                f"(at the end {detector.gate.floor.level:.1f} dBFS); frames within "
                f"{detector.gate.margin_db:g} dB of it are quiet "
                f"({stats.quiet} of {stats.frames} quiet; the 1 s pads included)"
            )
        else:
            print(
                f"fixed gate at {detector.gate.fixed_dbfs:g} dBFS "
                f"({stats.quiet} of {stats.frames} frames quiet)"
            )
    return 0
