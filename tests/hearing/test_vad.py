"""End of speech in audio time: Silero VAD (openWakeWord's bundled model) and the energy fallback.

espeak-ng speech followed by silence, made at session start; the last spoken
sample is measured from the audio itself. Nothing is mocked.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from recordings import AUDIO
from speech import espeak, spoken_extent

from agent.hearing.vad import (
    CHUNK_SAMPLES,
    EndOfSpeech,
    EndpointEvent,
    EnergyVad,
    SileroVad,
    SpeechProbability,
    default_vad,
    silero_model_path,
)

SHARED_AUDIO = AUDIO
SR = 16000
MS = SR // 1000

PHRASES = (
    ("en-us", 150, "turn on the kitchen lights"),
    ("en-gb", 140, "what is the weather like tomorrow"),
    ("en-us", 170, "set a timer for ten minutes"),
)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(round(seconds * SR)), dtype=np.int16)


def noise(n: int, dbfs: float, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.round(rng.standard_normal(n) * 32768 * 10 ** (dbfs / 20)).astype(np.int16)


@pytest.fixture(scope="session")
def utterances(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, np.ndarray]]:
    """(label, speech with 1 s of silence before and 3 s after)."""
    directory = tmp_path_factory.mktemp("espeak_vad")
    return [
        (text, np.concatenate((silence(1), espeak(text, voice, wpm, directory), silence(3))))
        for voice, wpm, text in PHRASES
    ]


@pytest.fixture(scope="module")
def silero() -> Iterator[SileroVad]:
    path = silero_model_path()
    assert path is not None, "openwakeword 0.5.1's silero_vad.onnx is needed"
    yield SileroVad(path)


def feed(
    detector: EndOfSpeech, audio: np.ndarray, chunk: int, offset: int = 0
) -> list[tuple[EndpointEvent, int, int]]:
    """Feed audio (stream position ``offset``); each event with the span of its call."""
    events = []
    for start in range(0, audio.size, chunk):
        piece = audio[start : start + chunk]
        event = detector.process(piece, offset + start)
        if event is not None:
            events.append((event, offset + start, offset + start + piece.size))
    return events


@pytest.mark.parametrize("silence_ms", [300, 700, 1200])
def test_end_of_speech_after_the_last_spoken_sample(
    silero: SileroVad, utterances: list[tuple[str, np.ndarray]], silence_ms: int
) -> None:
    for label, audio in utterances:
        first, last = spoken_extent(audio)
        detector = EndOfSpeech(silence_ms, no_speech_timeout_s=5, max_utterance_s=10, vad=silero)
        detector.start(0)
        events = feed(detector, audio, 1600)  # 100 ms chunks, as the daemon sends
        kinds = [(e.kind, e.reason) for e, _, _ in events]
        assert kinds == [("speech_started", None), ("ended", "vad")], label
        started, ended = events[0][0], events[1][0]
        assert abs(started.position - first) <= 100 * MS, label
        # Ends silence_ms after the last speech, give or take the VAD's judgement.
        assert abs(ended.position - (last + silence_ms * MS)) <= 100 * MS, label
        assert detector.last_speech_end == ended.position - silence_ms * MS
        # Reported by the call whose audio reached that position (audio time), at
        # most one 32 ms VAD chunk later.
        _, call_start, call_end = events[1]
        assert call_start < ended.position + CHUNK_SAMPLES and ended.position <= call_end, label


def test_same_result_whatever_the_chunk_size(
    silero: SileroVad, utterances: list[tuple[str, np.ndarray]]
) -> None:
    _, audio = utterances[0]
    results = set()
    for chunk in (160, 512, 1600, 4000, 9999):
        detector = EndOfSpeech(700, vad=silero)
        detector.start(0)
        events = feed(detector, audio, chunk)
        results.add(events[-1][0])
        assert detector.speech_start is not None
    assert len(results) == 1
    (only,) = results
    assert only.reason == "vad"


def test_start_position_and_audio_before_it(
    silero: SileroVad, utterances: list[tuple[str, np.ndarray]]
) -> None:
    _, speech = utterances[0]
    _, last = spoken_extent(speech)
    # A stream that has run for a while; listening starts at the wake word, 1 s before
    # the utterance's audio. The chunk that straddles the start is cut at it.
    offset = 5_000_003
    detector = EndOfSpeech(700, vad=silero)
    detector.start(offset + 8000)
    assert detector.process(noise(1600, -20), offset + 8000 - 1600) is None  # before start
    events = feed(detector, speech, 1600, offset)
    ended = events[-1][0]
    assert ended.reason == "vad"
    assert abs(ended.position - (offset + last + 700 * MS)) <= 100 * MS


def test_no_speech_timeout(silero: SileroVad) -> None:
    quiet_room = noise(8 * SR, -60)
    detector = EndOfSpeech(700, no_speech_timeout_s=2.5, max_utterance_s=10, vad=silero)
    detector.start(1000)
    events = feed(detector, quiet_room, 1600, offset=1000)
    assert [e for e, _, _ in events] == [EndpointEvent("ended", 1000 + 40000, "no_speech")]
    assert detector.last_speech_end is None and not detector.active
    # Nothing more until the next start().
    assert detector.process(quiet_room[:1600], 99_999_999) is None


def test_max_length(silero: SileroVad) -> None:
    talk, _ = sf.read(str(SHARED_AUDIO / "negative_office_talk_34s.wav"), dtype="int16")
    detector = EndOfSpeech(2000, no_speech_timeout_s=5, max_utterance_s=4, vad=silero)
    detector.start(0)
    events = feed(detector, np.asarray(talk, dtype=np.int16), 1600)
    assert events[0][0].kind == "speech_started"
    event, call_start, call_end = events[-1]
    assert event == EndpointEvent("ended", 4 * SR, "max_length")
    assert call_start <= 4 * SR <= call_end


def test_restart_after_an_utterance(
    silero: SileroVad, utterances: list[tuple[str, np.ndarray]]
) -> None:
    _, audio = utterances[1]
    detector = EndOfSpeech(700, vad=silero)
    positions = []
    for round_start in (0, audio.size):
        detector.start(round_start)
        events = feed(detector, audio, 1600, offset=round_start)
        positions.append(events[-1][0].position - round_start)
    assert positions[0] == positions[1]  # the LSTM state was reset


def test_energy_fallback(utterances: list[tuple[str, np.ndarray]]) -> None:
    for label, audio in utterances:
        _, last = spoken_extent(audio)
        detector = EndOfSpeech(700, vad=EnergyVad(-40.0))
        detector.start(0)
        events = [e for e, _, _ in feed(detector, audio, 1600)]
        assert [e.kind for e in events] == ["speech_started", "ended"], label
        assert events[1].reason == "vad"
        assert abs(events[1].position - (last + 700 * MS)) <= 100 * MS, label


def test_default_is_silero_and_rejects_int_types(silero: SileroVad) -> None:
    vad: SpeechProbability = default_vad()
    assert isinstance(vad, SileroVad)
    detector = EndOfSpeech(vad=silero)
    detector.start(0)
    with pytest.raises(ValueError, match="int16"):
        detector.process(np.zeros(1600, dtype=np.float32), 0)


def test_silero_signature_is_checked(tmp_path: Path) -> None:
    from agent.hearing.models import resolve_model

    with pytest.raises(ValueError, match="not a Silero v4 VAD model"):
        SileroVad(resolve_model("alexa").path)


class _Scripted:
    """A stand-in for Silero with set probabilities per chunk: the rule under test is the
    endpointer's arithmetic on them, which a real model cannot be steered to show."""

    def __init__(self, probabilities: list[float]) -> None:
        self.probabilities = probabilities
        self.index = 0

    def reset(self) -> None:
        self.index = 0

    def __call__(self, chunk: np.ndarray) -> float:
        value = self.probabilities[min(self.index, len(self.probabilities) - 1)]
        self.index += 1
        return value


def test_silence_counts_from_the_last_chunk_at_the_start_threshold() -> None:
    # 10 speech chunks, then 5 chunks lingering above the hysteresis floor (0.35..0.5),
    # then silence: the end is silence_ms after chunk 10, not after the lingering tail.
    vad = _Scripted([0.9] * 10 + [0.4] * 5 + [0.0] * 100)
    detector = EndOfSpeech(320, no_speech_timeout_s=5, max_utterance_s=10, vad=vad)
    detector.start(0)
    ended = None
    audio = np.zeros(CHUNK_SAMPLES * 115, dtype=np.int16)
    for start in range(0, audio.size, 1280):
        event = detector.process(audio[start : start + 1280], start)
        if event is not None and event.kind == "ended":
            ended = event
            break
    assert ended is not None and ended.reason == "vad"
    assert ended.position == 10 * CHUNK_SAMPLES + 320 * MS
