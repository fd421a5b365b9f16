"""openWakeWord 0.5.1's models and feature pipeline, run directly on onnxruntime.

``openwakeword.model`` (and even ``import openwakeword``, whose ``__init__``
imports it) pulls in SciPy and scikit-learn: about +94 MB of RSS on a device
whose whole daemon should stay near 120 MB. We only need its bundled ONNX files
and the few lines of NumPy glue around them, so this module finds the package
directory with ``importlib.util.find_spec`` (which does not execute the
package) and mirrors ``openwakeword.utils.AudioFeatures`` and the scoring part
of ``openwakeword.model.Model.predict`` for 80 ms frames. The arithmetic is the
same as upstream's, call for call, so scores match to float rounding (the
tests compare against ``openwakeword.model.Model`` when it is importable).
"""

from __future__ import annotations

import importlib.util
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
#: openWakeWord scores one 80 ms frame at a time.
FRAME_SAMPLES = 1280
#: The melspectrogram of each frame is computed with the previous 3 hops (30 ms)
#: of audio in front of it, so that each 80 ms frame yields 8 mel rows.
MEL_CONTEXT_SAMPLES = 160 * 3
#: The embedding model looks at 76 mel rows (0.775 s), one window per frame.
EMBEDDING_WINDOW = 76
#: Frames of audio one embedding depends on: the 76 rows are the 8 rows of each of
#: frames k-8..k and 4 of frame k-9, whose melspectrogram read the last 480
#: samples of frame k-10 as context. So embedding k is a function of frames k-10..k.
EMBEDDING_SPAN_FRAMES = 11

#: Upstream fills its feature buffer at start with embeddings of 4 s of random
#: noise (``np.random.randint(-1000, 1000, 16000 * 4)``) and its mel buffer with
#: ones. We do the same with a fixed seed so the first ~2 s after start behave
#: like upstream's but deterministically.
INITIAL_NOISE_SEED = 0
INITIAL_NOISE_SAMPLES = SAMPLE_RATE * 4

BUILTIN_MODELS = ("alexa", "hey_jarvis", "hey_mycroft", "hey_rhasspy", "timer", "weather")

# Upstream names the classes of its multi-class "timer" model in
# openwakeword.model_class_mappings; class 0 ("nothing") is not reported.
_CLASS_LABELS: dict[str, dict[int, str]] = {
    "timer": {
        1: "1_minute_timer",
        2: "5_minute_timer",
        3: "10_minute_timer",
        4: "20_minute_timer",
        5: "30_minute_timer",
        6: "1_hour_timer",
    }
}


class WakeModelError(ValueError):
    """A wake model name or file that cannot be used; str() is one line for the user."""


def models_dir() -> Path | None:
    """The installed openwakeword package's ``resources/models`` directory, or None.

    Found without importing the package (its ``__init__`` imports SciPy and
    scikit-learn).
    """
    try:
        spec = importlib.util.find_spec("openwakeword")
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        base = Path(next(iter(spec.submodule_search_locations)))
    elif spec.origin:
        base = Path(spec.origin).parent
    else:
        return None
    path = base / "resources" / "models"
    return path if path.is_dir() else None


def _resource(filename: str) -> Path:
    directory = models_dir()
    if directory is None:
        raise WakeModelError(
            "openwakeword 0.5.1 is not installed: its bundled models are needed "
            "(pip install --no-deps openwakeword==0.5.1)"
        )
    path = directory / filename
    if not path.is_file():
        raise WakeModelError(f"openwakeword's model file is missing: {path}")
    return path


@dataclass(frozen=True)
class ModelSpec:
    """A resolved wake model: the name it reports under and its ONNX file."""

    name: str
    path: Path


def resolve_model(name_or_path: str) -> ModelSpec:
    """Turn a built-in model name or a path to a model file into a :class:`ModelSpec`.

    Built-in names are those of openWakeWord 0.5.1 (:data:`BUILTIN_MODELS`).
    A ``.tflite`` file cannot be run (we use onnxruntime only); one is accepted
    only when an ``.onnx`` file of the same name sits beside it, which is used.
    """
    candidate = Path(name_or_path).expanduser()
    looks_like_path = (
        "/" in name_or_path or candidate.suffix in (".onnx", ".tflite") or candidate.exists()
    )
    if not looks_like_path:
        key = name_or_path.strip().replace(" ", "_")
        if key not in BUILTIN_MODELS:
            raise WakeModelError(
                f"unknown wake model {name_or_path!r}: expected one of "
                f"{', '.join(BUILTIN_MODELS)} or a path to an .onnx file"
            )
        return ModelSpec(key, _resource(f"{key}_v0.1.onnx"))
    if candidate.suffix == ".tflite":
        beside = candidate.with_suffix(".onnx")
        if not beside.is_file():
            if not candidate.is_file():
                raise WakeModelError(f"{candidate}: wake model file not found")
            raise WakeModelError(
                f"{candidate}: .tflite models are not supported (voice-agent runs ONNX "
                f"models on onnxruntime); convert it or put {beside.name} beside it"
            )
        log.info("%s: .tflite is not supported; using %s beside it", candidate, beside.name)
        candidate = beside
    if not candidate.is_file():
        raise WakeModelError(f"{candidate}: wake model file not found")
    if candidate.suffix != ".onnx":
        raise WakeModelError(f"{candidate}: expected an .onnx wake model file")
    return ModelSpec(candidate.stem, candidate)


