"""End-of-speech detection in audio time.

:class:`EndOfSpeech` follows one utterance: :meth:`~EndOfSpeech.start` at the
sample position where listening begins, then :meth:`~EndOfSpeech.process`
for each chunk of 16 kHz int16 audio. It reports when speech starts and when
the utterance ends: after ``silence_ms`` of non-speech following the last
speech (reason ``vad``), when no speech began within ``no_speech_timeout_s``
(``no_speech``), or at ``max_utterance_s`` (``max_length``). Everything is
counted in samples, never wall time, so a recording gives the same events
whether read in real time or faster.

Speech is judged by Silero VAD (the v4 model bundled with openWakeWord 0.5.1,
run on onnxruntime as ``openwakeword/vad.py`` does) on 32 ms chunks, with
Silero's own hysteresis: speech begins at ``threshold`` and continues while
the probability stays above ``threshold - 0.15``; the trailing silence is
counted from the end of the last chunk at ``threshold`` or above. Without the model file an
energy detector (RMS level above ``energy_dbfs``) stands in.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

log = logging.getLogger(__name__)

#: Silero v4 was trained on 512, 1024 and 1536-sample chunks at 16 kHz.
CHUNK_SAMPLES = 512
#: Silero's recommended gap between its start and end thresholds.
HYSTERESIS = 0.15

EventKind = Literal["speech_started", "ended"]
EndReason = Literal["vad", "no_speech", "max_length"]


@dataclass(frozen=True)
class EndpointEvent:
    """Speech started, or the utterance ended, at a sample position.

    For ``speech_started`` the position is the first sample of the first
    speech chunk. For ``ended`` it is where the utterance ends: the last speech
    sample + ``silence_ms`` (reason ``vad``), start + ``no_speech_timeout_s``
    (``no_speech``) or start + ``max_utterance_s`` (``max_length``).
    """

    kind: EventKind
    position: int
    reason: EndReason | None = None


class SpeechProbability(Protocol):
    """A frame-level voice activity model."""

    def reset(self) -> None:
        """Forget the state (a new utterance begins)."""

    def __call__(self, chunk: np.ndarray) -> float:
        """Probability (0..1) that this int16 chunk of CHUNK_SAMPLES samples is speech."""
        ...


class ListenSettingsLike(Protocol):
    """The part of the ``listen`` settings that :class:`EndOfSpeech` reads."""

    @property
    def silence_ms(self) -> int:
        """Trailing silence that ends an utterance."""

    @property
    def no_speech_timeout_s(self) -> float:
        """Give up if speech has not begun by then."""

    @property
    def max_utterance_s(self) -> float:
        """Longest utterance."""

    @property
    def vad_threshold(self) -> float:
        """Speech probability that counts as speech."""


def silero_model_path() -> Path | None:
    """openWakeWord's bundled ``silero_vad.onnx``, or None if it is not installed."""
    from agent.hearing.models import models_dir

    directory = models_dir()
    if directory is None:
        return None
    path = directory / "silero_vad.onnx"
    return path if path.is_file() else None


class SileroVad:
    """Silero VAD v4 (inputs ``input``, ``sr``, ``h``, ``c``) on onnxruntime, one thread."""

    def __init__(self, model_path: Path, sample_rate: int = 16000) -> None:
        """Load the model from ``model_path``."""
        from agent.hearing.models import open_session

        self._session = open_session(model_path)
        names = {i.name for i in self._session.get_inputs()}
        if names != {"input", "sr", "h", "c"}:
            raise ValueError(f"{model_path}: not a Silero v4 VAD model (inputs {sorted(names)})")
        self._sr = np.array(sample_rate, dtype=np.int64)
        self.reset()

    def reset(self) -> None:
        """Zero the LSTM state."""
        self._h = np.zeros((2, 1, 64), dtype=np.float32)
        self._c = np.zeros((2, 1, 64), dtype=np.float32)

    def __call__(self, chunk: np.ndarray) -> float:
        """Speech probability of one chunk (scaled to -1..1 as upstream does)."""
        audio = (chunk / 32767).astype(np.float32)[None, :]
        out, self._h, self._c = self._session.run(
            None, {"input": audio, "h": self._h, "c": self._c, "sr": self._sr}
        )
        return float(out[0][0])


class EnergyVad:
    """Cheap stand-in: 1.0 when the chunk's RMS level is at least ``energy_dbfs``, else 0.0."""

    def __init__(self, energy_dbfs: float = -40.0) -> None:
        """Judge speech by level alone, ``energy_dbfs`` relative to full scale."""
        self.energy_dbfs = energy_dbfs

    def reset(self) -> None:
        """Stateless."""

    def __call__(self, chunk: np.ndarray) -> float:
        """1.0 for loud chunks, 0.0 for quiet ones."""
        mean_square = float(np.mean(np.square(chunk, dtype=np.float64)))
        if mean_square <= 0.0:
            return 0.0
        level = 10.0 * math.log10(mean_square / (32768.0 * 32768.0))
        return 1.0 if level >= self.energy_dbfs else 0.0


def default_vad(sample_rate: int = 16000) -> SpeechProbability:
    """Silero VAD when its model file is there, else :class:`EnergyVad` (logged)."""
    path = silero_model_path()
    if path is not None:
        try:
            return SileroVad(path, sample_rate)
        except (ValueError, OSError) as exc:
            log.warning("Silero VAD unusable (%s); using the energy detector", exc)
    else:
        log.warning("silero_vad.onnx not found (openwakeword not installed); using energy VAD")
    return EnergyVad()


