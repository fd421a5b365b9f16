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

import json
import logging
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

BUILTIN_MICRO_MODELS = ("alexa", "hey_jarvis", "hey_mycroft", "okay_nabu")
FEATURE_SAMPLES = 160  # 10 ms: one front-end feature
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


class MicroScorer:
    """One or more microWakeWord models sharing one front end; scores per 80 ms frame.

    A frame's score for a model is the highest of the model's scores computed
    while that frame's audio was fed (two or three, one per 30 ms stride).
    """

    window_frames = REPLAY_FEATURES * FEATURE_SAMPLES // 1280

    def __init__(self, specs: list[MicroSpec]) -> None:
        from pymicro_wakeword import MicroWakeWord, MicroWakeWordFeatures

        try:
            self._models = [MicroWakeWord.from_config(s.manifest) for s in specs]
        except (OSError, ValueError, RuntimeError) as exc:
            raise MicroModelError(f"cannot load microWakeWord model: {exc}") from exc
        self._frontend = MicroWakeWordFeatures()
        self.specs = specs
        #: label -> model name (the same for microWakeWord: one class per model).
        self.labels = {s.name: s.name for s in specs}
        self.reset()

    @property
    def default_thresholds(self) -> dict[str, float]:
        """Each model's own cutoff from its manifest."""
        return {s.name: s.cutoff for s in self.specs}

    def reset(self) -> None:
        """Fresh front end and models."""
        self._frontend.reset()
        for model in self._models:
            model.reset()
        self._features: deque[np.ndarray] = deque(maxlen=REPLAY_FEATURES)
        self._count = 0  # features since reset: the stride alignment of the models

    def _features_of(self, frame: np.ndarray) -> list[np.ndarray]:
        feats = list(self._frontend.process_streaming(frame.tobytes()))
        self._features.extend(feats)
        self._count += len(feats)
        return feats

    def score(self, frame: np.ndarray) -> dict[str, float]:
        """Feed a frame through the front end and the models; its scores."""
        feats = self._features_of(frame)
        scores: dict[str, float] = {}
        for spec, model in zip(self.specs, self._models, strict=True):
            best = 0.0
            for feature in feats:
                prob = model.process_streaming_prob(feature)
                best = max(best, float(prob or 0.0))
            scores[spec.name] = best
        return scores

    def skip(self, frame: np.ndarray) -> None:
        """The gate is closed: keep the front end (and the feature ring) exact only."""
        self._features_of(frame)

    def catch_up(self, frames: list[np.ndarray]) -> int:
        """Sound is back: rebuild the models' state from the kept features.

        ``frames`` (the gate's ring of raw audio) are not needed: the features
        are kept. Returns the model invocations replayed.
        """
        del frames
        kept = list(self._features)
        # Start where the ungated run's stride started: features since reset,
        # counted back, must be a multiple of every model's stride.
        first = self._count - len(kept)
        invocations = 0
        for model in self._models:
            stride = max(1, int(model.stride))
            skip = (-first) % stride
            model.reset()
            for feature in kept[skip:]:
                model.process_streaming_prob(feature)
            invocations += (len(kept) - skip) // stride
        return invocations
