"""Real PortAudio capture and playback through ALSA ``type file`` devices.

PortAudio reads ``~/.asoundrc`` when it initialises, so each scenario runs in a
subprocess with ``HOME`` pointing at a temporary directory holding the
devices (see docs: testing-audio.md). The file devices are not paced, so the
capture queue is made large enough (``queue_s``) to hold everything read.
Past the end of its file a ``type file`` device returns noise, so the test
files are padded with silence and only the file's own length is compared.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soxr

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("sox") is None,
    reason="needs espeak-ng and sox (Debian packages)",
)

HELPER = textwrap.dedent(
    """
    import json, shutil, sys, threading, time
    import numpy as np
    from agent.audio.pyaudio_source import PyAudioSource

    args = json.loads(sys.argv[1])
    errors = []

    def on_error(message):
        errors.append(message)
        if args.get("appear_from"):  # the microphone is "plugged in" after the first failure
            shutil.copyfile(args["appear_from"], args["appear_to"])

    if args["mode"] == "sink":
        from agent.audio.playback import Player
        from agent.audio.sinks import PyAudioSink
        done = threading.Event()
        events = []
        sink = PyAudioSink(args["device"])
        player = Player(
            sink,
            on_started=lambda r: events.append(["started", r]),
            on_finished=lambda r, i: (events.append(["finished", r, i]), done.set()),
        )
        player.start("reply-1")
        pcm = np.arange(-16000, 16000, 2, dtype="<i2").tobytes()
        for i in range(0, len(pcm), 3200):
            player.feed(pcm[i : i + 3200])
        player.finish()
        ok = done.wait(30)
        player.close()
        print(json.dumps({"ok": ok, "events": events, "rate": sink.rate, "errors": sink.errors}))
        sys.exit(0)

    source = PyAudioSource(
        args["device"], sample_rate=args.get("rate", 16000), channels=args.get("channels", 1),
        channel=args.get("channel", 0), on_error=on_error, queue_s=args.get("queue_s", 120),
        initial_backoff_s=0.05, max_backoff_s=0.2,
    )
    frames = []
    want = args["samples"]
    if args["mode"] == "slow":  # a consumer that falls behind: wait for the queue to overflow
        deadline = time.monotonic() + 30
        while source.overflows == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        while not frames or sum(1 for f in frames if f.gap) == 0 or frames[-1].gap:
            frames.append(source.read())
    while sum(len(f.samples) for f in frames) < want:
        frames.append(source.read())
    opened = [source.opened_rate, source.opened_channels]
    if args["mode"] == "unplug":
        # Stands in for a USB microphone being pulled out: a device cannot vanish
        # here, so the real PortAudio stream is stopped under the source's feet.
        source._stream.stop_stream()
        after = []
        while not after or sum(len(f.samples) for f in after) < want:
            frame = source.read()
            if after or frame.gap:
                after.append(frame)
            else:
                frames.append(frame)
        frames += after
    source.close()
    np.save(args["out"], np.concatenate([f.samples for f in frames]))
    print(json.dumps({
        "positions": [[f.position, len(f.samples), f.gap] for f in frames],
        "errors": source.errors, "overflows": source.overflows,
        "messages": errors, "opened": opened,
    }))
    """
)


def _run(cmd: list[str], **kwargs: Any) -> None:
    subprocess.run(cmd, check=True, capture_output=True, timeout=60, **kwargs)


@pytest.fixture(scope="module")
def alsa_home(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A HOME with ALSA file devices: 16 kHz mono speech and 48 kHz stereo."""
    home = tmp_path_factory.mktemp("alsa_home")
    _run(["espeak-ng", "-v", "en-gb", "-s", "140", "-w", str(home / "tts.wav"), "hey jarvis"])
    speech = home / "speech.raw"
    _run(
        [
            "sox",
            str(home / "tts.wav"),
            "-r",
            "16000",
            "-c",
            "1",
            "-b",
            "16",
            "-e",
            "signed-integer",
            "-t",
            "raw",
            str(speech),
            "pad",
            "1",
            "1",
        ]
    )
    padded = home / "speech_padded.raw"
    _run(
        [
            "sox",
            "-t",
            "raw",
            "-r",
            "16000",
            "-c",
            "1",
            "-b",
            "16",
            "-e",
            "signed-integer",
            str(speech),
            "-t",
            "raw",
            str(padded),
            "pad",
            "0",
            "10",
        ]
    )
    # 48 kHz stereo: a tone on the left, the speech on the right.
    sp = np.fromfile(speech, dtype="<i2")
    right = soxr.resample(sp, 16000, 48000)
    left = np.round(8000 * np.sin(2 * np.pi * 440 * np.arange(len(right)) / 48000))
    stereo = np.stack([left.astype(np.int16), right], axis=1)
    st48 = home / "st48.raw"
    st48.write_bytes(stereo.astype("<i2").tobytes() + bytes(48000 * 2 * 2 * 10))
    np.save(home / "st48.npy", stereo)
    # 2 minutes of random samples: any sample's value pins down its position.
    noise = home / "noise.raw"
    rng = np.random.default_rng(11)
    noise.write_bytes(rng.integers(-32768, 32767, 16000 * 120, dtype="<i2").tobytes())

    def file_pcm(name: str, infile: Path, rate: int, channels: int) -> str:
        return (
            f'pcm.{name} {{ type file slave.pcm "null" file "/dev/null" '
            f'infile "{infile}" format "raw" }}\n'
            f'pcm.{name}_plug {{ type plug slave {{ pcm "{name}" format S16_LE '
            f"rate {rate} channels {channels} }} }}\n"
        )

    (home / ".asoundrc").write_text(
        file_pcm("wavin", padded, 16000, 1)
        + file_pcm("st48", st48, 48000, 2)
        + file_pcm("late", home / "late.raw", 16000, 1)
        + file_pcm("noise", noise, 16000, 1)
        + 'pcm.!default { type asym capture.pcm "wavin_plug" playback.pcm "null" }\n'
    )
    return {
        "home": home,
        "speech": speech,
        "padded": padded,
        "st48": home / "st48.npy",
        "noise": noise,
    }