def open_session(path: Path) -> ort.InferenceSession:
    """An onnxruntime CPU session on one thread (cheapest on a Pi running all day)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own non-public exception types
        raise WakeModelError(f"{path}: cannot load ONNX model: {exc}") from exc


class FeaturePipeline:
    """Streaming melspectrogram + speech embedding, as ``openwakeword.utils.AudioFeatures``.

    Fed exactly 80 ms (1280-sample) int16 frames, it reproduces upstream's
    ``_streaming_features``: the melspectrogram model runs on the frame plus the
    480 samples before it (upstream keeps a 10 s raw buffer; only this tail is
    ever read), its output is transformed by ``x / 10 + 2`` and appended to the
    mel buffer, and the embedding model runs on the last 76 mel rows. Only the
    tails that upstream reads are kept.
    """

    def __init__(self, keep_embeddings: int) -> None:
        """Load the melspectrogram and embedding models; keep at least ``keep_embeddings``."""
        self._mel = open_session(_resource("melspectrogram.onnx"))
        self._embed = open_session(_resource("embedding_model.onnx"))
        self._initial_features = self._initial_embeddings()
        self._keep = max(keep_embeddings, 1)
        self.reset()

    def _melspectrogram(self, samples: np.ndarray) -> np.ndarray:
        outputs = self._mel.run(None, {"input": samples.astype(np.float32)[None, :]})
        spec = np.squeeze(outputs[0])
        return spec / 10 + 2  # upstream's transform towards Google's TF features

    def _initial_embeddings(self) -> np.ndarray:
        # Upstream: self._get_embeddings(np.random.randint(-1000, 1000, 16000*4).astype(np.int16)):
        # the embeddings of every whole 76-row window stepping 8. Upstream runs them as
        # one batch of 41; one window at a time gives bit-identical embeddings (checked)
        # and keeps onnxruntime's arena ~25 MB smaller for the life of the process.
        rng = np.random.RandomState(INITIAL_NOISE_SEED)
        noise = rng.randint(-1000, 1000, INITIAL_NOISE_SAMPLES).astype(np.int16)
        spec = self._melspectrogram(noise).astype(np.float32)
        starts = range(0, spec.shape[0] - EMBEDDING_WINDOW + 1, 8)
        rows = [self._embedding(spec[i : i + EMBEDDING_WINDOW]) for i in starts]
        return np.asarray(rows, dtype=np.float32)

    def _embedding(self, mel_window: np.ndarray) -> np.ndarray:
        """The 96-value speech embedding of 76 mel rows."""
        batch = mel_window.astype(np.float32)[None, :, :, None]
        return np.asarray(self._embed.run(None, {"input_1": batch})[0].squeeze())

    def reset(self) -> None:
        """Return to the state upstream starts in (mel buffer of ones, noise embeddings)."""
        self._context = np.zeros(0, dtype=np.int16)
        self._mel_rows = np.ones((EMBEDDING_WINDOW, 32), dtype=np.float32)
        self.features = self._initial_features[-max(self._keep, 1) :].copy()

    def push(self, frame: np.ndarray, embed: bool = True) -> None:
        """Add one 1280-sample int16 frame; compute its embedding unless ``embed`` is False.

        Skipping the embedding (during a replay, for frames whose embedding no
        classifier window will read) leaves the mel state exact.
        """
        spec = self._melspectrogram(np.concatenate((self._context, frame)))
        self._mel_rows = np.vstack((self._mel_rows, spec))[-EMBEDDING_WINDOW:]
        self._context = frame[-MEL_CONTEXT_SAMPLES:].copy()  # not a view of the caller's buffer
        if embed:
            embedding = self._embedding(self._mel_rows)
            self.features = np.vstack((self.features, embedding))[-self._keep :]


class Classifier:
    """One wake word model: scores the last ``n_frames`` embeddings."""

    def __init__(self, spec: ModelSpec) -> None:
        """Load ``spec``'s model and read its window length and classes from it."""
        self.name = spec.name
        self._session = open_session(spec.path)
        inputs = self._session.get_inputs()
        outputs = self._session.get_outputs()
        shape = inputs[0].shape
        if len(inputs) != 1 or len(shape) != 3 or not isinstance(shape[1], int):
            raise WakeModelError(
                f"{spec.path}: not an openWakeWord model (expected one input of shape "
                f"[1, frames, 96], got {shape})"
            )
        self._input = inputs[0].name
        self.n_frames: int = shape[1]
        n_classes = outputs[0].shape[1] if len(outputs[0].shape) == 2 else 1
        self.labels: dict[int, str] = self._labels(spec.name, outputs[0].name, n_classes)

    @staticmethod
    def _labels(name: str, output_name: str, n_classes: Any) -> dict[int, str]:
        if n_classes == 1:
            return {0: name}
        if name in _CLASS_LABELS:
            return dict(_CLASS_LABELS[name])
        try:  # upstream's exporter stores {"1": "label", ...} as the output's name
            mapping = json.loads(output_name)
            return {int(k): str(v) for k, v in mapping.items()}
        except (ValueError, TypeError, AttributeError):
            count = n_classes if isinstance(n_classes, int) else 1
            return {i: f"{name}_{i}" for i in range(count)}

    def scores(self, features: np.ndarray) -> dict[str, float]:
        """Score the last ``n_frames`` rows of ``features`` (0.0 if there are fewer)."""
        if features.shape[0] < self.n_frames:
            return {label: 0.0 for label in self.labels.values()}
        window = features[-self.n_frames :][None, :, :].astype(np.float32)
        prediction = self._session.run(None, {self._input: window})[0]
        return {label: float(prediction[0][i]) for i, label in self.labels.items()}
