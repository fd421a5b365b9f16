"""microWakeWord models (``pymicro-wakeword``) as a wake engine, exact under the silence gate.

``pymicro_wakeword`` 2.5.0 (Apache-2.0) carries the TFLite C library and four
models (``alexa``, ``hey_jarvis``, ``hey_mycroft``, ``okay_nabu``); a custom
model is a ``.tflite`` file and the ``.json`` manifest beside it. Audio goes
through ``MicroWakeWordFeatures`` (TFLite Micro's audio front end: a 40-value
feature every 10 ms) and each model's ``process_streaming_prob`` (a streaming
model run every ``stride`` features, 30 ms, whose score is the mean of its
last ``sliding_window_size`` outputs).

Under the gate, the front end runs on every frame (it is cheap, and its noise
estimate has a long memory, so it must see all the audio), and the models are
skipped. A streaming model's state is a function of its last
:data:`REPLAY_FEATURES` inputs only (measured: every output is bit-identical
after at most 123 features of replay from any state, for the four built-in
models), so when sound returns the last :data:`REPLAY_FEATURES` features are
replayed from a reset model, aligned to the stride as the ungated run was:
every score from then on equals the ungated one.
"""

from __future__ import annotations

import ctypes
import json
import logging
import math
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

BUILTIN_MICRO_MODELS = ("alexa", "hey_jarvis", "hey_mycroft", "okay_nabu")
FEATURE_SAMPLES = 160  # 10 ms: one front-end feature
_CHUNK_BYTES = FEATURE_SAMPLES * 2
_NO_FEATURES = np.zeros((0, 40))
#: Features replayed when sound returns: twice the longest measured memory (123)
#: of the built-in models, rounded up to a whole number of 80 ms frames (8 features).
REPLAY_FEATURES = 248


class MicroModelError(ValueError):
    """A microWakeWord model that cannot be used; str() is one line for the user."""


@dataclass(frozen=True)
class MicroSpec:
    """A microWakeWord model: its name, its JSON manifest and its detection cutoff."""

    name: str
    manifest: Path
    cutoff: float


def _package_dir() -> Path:
    try:
        import pymicro_wakeword
    except ImportError as exc:
        raise MicroModelError(
            "pymicro-wakeword is not installed (pip install pymicro-wakeword==2.5.0)"
        ) from exc
    return Path(pymicro_wakeword.__file__).parent


