"""Wake word detection: engines, thresholds, refractory period, self-trigger guard, gate.

:class:`WakeDetector` takes 16 kHz mono int16 audio in chunks of any length
with their sample positions, scores every 80 ms frame with each model, and
reports a :class:`Detection` when a score reaches its model's threshold.
Two engines score frames: openWakeWord (:mod:`agent.hearing.oww`, ONNX models
on onnxruntime, exactly as openWakeWord 0.5.1 does) and microWakeWord
(:mod:`agent.hearing.micro`, TFLite models through ``pymicro-wakeword``); a
detector may use both, one model each.

The silence gate saves CPU in a quiet room. :class:`~agent.hearing.gate.SilenceGate`
judges each frame quiet or not (a fixed level, or within a margin of the
room's tracked noise floor). A frame's score depends only on a fixed window of
frames before it (``window_frames``); while every frame of that window is
quiet the models are not run, and the raw audio of the window is kept in a
ring. When a louder frame arrives each engine rebuilds its state from the ring
(:meth:`catch_up`), so every score from that frame on is bit-identical to
running without the gate. Only frames whose whole window is quiet are skipped,
and those are assumed not to score a detection (the tests check this on
recordings padded with digital silence, over -70, -50 and -45 dBFS noise and
over 50 Hz hum).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from agent.hearing.engines import ENGINES, Engine, build_scorers, resolve_engine
from agent.hearing.gate import GateMode, SilenceGate, frame_dbfs
from agent.hearing.models import FRAME_SAMPLES, SAMPLE_RATE, WakeModelError, resolve_model

__all__ = [
    "Detection",
    "WakeDetector",
    "WakeModelError",
    "DEFAULT_MODELS",
    "frame_dbfs",
    "resolve_engine",
    "ENGINES",
    "Engine",
]

log = logging.getLogger(__name__)

DEFAULT_MODELS = ("alexa", "hey_jarvis", "hey_mycroft", "hey_rhasspy")
DEFAULT_THRESHOLD = 0.5
_EMPTY = np.zeros(0, dtype=np.int16)


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

    @property
    def noise_gate(self) -> str:
        """adaptive | fixed."""

    @property
    def noise_gate_margin_db(self) -> float:
        """Adaptive gate: dB above the floor that still count as quiet."""

    @property
    def threshold(self) -> float | dict[str, float]:
        """One threshold, or a map by model name."""

    def threshold_for(self, model_name: str) -> float:
        """The threshold configured for ``model_name``."""
        ...

    def engine_for(self, model: str) -> str:
        """The engine configured for a model entry."""
        ...


class WakeDetector:
    """Wake word detection on 16 kHz int16 audio, in audio time, with either engine.

    Args:
        models: built-in model names (openWakeWord: ``alexa``, ``hey_jarvis``,
            ``hey_mycroft``, ``hey_rhasspy``, ``timer``, ``weather``;
            microWakeWord: ``alexa``, ``hey_jarvis``, ``hey_mycroft``,
            ``okay_nabu``) or paths (``.onnx``: openWakeWord; ``.json``, or
            ``.tflite`` with its ``.json`` beside it: microWakeWord).
        thresholds: one threshold for all openWakeWord models, or a map from
            model name (or class label) to threshold; openWakeWord names missing
            from the map use 0.5, microWakeWord models their manifest's cutoff.
        refractory_s: after a detection, the same model (or class) cannot
            detect again until this much audio has passed and, after that, its
            score has dropped below the threshold once (a word stays in a
            model's window for over a second, so its score can outlast the
            period). Each model has its own period.
        speaking_threshold: while :meth:`set_speaking` is on (the device is
            playing audio), scores must reach at least this; None means no
            detection at all while speaking.
        noise_gate_dbfs: shorthand for a fixed gate at this level (when ``gate``
            is not given); None and no ``gate``: no gate.
        gate: the silence gate (e.g. adaptive); overrides ``noise_gate_dbfs``.
        engine: the engine of built-in names both engines have (``alexa``,
            ``hey_jarvis``, ``hey_mycroft``): one for all, or a map by entry.

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
        *,
        gate: SilenceGate | None = None,
        engine: Mapping[str, str] | str = "openwakeword",
    ) -> None:
        self.scorers = build_scorers(list(models), engine)
        self.window_frames = max(s.window_frames for s in self.scorers)
        self._thresholds = thresholds
        self._defaults: dict[str, float] = {}
        for scorer in self.scorers:
            self._defaults.update(scorer.default_thresholds)
        self.refractory_samples = int(round(refractory_s * SAMPLE_RATE))
        self.speaking_threshold = speaking_threshold
        if gate is None and noise_gate_dbfs is not None:
            gate = SilenceGate("fixed", noise_gate_dbfs)
        self.gate = gate
        # Only openWakeWord rebuilds its state from the raw audio of the window; with
        # microWakeWord alone (it keeps its own features) the gate's ring is not kept.
        self._keep_audio = any(getattr(s, "needs_audio", True) for s in self.scorers)
        self._labels = [(label, model) for s in self.scorers for label, model in s.labels.items()]
        self._zeros = dict.fromkeys(self.model_names, 0.0)
        self._speaking = False
        #: Scores of the last 80 ms frame, by model (or class) name; 0.0 when skipped.
        self.last_scores: dict[str, float] = {}
        #: Whether the silence gate skipped the last frame's inference.
        self.last_skipped = False
        #: Frames scored and frames skipped since the last reset (for statistics).
        self.frames_scored = 0
        self.frames_skipped = 0
        #: Catch-ups since the last reset, and the model frames (openWakeWord:
        #: melspectrogram + embedding frames; microWakeWord: invocations) they replayed.
        self.catch_ups = 0
        self.catch_up_model_frames = 0
        self.last_catch_up_model_frames = 0
        self.reset()

    @classmethod
    def from_settings(cls, wake: WakeSettingsLike) -> WakeDetector:
        """Build a detector from the ``wake`` section of the settings."""
        models = tuple(wake.models)
        engines = {m: wake.engine_for(m) for m in models}
        thresholds: dict[str, float] = {}
        for m in models:
            if resolve_engine(m, engines[m]) == "micro":
                # A microWakeWord model keeps its own cutoff unless the map names it.
                if isinstance(wake.threshold, dict) and _entry_name(m) in wake.threshold:
                    thresholds[_entry_name(m)] = wake.threshold_for(m)
            else:
                thresholds[resolve_model(m).name] = wake.threshold_for(m)
        gate: SilenceGate | None = None
        if wake.noise_gate_dbfs is not None:
            mode: GateMode = "fixed" if wake.noise_gate == "fixed" else "adaptive"
            gate = SilenceGate(mode, wake.noise_gate_dbfs, wake.noise_gate_margin_db)
        return cls(
            models,
            thresholds=thresholds,
            refractory_s=wake.refractory_s,
            speaking_threshold=wake.speaking_threshold,
            gate=gate,
            engine=engines,
        )

    @property
    def model_names(self) -> list[str]:
        """The names detections are reported under (class labels for multi-class models)."""
        return [label for s in self.scorers for label in s.labels]

    @property
    def window_seconds(self) -> float:
        """Audio that one score depends on (and that the silence gate keeps)."""
        return self.window_frames * FRAME_SAMPLES / SAMPLE_RATE

    @property
    def noise_gate_dbfs(self) -> float | None:
        """The gate's fixed level (None: no gate, or adaptive without one)."""
        return None if self.gate is None else self.gate.fixed_dbfs

    def threshold_for(self, name: str, model: str | None = None) -> float:
        """The threshold for a model or class label (falling back to its model's)."""
        if isinstance(self._thresholds, Mapping):
            if name in self._thresholds:
                return float(self._thresholds[name])
            if model is not None and model in self._thresholds:
                return float(self._thresholds[model])
        if name in self._defaults:
            return self._defaults[name]
        if isinstance(self._thresholds, Mapping):
            return DEFAULT_THRESHOLD
        return float(self._thresholds)

    def set_speaking(self, speaking: bool) -> None:
        """Tell the detector whether the device is playing audio (self-trigger guard)."""
        self._speaking = bool(speaking)

    def reset(self) -> None:
        """Forget all audio: engine state, pending samples, refractory periods, the room."""
        for scorer in self.scorers:
            scorer.reset()
        if self.gate is not None:
            self.gate.reset()
        self._pending = _EMPTY
        self._ring: deque[np.ndarray] = deque(maxlen=self.window_frames)
        self._quiet_run = 0  # consecutive quiet frames, ending at the last one
        # True while the engines have seen every frame of the current window. At the
        # start they have (the window reaches into their initial state), so the first
        # window_frames frames are always scored, exactly like the ungated pipeline.
        self._live = True
        self._blocked_until: dict[str, int] = {}
        self._disarmed: set[str] = set()
        self.frames_scored = self.frames_skipped = 0
        self.catch_ups = self.catch_up_model_frames = self.last_catch_up_model_frames = 0

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
            found = self._frame(chunk, start + offset + FRAME_SAMPLES)
            if found:
                detections.extend(found)
        self._pending = samples[whole:].copy() if whole < samples.size else _EMPTY
        return detections

    def _frame(self, frame: np.ndarray, end: int) -> list[Detection]:
        if self.gate is not None and not self._gate(frame):
            self.last_skipped = True
            self.frames_skipped += 1
            for scorer in self.scorers:
                scorer.skip(frame)
            self.last_scores = self._zeros.copy()
            return self._detect(end)  # never detects on zeros, but re-arms as ungated would
        self.last_skipped = False
        self.frames_scored += 1
        scores: dict[str, float] = {}
        for scorer in self.scorers:
            scores.update(scorer.score(frame))
        self.last_scores = scores
        return self._detect(end)

    def _gate(self, frame: np.ndarray) -> bool:
        """Keep the engines exact under the silence gate; False if this frame is skipped."""
        assert self.gate is not None
        loud = not self.gate.quiet(frame)
        self._quiet_run = 0 if loud else self._quiet_run + 1
        if self._live:
            if self._quiet_run >= self.window_frames:
                self._live = False  # the whole window is quiet: stop until sound returns
                log.debug("wake gate closed (%s)", self.gate.describe())
            else:
                if self._keep_audio:
                    self._ring.append(frame.copy())  # the caller may reuse its buffer
                return True
        if not loud:
            if self._keep_audio:
                self._ring.append(frame.copy())
            return False
        # Sound is back. The ring holds the window_frames - 1 frames before this one
        # (with it, all that this frame's score depends on): each engine rebuilds its
        # state from them, then scores this frame as the ungated run would.
        history = list(self._ring)[-(self.window_frames - 1) :]
        replayed = sum(scorer.catch_up(history) for scorer in self.scorers)
        if self._keep_audio:
            self._ring.append(frame.copy())
        self.catch_ups += 1
        self.catch_up_model_frames += replayed
        self.last_catch_up_model_frames = replayed
        self._live = True
        log.debug("wake gate opened: replayed %d model frames", replayed)
        return True

    def _detect(self, end: int) -> list[Detection]:
        found: list[Detection] = []
        thresholds = self._threshold_map()
        for label, _model in self._labels:
            score = self.last_scores[label]
            threshold = thresholds[label]
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
        if len(found) > 1:
            found.sort(key=lambda d: -d.score)
        return found

    def _threshold_map(self) -> dict[str, float]:
        """Each label's threshold, worked out once (the settings do not change)."""
        cached: dict[str, float] | None = getattr(self, "_thresholds_by_label", None)
        if cached is None:
            cached = {label: self.threshold_for(label, model) for label, model in self._labels}
            self._thresholds_by_label = cached
        return cached


def _entry_name(model: str) -> str:
    """A wake.models entry's name: built-in names as they are, files by their stem."""
    from pathlib import Path

    base = Path(model).name
    for ext in (".onnx", ".tflite", ".json"):
        if base.lower().endswith(ext):
            return base[: -len(ext)]
    return base
