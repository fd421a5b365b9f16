"""``voice-agent detect`` end to end, as a subprocess on real files."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from recordings import AUDIO

REPO = Path(__file__).resolve().parents[2]
SHARED_AUDIO = AUDIO
LINE = re.compile(r"^ +(\d+\.\d\d) s  (\w+)  score (\d\.\d{3})$")


def detect(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", "detect", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def detections(stdout: str) -> list[tuple[float, str, float]]:
    found = []
    for line in stdout.splitlines():
        match = LINE.match(line)
        if match:
            found.append((float(match[1]), match[2], float(match[3])))
    return found


@pytest.fixture(scope="session")
def jarvis_stereo_44k(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """espeak-ng "hey jarvis" as 44.1 kHz stereo with 0.5 s of silence before it."""
    directory = tmp_path_factory.mktemp("detect_cli")
    raw, out = directory / "raw.wav", directory / "jarvis_44k_stereo.wav"
    subprocess.run(
        ["espeak-ng", "-v", "en-gb", "-s", "140", "-w", str(raw), "hey jarvis"], check=True
    )
    subprocess.run(
        ["sox", str(raw), "-r", "44100", "-c", "2", "-b", "16", str(out), "pad", "0.5", "0"],
        check=True,
    )
    return out


@pytest.mark.parametrize(
    ("clip", "model", "earliest", "latest"),
    [("wake_alexa.wav", "alexa", 0.2, 1.0), ("wake_hey_mycroft.wav", "hey_mycroft", 0.4, 1.35)],
)
def test_shared_wake_clips(clip: str, model: str, earliest: float, latest: float) -> None:
    result = detect(str(SHARED_AUDIO / clip))
    assert result.returncode == 0, result.stderr
    found = detections(result.stdout)
    assert [m for _, m, _ in found] == [model]
    seconds, _, score = found[0]
    assert earliest <= seconds <= latest  # during or just after the word (file time)
    assert score >= 0.5
    summary = next(
        line for line in result.stdout.splitlines() if " in " in line and line.split()[0].isdigit()
    )
    assert summary.startswith("1 detection in ")
    assert "alexa, hey_jarvis, hey_mycroft, hey_rhasspy" in summary  # the default models


def test_talk_clip_has_none_with_or_without_gate() -> None:
    clip = str(SHARED_AUDIO / "negative_office_talk_34s.wav")
    for extra in ([], ["--no-gate"]):
        result = detect(clip, *extra)
        assert result.returncode == 0, result.stderr
        assert detections(result.stdout) == []
        assert result.stdout.startswith("0 detections in 34.50 s of audio")


def test_any_rate_and_channels_and_model_choice(jarvis_stereo_44k: Path) -> None:
    result = detect(str(jarvis_stereo_44k), "--model", "hey_jarvis", "--model", "alexa")
    assert result.returncode == 0, result.stderr
    found = detections(result.stdout)
    assert [m for _, m, _ in found] == ["hey_jarvis"]
    assert 0.6 <= found[0][0] <= 1.8
    assert "(models: hey_jarvis, alexa;" in result.stdout

    strict = detect(str(jarvis_stereo_44k), "--model", "hey_jarvis", "--threshold", "1.01")
    assert strict.returncode == 0 and detections(strict.stdout) == []


@pytest.mark.parametrize(
    ("kind", "message"), [("missing", "no such file"), ("text", "cannot read")]
)
def test_bad_file_is_one_line_and_exit_2(tmp_path: Path, kind: str, message: str) -> None:
    path = tmp_path / f"{kind}.wav"
    if kind == "text":
        path.write_text("this is not audio\n")
    result = detect(str(path))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and str(path) in lines[0]


def test_unusable_model_is_one_line_and_exit_2(tmp_path: Path) -> None:
    tflite = tmp_path / "word.tflite"
    tflite.write_bytes(b"TFL3")
    for model, message in ((str(tflite), "not supported"), ("hey_siri", "unknown wake model")):
        result = detect(str(SHARED_AUDIO / "wake_alexa.wav"), "--model", model)
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0]


def test_reports_the_tracked_floor_and_runs_microwakeword(tmp_path: Path) -> None:
    import numpy as np
    import soundfile as sf

    # 20 s of a -50 dBFS room, "alexa" in it: the fixed -55 dBFS gate never closes there,
    # the adaptive one does, and the detection is the same.
    rng = np.random.default_rng(1)
    room = np.round(rng.standard_normal(16000 * 20) * 32768 * 10 ** (-50 / 20))
    word, _ = sf.read(str(SHARED_AUDIO / "wake_alexa.wav"), dtype="int16")
    room[16000 * 12 : 16000 * 12 + word.size] += word
    path = tmp_path / "room.wav"
    sf.write(str(path), np.clip(room, -32768, 32767).astype(np.int16), 16000, subtype="PCM_16")
    runs = {
        name: detect(str(path), "--model", "alexa", *extra)
        for name, extra in (
            ("adaptive", []),
            ("fixed", ["--gate", "fixed"]),
            ("micro", ["--engine", "micro"]),
        )
    }
    for result in runs.values():
        assert result.returncode == 0, result.stderr
    assert detections(runs["adaptive"].stdout) == detections(runs["fixed"].stdout)
    assert [m for _, m, _ in detections(runs["micro"].stdout)] == ["alexa"]
    floor = re.search(r"noise floor: (-\d+\.\d) to (-\d+\.\d) dBFS", runs["adaptive"].stdout)
    # (-3 dB at the two frames half in the 1 s pads of digital silence)
    assert floor and -54 <= float(floor[1]) <= float(floor[2]) <= -48, runs["adaptive"].stdout
    skipped = re.search(r"gate skipped (\d+) of (\d+) frames", runs["adaptive"].stdout)
    assert skipped and int(skipped[1]) > 0.7 * int(skipped[2])
    assert "gate skipped 0 of" in runs["fixed"].stdout
    assert "thresholds alexa 0.9" in runs["micro"].stdout  # the model's own cutoff


def test_engine_micro_without_a_model_scans_the_micro_models() -> None:
    # Not openWakeWord's default list (hey_rhasspy has no microWakeWord model).
    result = detect(str(SHARED_AUDIO / "wake_alexa.wav"), "--engine", "micro")
    assert result.returncode == 0, result.stderr
    assert [m for _, m, _ in detections(result.stdout)] == ["alexa"]
    assert "models: alexa, hey_jarvis, hey_mycroft, okay_nabu" in result.stdout


def test_a_config_with_engine_micro_and_no_models_builds_micro_detectors() -> None:
    from agent.config.load import parse_config
    from agent.hearing.engines import resolve_engine
    from agent.hearing.wake import WakeDetector

    settings = parse_config(
        {"gateway": {"url": "ws://127.0.0.1:9/"}, "wake": {"engine": "micro"}}, "t"
    )
    assert [resolve_engine(m, settings.wake.engine_for(m)) for m in settings.wake.models] == [
        "micro"
    ]
    detector = WakeDetector.from_settings(settings.wake)  # no model nobody asked for
    assert detector.model_names == ["hey_jarvis"]