def resolve_micro(name_or_path: str) -> MicroSpec:
    """A built-in microWakeWord name, a ``.json`` manifest, or a ``.tflite`` beside its manifest."""
    path = Path(name_or_path).expanduser()
    if path.suffix in (".json", ".tflite"):
        manifest = path.with_suffix(".json")
        if not path.is_file():
            raise MicroModelError(f"{path}: wake model file not found")
        if not manifest.is_file():
            raise MicroModelError(
                f"{path}: a microWakeWord model needs its .json manifest beside it "
                f"({manifest.name})"
            )
    else:
        key = name_or_path.strip().replace(" ", "_")
        if key not in BUILTIN_MICRO_MODELS:
            raise MicroModelError(
                f"unknown microWakeWord model {name_or_path!r}: expected one of "
                f"{', '.join(BUILTIN_MICRO_MODELS)} or a .tflite/.json path"
            )
        manifest = _package_dir() / "models" / f"{key}.json"
    try:
        config: Any = json.loads(manifest.read_text(encoding="utf-8"))
        cutoff = float(config["micro"]["probability_cutoff"])
        model_file = manifest.parent / str(config["model"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise MicroModelError(f"{manifest}: not a microWakeWord manifest ({exc})") from exc
    if not model_file.is_file():
        raise MicroModelError(f"{manifest}: its model file {model_file.name} is missing")
    return MicroSpec(model_file.stem, manifest, cutoff)


class _Stream:
    """One model's streaming state, as ``MicroWakeWord.process_streaming_prob`` keeps it.

    The same arithmetic, call for call (quantise each feature, run the model
    once per ``stride`` features, dequantise, average the last
    ``sliding_window_size`` outputs), but fed a frame's features at once: the
    model runs once per stride instead of a Python call per 10 ms feature, the
    buffers are made once, and the mean is ``math.fsum`` over the window
    instead of ``statistics.mean`` (the same value: see :meth:`_mean`).
    """

    def __init__(self, model: Any) -> None:
        self.model = model
        self.stride = max(1, int(model.stride))
        self._probs: deque[float] = deque(maxlen=int(model.sliding_window_size))
        self._pending: np.ndarray | None = None  # quantised features not yet run
        self._out: np.ndarray | None = None

    def reset(self) -> None:
        """A fresh model (upstream reloads it: its variables hold the stream)."""
        self.model.reset()
        self._probs.clear()
        self._pending = None
        self._out = None

    def feed(self, feats: np.ndarray) -> float:
        """Features (n, F) float64, in order; the highest probability they produced (0.0: none)."""
        if not len(feats):
            return 0.0
        m = self.model
        q = np.round(feats / m.input_scale + m.input_zero_point).astype(m.input_dtype)
        if self._pending is not None:
            q = np.concatenate((self._pending, q))
        whole = len(q) - len(q) % self.stride
        best = 0.0
        for k in range(0, whole, self.stride):
            best = max(best, self._invoke(np.ascontiguousarray(q[k : k + self.stride])))
        self._pending = q[whole:] if whole < len(q) else None
        return best

    def _invoke(self, block: np.ndarray) -> float:
        m = self.model
        lib = m.lib
        lib.TfLiteTensorCopyFromBuffer(
            m.input_tensor, block.ctypes.data_as(ctypes.c_void_p), block.nbytes
        )
        lib.TfLiteInterpreterInvoke(m.interpreter)
        if self._out is None:
            size = lib.TfLiteTensorByteSize(m.output_tensor)
            self._out = np.empty(size // np.dtype(m.output_dtype).itemsize, dtype=m.output_dtype)
        out = self._out
        lib.TfLiteTensorCopyToBuffer(m.output_tensor, out.ctypes.data_as(ctypes.c_void_p),
                                     out.nbytes)
        result = (out.astype(np.float32) - m.output_zero_point) * m.output_scale
        self._probs.append(result.item())
        if len(self._probs) < (self._probs.maxlen or 0):
            return 0.0
        return self._mean()

    def _mean(self) -> float:
        """``statistics.mean`` of the window, bit for bit.

        ``statistics.mean`` rounds the exact mean once. Every value is a float32
        (dequantised 8-bit output) in [0, 1] with at most 32 significant
        fractional bits, so the exact sum of a window of up to 2**20 of them
        fits in a float64: ``math.fsum`` returns it exactly, and one division
        rounds the exact mean once, to the same float.
        """
        return math.fsum(self._probs) / len(self._probs)


class MicroScorer:
    """One or more microWakeWord models sharing one front end; scores per 80 ms frame.

    A frame's score for a model is the highest of the model's scores computed
    while that frame's audio was fed (two or three, one per 30 ms stride).
    The front end is ``pymicro_features.MicroFrontend`` fed 10 ms at a time
    exactly as ``MicroWakeWordFeatures.process_streaming`` feeds it, without a
    generator and an array per feature.
    """

    window_frames = REPLAY_FEATURES * FEATURE_SAMPLES // 1280
    #: The features are kept; the gate need not keep the raw audio for :meth:`catch_up`.
    needs_audio = False

    def __init__(self, specs: list[MicroSpec]) -> None:
        from pymicro_features import MicroFrontend
        from pymicro_wakeword import MicroWakeWord

        try:
            models = [MicroWakeWord.from_config(s.manifest) for s in specs]
        except (OSError, ValueError, RuntimeError) as exc:
            raise MicroModelError(f"cannot load microWakeWord model: {exc}") from exc
        self._streams = [_Stream(m) for m in models]
        self._frontend = MicroFrontend()
        self.specs = specs
        #: label -> model name (the same for microWakeWord: one class per model).
        self.labels = {s.name: s.name for s in specs}
        self.reset()

    @property
    def _models(self) -> list[Any]:
        return [s.model for s in self._streams]

    @property
    def default_thresholds(self) -> dict[str, float]:
        """Each model's own cutoff from its manifest."""
        return {s.name: s.cutoff for s in self.specs}

    def reset(self) -> None:
        """Fresh front end and models."""
        self._frontend.reset()
        self._audio = b""
        for stream in self._streams:
            stream.reset()
        self._features: deque[np.ndarray] = deque(maxlen=REPLAY_FEATURES)
        self._count = 0  # features since reset: the stride alignment of the models

    def _features_of(self, frame: np.ndarray) -> np.ndarray:
        """The front end's features of ``frame`` (k, F), kept in the replay ring."""
        audio = self._audio + frame.tobytes() if self._audio else frame.tobytes()
        process = self._frontend.process_samples
        rows = []
        i, n = 0, len(audio)
        while i + _CHUNK_BYTES <= n:
            result = process(audio[i : i + _CHUNK_BYTES])
            i += result.samples_read * 2
            if result.features:
                rows.append(result.features)
        self._audio = audio[i:]
        if not rows:
            return _NO_FEATURES
        feats = np.array(rows, dtype=np.float64)
        self._features.extend(feats)
        self._count += len(feats)
        return feats

    def score(self, frame: np.ndarray) -> dict[str, float]:
        """Feed a frame through the front end and the models; its scores."""
        feats = self._features_of(frame)
        return {
            spec.name: stream.feed(feats)
            for spec, stream in zip(self.specs, self._streams, strict=True)
        }

    def skip(self, frame: np.ndarray) -> None:
        """The gate is closed: keep the front end (and the feature ring) exact only."""
        self._features_of(frame)

    def catch_up(self, frames: list[np.ndarray]) -> int:
        """Sound is back: rebuild the models' state from the kept features.

        ``frames`` (the gate's ring of raw audio) are not needed: the features
        are kept. Returns the model invocations replayed.
        """
        del frames
        kept = np.asarray(list(self._features))
        # Start where the ungated run's stride started: features since reset,
        # counted back, must be a multiple of every model's stride.
        first = self._count - len(kept)
        invocations = 0
        for stream in self._streams:
            skip = (-first) % stream.stride
            stream.reset()
            if len(kept) > skip:
                stream.feed(kept[skip:])
            invocations += (len(kept) - skip) // stream.stride
        return invocations
