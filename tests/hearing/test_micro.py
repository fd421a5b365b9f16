"""microWakeWord as the second engine: detection, engine choice, custom models, guard, gate.

Real TFLite models and the TFLite C library from the installed
pymicro-wakeword 2.5.0 wheel, the shared recordings. Nothing is mocked.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from test_wake import load, run, silence

from agent.hearing.engines import resolve_engine
from agent.hearing.gate import SilenceGate
from agent.hearing.micro import resolve_micro
from agent.hearing.wake import WakeDetector, WakeModelError

MICRO = ("alexa", "hey_jarvis", "hey_mycroft", "okay_nabu")


def padded(clip: str) -> np.ndarray:
    return np.concatenate((silence(1), load(clip), silence(1)))


@pytest.fixture(scope="module")
def micro() -> WakeDetector:
    return WakeDetector(MICRO, engine="micro")


@pytest.mark.parametrize(
    ("clip", "model"), [("wake_alexa.wav", "alexa"), ("wake_hey_mycroft.wav", "hey_mycroft")]
)
def test_detects_the_shared_wake_clips(micro: WakeDetector, clip: str, model: str) -> None:
    found, _, _ = run(micro, padded(clip))
    assert [d.model for d in found] == [model]
    # Each model keeps its manifest's cutoff (alexa 0.9) when wake.threshold is a number.
    assert found[0].score >= micro.threshold_for(model) >= 0.9
    assert found[0].position % 1280 == 0


def test_no_detection_in_34_s_of_talk(micro: WakeDetector) -> None:
    found, scores, _ = run(micro, load("negative_office_talk_34s.wav"))
    assert found == []
    assert max(max(s.values()) for s in scores) < 0.5


def test_engine_choice_by_name_file_and_setting(tmp_path: Path) -> None:
    assert resolve_engine("alexa") == "openwakeword"  # both have it: the default
    assert resolve_engine("alexa", "micro") == "micro"
    assert resolve_engine("okay_nabu") == "micro"  # only microWakeWord has it
    assert resolve_engine("timer", "openwakeword") == "openwakeword"
    with pytest.raises(WakeModelError, match="no microWakeWord model"):
        resolve_engine("hey_rhasspy", "micro")
    mixed = WakeDetector(
        ["hey_jarvis", "okay_nabu", "hey_mycroft"], engine={"hey_mycroft": "micro"}
    )
    kinds = [type(s).__name__ for s in mixed.scorers]
    assert kinds == ["OwwScorer", "MicroScorer"]
    assert set(mixed.scorers[1].labels) == {"okay_nabu", "hey_mycroft"}
    found, _, _ = run(mixed, padded("wake_hey_mycroft.wav"))
    assert [d.model for d in found] == ["hey_mycroft"]


def test_custom_tflite_and_json_model(tmp_path: Path) -> None:
    builtin = resolve_micro("alexa").manifest
    manifest = json.loads(builtin.read_text())
    shutil.copy(builtin.parent / manifest["model"], tmp_path / "my_word.tflite")
    manifest["model"] = "my_word.tflite"
    (tmp_path / "my_word.json").write_text(json.dumps(manifest))
    for entry in ("my_word.tflite", "my_word.json"):
        detector = WakeDetector([str(tmp_path / entry)])
        assert detector.model_names == ["my_word"]
        found, _, _ = run(detector, padded("wake_alexa.wav"))
        assert [d.model for d in found] == ["my_word"], entry
    (tmp_path / "lone.tflite").write_bytes(b"TFL3")
    assert resolve_engine(str(tmp_path / "lone.tflite")) == "openwakeword"  # needs an .onnx
    (tmp_path / "broken.json").write_text("{}")
    with pytest.raises(WakeModelError, match="not a microWakeWord manifest"):
        WakeDetector([str(tmp_path / "broken.json")])


def test_threshold_map_and_refractory_and_self_trigger_guard() -> None:
    audio = padded("wake_alexa.wav")
    strict = WakeDetector(["alexa"], thresholds={"alexa": 1.01}, engine="micro")
    assert run(strict, audio)[0] == []  # a map entry overrides the manifest's cutoff
    word = load("wake_alexa.wav")
    twice = np.concatenate((silence(1), word, silence(0.6), word, silence(1.5)))
    assert len(run(WakeDetector(["alexa"], engine="micro", refractory_s=2.0), twice)[0]) == 1
    assert len(run(WakeDetector(["alexa"], engine="micro", refractory_s=0.0), twice)[0]) == 2
    guarded = WakeDetector(["alexa"], engine="micro", speaking_threshold=None)
    guarded.set_speaking(True)
    assert run(guarded, audio)[0] == []
    guarded.set_speaking(False)
    assert [d.model for d in run(guarded, audio)[0]] == ["alexa"]


def test_gate_gives_identical_scores_with_micro() -> None:
    plain = WakeDetector(MICRO, engine="micro")
    gated = WakeDetector(MICRO, engine="micro", gate=SilenceGate("adaptive", -55.0))
    seq = np.concatenate(
        (
            silence(3),
            load("wake_alexa.wav"),
            silence(3.5),
            load("wake_hey_mycroft.wav"),
            silence(3),
            load("wake_alexa.wav"),
            silence(1),
        )
    )
    reference, ref_scores, _ = run(plain, seq)
    found, scores, skipped = run(gated, seq)
    assert [d.model for d in reference] == ["alexa", "hey_mycroft", "alexa"]
    assert found == reference
    assert gated.catch_ups == 3 and sum(skipped) >= 20  # the gate closed each time
    for was_skipped, ours, theirs in zip(skipped, scores, ref_scores, strict=True):
        if not was_skipped:
            assert ours == theirs


def test_scores_are_pymicro_wakewords_own_bit_for_bit() -> None:
    """The scorer's own streaming loop gives exactly what the library's public API gives.

    Reference: ``MicroWakeWordFeatures.process_streaming`` on each 80 ms frame and
    ``MicroWakeWord.process_streaming_prob`` on each feature; a frame's score is the
    highest probability its features produced. Wake words, talk and silence, four models.
    """
    from pymicro_wakeword import MicroWakeWord, MicroWakeWordFeatures

    audio = np.concatenate(
        (silence(1), load("wake_alexa.wav"), load("negative_office_talk_34s.wav")[: 16000 * 6],
         load("wake_hey_mycroft.wav"), silence(0.5))
    )
    audio = audio[: audio.size // 1280 * 1280]
    specs = [resolve_micro(name) for name in MICRO]
    features = MicroWakeWordFeatures()
    models = [MicroWakeWord.from_config(s.manifest) for s in specs]
    reference = []
    for i in range(0, audio.size, 1280):
        feats = list(features.process_streaming(audio[i : i + 1280].tobytes()))
        reference.append({
            s.name: max([0.0] + [float(m.process_streaming_prob(f) or 0.0) for f in feats])
            for s, m in zip(specs, models, strict=True)
        })
    detector = WakeDetector(MICRO, engine="micro")
    ours = run(detector, audio)[1]
    assert len(ours) == len(reference)
    assert ours == reference  # == on floats: bit for bit
    assert max(max(r.values()) for r in reference) > 0.9  # the wake words scored