def _capture(alsa_home: dict[str, Path], **args: Any) -> tuple[dict[str, Any], np.ndarray]:
    home = alsa_home["home"]
    out = home / f"out-{os.getpid()}-{len(list(home.glob('out-*')))}.npy"
    args["out"] = str(out)
    env = dict(os.environ, HOME=str(home), PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-c", HELPER, json.dumps(args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    samples = np.load(out) if out.exists() else np.zeros(0, np.int16)
    return result, samples


def _assert_positions(positions: list[list[int]]) -> None:
    assert positions[0][0] == 0
    for (pos, n, _), (nxt, _, gap) in zip(positions, positions[1:], strict=False):
        assert nxt == pos + n + gap


@pytest.fixture(scope="module")
def default_capture(alsa_home: dict[str, Path]) -> tuple[dict[str, Any], np.ndarray]:
    n = len(np.fromfile(alsa_home["speech"], dtype="<i2"))
    return _capture(alsa_home, mode="plain", device="default", samples=n)


def test_capture_is_bit_identical_to_the_file(
    alsa_home: dict[str, Path], default_capture: tuple[dict[str, Any], np.ndarray]
) -> None:
    speech = np.fromfile(alsa_home["speech"], dtype="<i2")
    result, samples = default_capture
    np.testing.assert_array_equal(samples[: len(speech)], speech)
    _assert_positions(result["positions"])
    assert all(gap == 0 for _, _, gap in result["positions"])
    assert all(n == 1280 for _, n, _ in result["positions"])
    assert result["errors"] == 0 and result["overflows"] == 0
    assert result["opened"] == [16000, 1]


def test_capture_by_name_substring(alsa_home: dict[str, Path]) -> None:
    speech = np.fromfile(alsa_home["speech"], dtype="<i2")
    result, samples = _capture(alsa_home, mode="plain", device="wavin_pl", samples=len(speech))
    np.testing.assert_array_equal(samples[: len(speech)], speech)


def test_openwakeword_detects_hey_jarvis_in_what_pyaudio_read(
    default_capture: tuple[dict[str, Any], np.ndarray],
) -> None:
    import openwakeword.model as model_mod  # installed by scripts/setup.sh: must import

    model = model_mod.Model(wakeword_models=["hey_jarvis"], inference_framework="onnx")
    _, samples = default_capture
    best = 0.0
    for i in range(0, len(samples) - 1280 + 1, 1280):
        scores = model.predict(samples[i : i + 1280])
        best = max(best, float(scores["hey_jarvis"]))
    assert best > 0.5


def test_48k_stereo_device_keeps_the_configured_channel(alsa_home: dict[str, Path]) -> None:
    stereo = np.load(alsa_home["st48"])
    ref_right = soxr.resample(np.ascontiguousarray(stereo[:, 1]), 48000, 16000)
    ref_left = soxr.resample(np.ascontiguousarray(stereo[:, 0]), 48000, 16000)
    result, samples = _capture(
        alsa_home,
        mode="plain",
        device="st48_plug",
        rate=48000,
        channels=2,
        channel=1,
        samples=len(ref_right) + 16000,
    )
    assert result["opened"] == [48000, 2]
    # Past the reference's end the stream goes on (silence, then noise), so the
    # streaming resampler's last few samples differ from the one-shot reference's tail.
    n = len(ref_right) - 64
    assert np.abs(samples[:n].astype(int) - ref_right[:n]).max() <= 3
    assert np.abs(samples[:n].astype(int) - ref_left[:n]).max() > 1000


def test_unplugged_device_is_reopened_with_a_reported_gap(alsa_home: dict[str, Path]) -> None:
    speech = np.fromfile(alsa_home["speech"], dtype="<i2")
    result, samples = _capture(alsa_home, mode="unplug", device="default", samples=len(speech))
    positions = result["positions"]
    _assert_positions(positions)
    gaps = [i for i, (_, _, gap) in enumerate(positions) if gap]
    assert len(gaps) == 1 and positions[gaps[0]][2] >= 1
    assert result["errors"] == 1
    assert result["messages"] == ["the microphone stream stopped"]
    # The reopened device starts its file again: what follows the gap is the file.
    after = samples[sum(n for _, n, _ in positions[: gaps[0]]) :]
    np.testing.assert_array_equal(after[: len(speech)], speech)


def test_device_that_appears_later_is_found(alsa_home: dict[str, Path]) -> None:
    late = alsa_home["home"] / "late.raw"
    late.unlink(missing_ok=True)
    speech = np.fromfile(alsa_home["speech"], dtype="<i2")
    result, samples = _capture(
        alsa_home,
        mode="plain",
        device="late_plug",
        samples=len(speech),
        appear_from=str(alsa_home["padded"]),
        appear_to=str(late),
    )
    assert result["errors"] >= 1
    assert "no input device matches 'late_plug'" in result["messages"][0]
    np.testing.assert_array_equal(samples[: len(speech)], speech)
    _assert_positions(result["positions"])
    assert all(gap == 0 for _, _, gap in result["positions"])  # nothing had flowed yet


def test_pyaudio_sink_plays_a_reply(alsa_home: dict[str, Path]) -> None:
    env = dict(os.environ, HOME=str(alsa_home["home"]), PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-c", HELPER, json.dumps({"mode": "sink", "device": "default"})],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["ok"] and result["errors"] == 0
    assert result["events"] == [["started", "reply-1"], ["finished", "reply-1", False]]
    assert result["rate"] == 16000  # the default device's own rate


def test_full_capture_queue_is_counted_and_reported_as_an_exact_gap(
    alsa_home: dict[str, Path],
) -> None:
    """The consumer falls behind (the file device is not paced): blocks are dropped,
    counted in ``overflows``, and the gap in positions is exactly what was dropped."""
    noise = np.fromfile(alsa_home["noise"], dtype="<i2")
    result, samples = _capture(
        alsa_home, mode="slow", device="noise_plug", queue_s=0.3, samples=16000
    )
    positions = result["positions"]
    _assert_positions(positions)
    assert result["overflows"] > 0 and result["errors"] == 0
    gaps = [i for i, (_, _, gap) in enumerate(positions) if gap]
    assert gaps
    offset = 0
    checked_after_gap = 0
    for i, (pos, n, _) in enumerate(positions):
        if pos + n <= len(noise):  # the device returns noise past its file's end
            np.testing.assert_array_equal(samples[offset : offset + n], noise[pos : pos + n])
            checked_after_gap += i >= gaps[0]
        offset += n
    assert checked_after_gap > 0
