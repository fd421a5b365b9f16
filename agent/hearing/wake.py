"""Wake word detection: openWakeWord models, thresholds, refractory period, silence gate.

:class:`WakeDetector` takes 16 kHz mono int16 audio in chunks of any length
with their sample positions, scores every 80 ms frame with each model exactly
as openWakeWord 0.5.1 does (see :mod:`agent.hearing.models`), and reports a
:class:`Detection` when a score reaches its model's threshold.

The silence gate saves CPU in a quiet room. A frame's score depends only on
the audio of a fixed window of frames before it (``window_frames``: 26 frames,
2.08 s, for the usual 16-embedding models). While every frame of that window
is below ``noise_gate_dbfs`` the models are not run at all; the raw audio of
the window is kept in a ring. When a louder frame arrives the pipeline is reset
and the ring is replayed through it, so the state, and therefore every score
from that frame on, is bit-identical to running without the gate. Only frames
whose whole window is below the gate are skipped, and those are assumed not
to score a detection (the tests check this on recordings padded with digital
silence and with -70 dBFS noise).
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from agent.hearing.models import (
    EMBEDDING_SPAN_FRAMES,
    FRAME_SAMPLES,
    SAMPLE_RATE,
    Classifier,
    FeaturePipeline,
    WakeModelError,
    resolve_model,
)

__all__ = ["Detection", "WakeDetector", "WakeModelError", "DEFAULT_MODELS", "frame_dbfs"]

log = logging.getLogger(__name__)

DEFAULT_MODELS = ("alexa", "hey_jarvis", "hey_mycroft", "hey_rhasspy")
DEFAULT_THRESHOLD = 0.5
#: Upstream's Model.predict reports 0 for the first 5 frames after it starts.
WARMUP_FRAMES = 5


@dataclass(frozen=True)
class Detection:
    """A wake word heard: which model (or class), its score, and where.

    ``position`` is the sample position just after the 80 ms frame whose score
    crossed the threshold (the detection point, in audio time).
    """

    model: str
    score: float
    position: int

    @property
    def seconds(self) -> float:
        """The detection point in seconds of audio."""
        return self.position / SAMPLE_RATE


class WakeSettingsLike(Protocol):
    """The ``wake`` section of the settings, as much of it as the detector reads."""

    @property
    def models(self) -> tuple[str, ...]:
        """Model names or paths."""

    @property
    def refractory_s(self) -> float:
        """Seconds before the same model may detect again."""

    @property
    def speaking_threshold(self) -> float | None:
        """Raised threshold while the device speaks (None: no detection)."""

    @property
    def noise_gate_dbfs(self) -> float | None:
        """Silence gate level (None: off)."""

    def threshold_for(self, model_name: str) -> float:
        """The threshold configured for ``model_name``."""
        ...


def frame_dbfs(frame: np.ndarray) -> float:
    """RMS level of int16 audio in dB relative to full scale (-inf for digital silence)."""
    if frame.size == 0:
        return -math.inf
    mean_square = float(np.mean(np.square(frame, dtype=np.float64)))
    if mean_square <= 0.0:
        return -math.inf
    return 10.0 * math.log10(mean_square / (32768.0 * 32768.0))


class WakeDetector:
    """openWakeWord wake word detection on 16 kHz int16 audio, in audio time.

    Args:
        models: built-in model names (``alexa``, ``hey_jarvis``, ``hey_mycroft``,
            ``hey_rhasspy``, ``timer``, ``weather``) or paths to ``.onnx`` files.
        thresholds: one threshold for all models, or a map from model name (or
            class label) to threshold; names missing from the map use 0.5.
        refractory_s: after a detection, the same model (or class) cannot
            detect again until this much audio has passed and, after that, its
            score has dropped below the threshold once (a word stays in a
            model's window for over a second, so its score can outlast the
            period). Each model has its own period.
        speaking_threshold: while :meth:`set_speaking` is on (the device is
            playing audio), scores must reach at least this; None means no
            detection at all while speaking.
        noise_gate_dbfs: frames below this RMS level (dBFS) skip inference when
            the whole scoring window is below it; None turns the gate off.

    Raises :class:`WakeModelError` (a ``ValueError``) for an unknown model
    name or an unusable file.
    """

    def __init__(
        self,
        models: Iterable[str] = DEFAULT_MODELS,
        thresholds: Mapping[str, float] | float = DEFAULT_THRESHOLD,
        refractory_s: float = 2.0,
        speaking_threshold: float | None = 0.9,
        noise_gate_dbfs: float | None = None,
    ) -> None:
        specs = [resolve_model(m) for m in models]
        if not specs:
            raise WakeModelError("no wake models given")
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise WakeModelError(f"wake model listed twice: {', '.join(names)}")
        self.classifiers = [Classifier(s) for s in specs]
        self.window_frames = max(c.n_frames for c in self.classifiers) + EMBEDDING_SPAN_FRAMES - 1
        self._features = FeaturePipeline(keep_embeddings=self.window_frames)
        self._thresholds = thresholds
        self.refractory_samples = int(round(refractory_s * SAMPLE_RATE))
        self.speaking_threshold = speaking_threshold
        self.noise_gate_dbfs = noise_gate_dbfs
        self._speaking = False
        #: Scores of the last 80 ms frame, by model (or class) name; 0.0 when skipped.
        self.last_scores: dict[str, float] = {}
        #: Whether the silence gate skipped the last frame's inference.
        self.last_skipped = False
        #: Frames scored and frames skipped since construction (for statistics).
        self.frames_scored = 0
        self.frames_skipped = 0
        self.reset()

    @classmethod
    def from_settings(cls, wake: WakeSettingsLike) -> WakeDetector:
        """Build a detector from the ``wake`` section of the settings."""
        models = tuple(wake.models)
        return cls(
            models,
            thresholds={resolve_model(m).name: wake.threshold_for(m) for m in models},
            refractory_s=wake.refractory_s,
            speaking_threshold=wake.speaking_threshold,
            noise_gate_dbfs=wake.noise_gate_dbfs,
        )

    @property
    def model_names(self) -> list[str]:
        """The names detections are reported under (class labels for multi-class models)."""
        return [label for c in self.classifiers for label in c.labels.values()]

    @property
    def window_seconds(self) -> float:
        """Audio that one score depends on (and that the silence gate keeps)."""
        return self.window_frames * FRAME_SAMPLES / SAMPLE_RATE

    def threshold_for(self, name: str, model: str | None = None) -> float:
        """The threshold for a model or class label (falling back to its model's)."""
        if isinstance(self._thresholds, Mapping):
            if name in self._thresholds:
                return float(self._thresholds[name])
            if model is not None and model in self._thresholds:
                return float(self._thresholds[model])
            return DEFAULT_THRESHOLD
        return float(self._thresholds)

    def set_speaking(self, speaking: bool) -> None:
        """Tell the detector whether the device is playing audio (self-trigger guard)."""
        self._speaking = bool(speaking)

    def reset(self) -> None:
        """Forget all audio: pipeline state, pending samples, refractory periods."""
        self._features.reset()
        self._pending = np.zeros(0, dtype=np.int16)
        self._ring: deque[np.ndarray] = deque(maxlen=self.window_frames)
        self._quiet_run = 0  # consecutive frames below the gate, ending at the last one
        # True while the pipeline has seen every frame of the current window. At the
        # start it has (the window reaches into its initial state), so the first
        # window_frames frames are always scored, exactly like the ungated pipeline.
        self._live = True
        self._frames_seen = 0
        self._blocked_until: dict[str, int] = {}
        self._disarmed: set[str] = set()

    def process(self, frame: np.ndarray, position: int) -> list[Detection]:
        """Feed int16 audio of any length starting at sample ``position``.

        Audio is cut into 80 ms frames (a remainder waits for the next call;
        calls are assumed contiguous). Returns the detections of every frame
        completed by this call, in order.
        """
        samples = np.asarray(frame)
        if samples.dtype != np.int16:
            raise ValueError(f"wake detector expects int16 audio, got {samples.dtype}")
        samples = samples.reshape(-1)
        start = position - self._pending.size
        if self._pending.size:
            samples = np.concatenate((self._pending, samples))
        whole = samples.size - samples.size % FRAME_SAMPLES
        detections: list[Detection] = []
        for offset in range(0, whole, FRAME_SAMPLES):
            chunk = samples[offset : offset + FRAME_SAMPLES]
            detections.extend(self._frame(chunk, start + offset + FRAME_SAMPLES))
        self._pending = samples[whole:].copy()
        return detections

    def _frame(self, frame: np.ndarray, end: int) -> list[Detection]:
        self._frames_seen += 1
        if self.noise_gate_dbfs is None:
            self._features.push(frame)
        elif not self._gate(frame):
            self.last_skipped = True
            self.frames_skipped += 1
            self.last_scores = dict.fromkeys(self.model_names, 0.0)
            return self._detect(end)  # never detects on zeros, but re-arms as ungated would
        self.last_skipped = False
        self.frames_scored += 1
        scores: dict[str, float] = {}
        for classifier in self.classifiers:
            for label, score in classifier.scores(self._features.features).items():
                scores[label] = 0.0 if self._frames_seen <= WARMUP_FRAMES else score
        self.last_scores = scores
        return self._detect(end)

    def _gate(self, frame: np.ndarray) -> bool:
        """Keep the pipeline exact under the silence gate; False if this frame is skipped."""
        assert self.noise_gate_dbfs is not None
        self._ring.append(frame.copy())  # the caller may reuse its buffer
        loud = frame_dbfs(frame) >= self.noise_gate_dbfs
        self._quiet_run = 0 if loud else self._quiet_run + 1
        if self._live:
            if self._quiet_run >= self.window_frames:
                self._live = False  # the whole window is quiet: stop until sound returns
                log.debug("wake gate closed")
                return False
            self._features.push(frame)
            return True
        if not loud:
            return False
        # Sound is back. The ring holds this frame and the window_frames - 1 before it,
        # all that this frame's score depends on: replay it from a fresh state. Embeddings
        # of frames older than the classifiers' longest window are never read: skip them.
        self._features.reset()
        frames = list(self._ring)
        first_embedded = len(frames) - (self.window_frames - EMBEDDING_SPAN_FRAMES + 1)
        for i, old in enumerate(frames):
            self._features.push(old, embed=i >= first_embedded)
        self._live = True
        log.debug("wake gate opened: replayed %d frames", len(frames))
        return True

    def _detect(self, end: int) -> list[Detection]:
        found: list[Detection] = []
        for classifier in self.classifiers:
            for label in classifier.labels.values():
                score = self.last_scores[label]
                threshold = self.threshold_for(label, classifier.name)
                if end < self._blocked_until.get(label, end):
                    continue  # refractory period
                if label in self._disarmed:
                    # A score still high after the period is the same word lingering in
                    # the model's window: wait for it to fall below the threshold first.
                    if score < threshold:
                        self._disarmed.discard(label)
                    continue
                if self._speaking:
                    if self.speaking_threshold is None:
                        continue
                    threshold = max(threshold, self.speaking_threshold)
                if score >= threshold:
                    self._blocked_until[label] = end + self.refractory_samples
                    self._disarmed.add(label)
                    found.append(Detection(label, score, end))
        found.sort(key=lambda d: -d.score)
        return found