class EndOfSpeech:
    """Finds where an utterance ends, in samples.

    Args:
        silence_ms: non-speech after the last speech that ends the utterance.
        no_speech_timeout_s: give up if speech has not begun this long after start.
        max_utterance_s: end the utterance this long after start regardless.
        threshold: speech probability that starts speech (Silero's default 0.5).
        sample_rate: of the audio given (the models expect 16000).
        vad: the speech model; default Silero, or energy if Silero is missing.
    """

    def __init__(
        self,
        silence_ms: float = 700,
        no_speech_timeout_s: float = 5.0,
        max_utterance_s: float = 10.0,
        threshold: float = 0.5,
        sample_rate: int = 16000,
        vad: SpeechProbability | None = None,
    ) -> None:
        self.sample_rate = sample_rate
        self.silence_samples = int(round(silence_ms * sample_rate / 1000))
        self.no_speech_samples = int(round(no_speech_timeout_s * sample_rate))
        self.max_samples = int(round(max_utterance_s * sample_rate))
        self.threshold = threshold
        self.vad: SpeechProbability = vad if vad is not None else default_vad(sample_rate)
        self._active = False
        self._start = 0
        self._pending = np.zeros(0, dtype=np.int16)
        self._in_speech = False
        #: First sample of the first speech chunk of this utterance, or None.
        self.speech_start: int | None = None
        #: The sample just after the last speech chunk so far, or None before speech.
        self.last_speech_end: int | None = None

    @classmethod
    def from_settings(cls, listen: ListenSettingsLike, sample_rate: int = 16000) -> EndOfSpeech:
        """Build from the ``listen`` section of the settings."""
        return cls(
            silence_ms=listen.silence_ms,
            no_speech_timeout_s=listen.no_speech_timeout_s,
            max_utterance_s=listen.max_utterance_s,
            threshold=listen.vad_threshold,
            sample_rate=sample_rate,
        )

    @property
    def active(self) -> bool:
        """True between :meth:`start` and the ``ended`` event."""
        return self._active

    def start(self, position: int) -> None:
        """Begin an utterance whose first sample is at ``position``."""
        self.vad.reset()
        self._active = True
        self._start = position
        self._pending = np.zeros(0, dtype=np.int16)
        self._in_speech = False
        self.speech_start = None
        self.last_speech_end = None

    def stop(self) -> None:
        """Stop following the utterance (e.g. the gateway ended it first)."""
        self._active = False

    def process(self, frame: np.ndarray, position: int) -> EndpointEvent | None:
        """Feed int16 audio starting at sample ``position``; return an event or None.

        Audio before the utterance's start is ignored. If one call holds both
        the start of speech and the end of the utterance, the ``ended`` event
        is returned (``speech_start`` still says where speech began). After
        ``ended``, calls return None until the next :meth:`start`.
        """
        if not self._active:
            return None
        samples = np.asarray(frame)
        if samples.dtype != np.int16:
            raise ValueError(f"end-of-speech detector expects int16 audio, got {samples.dtype}")
        samples = samples.reshape(-1)
        if position < self._start:  # drop what precedes start (e.g. a pre-roll chunk)
            samples = samples[self._start - position :]
            position = self._start
        base = position - self._pending.size
        if self._pending.size:
            samples = np.concatenate((self._pending, samples))
        event: EndpointEvent | None = None
        whole = samples.size - samples.size % CHUNK_SAMPLES
        for offset in range(0, whole, CHUNK_SAMPLES):
            found = self._chunk(samples[offset : offset + CHUNK_SAMPLES], base + offset)
            if found is not None:
                event = found
                if found.kind == "ended":
                    self._active = False
                    return found
        # A remainder waits for the next call: deadlines are checked only against audio
        # the VAD has judged, so an end may be reported up to one chunk (32 ms) of
        # audio late, but its position is exact.
        self._pending = samples[whole:].copy()
        return event

    def _chunk(self, chunk: np.ndarray, position: int) -> EndpointEvent | None:
        end = position + chunk.size
        probability = self.vad(chunk)
        limit = self.threshold - HYSTERESIS if self._in_speech else self.threshold
        speech = probability >= max(limit, 0.0)
        self._in_speech = speech
        if probability >= self.threshold:
            # The silence is counted from the last chunk that reached the *start*
            # threshold, not the hysteresis floor: Silero's probability lingers above
            # the floor for 100 ms and more after the voice stops (benchmark 4b).
            self.last_speech_end = end
        if speech:
            if self.speech_start is None:
                self.speech_start = position
                return self._deadline(end) or EndpointEvent("speech_started", position)
        return self._deadline(end)

    def _deadline(self, judged_until: int) -> EndpointEvent | None:
        """The ``ended`` event due by ``judged_until`` (audio the VAD has judged), if any."""
        candidates: list[EndpointEvent] = [
            EndpointEvent("ended", self._start + self.max_samples, "max_length")
        ]
        if self.last_speech_end is None:
            candidates.append(
                EndpointEvent("ended", self._start + self.no_speech_samples, "no_speech")
            )
        else:
            candidates.append(
                EndpointEvent("ended", self.last_speech_end + self.silence_samples, "vad")
            )
        first = min(candidates, key=lambda e: e.position)
        return first if first.position <= judged_until else None
