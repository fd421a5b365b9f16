"""``voice-agent devices`` on real PortAudio, through ALSA ``type file`` devices.

PortAudio reads ``~/.asoundrc`` when it initialises, so the command runs as a
subprocess with ``HOME`` pointing at a temporary directory that defines the
devices (see docs: testing-audio.md); the machine's own sound card (there is
none here) plays no part.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from agent.audio.quiet import is_portaudio_noise, quiet_portaudio

ROOT = Path(__file__).resolve().parents[2]
ROW = re.compile(r"^([* ])\s+(\d+)\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s*(.*)$")


@pytest.fixture(scope="module")
def alsa_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A HOME whose .asoundrc defines wavin (a raw file), wavin_plug, and default."""
    home = tmp_path_factory.mktemp("devices_home")
    infile = home / "speech.raw"
    # Speech then silence: a file device returns noise past the end of its file.
    np.concatenate([np.full(16000, 1000, "<i2"), np.zeros(16000 * 5, "<i2")]).tofile(infile)
    (home / ".asoundrc").write_text(
        f'pcm.wavin {{ type file slave.pcm "null" file "/dev/null" '
        f'infile "{infile}" format "raw" }}\n'
        'pcm.wavin_plug { type plug slave { pcm "wavin" format S16_LE rate 16000 channels 1 } }\n'
        'pcm.!default { type asym capture.pcm "wavin_plug" playback.pcm "null" }\n'
    )
    return home


def _env(home: Path) -> dict[str, str]:
    return dict(os.environ, HOME=str(home), PYTHONPATH=str(ROOT))


def _devices(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", "devices", *args],
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=60,
    )


def _config(tmp_path: Path, audio: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text("gateway:\n  url: ws://127.0.0.1:9\naudio:\n" + textwrap.indent(audio, "  "))
    return path


def _rows(stdout: str) -> dict[str, tuple[bool, int, str]]:
    """name -> (marked, index, notes) for each table row."""
    rows = {}
    for line in stdout.splitlines():
        m = ROW.match(line)
        if m:
            rows[m.group(3)] = (m.group(1) == "*", int(m.group(2)), m.group(7))
    return rows


def test_marks_the_device_selected_by_name(alsa_home: Path, tmp_path: Path) -> None:
    config = _config(tmp_path, "input: {device: wavin_plug}\n")
    proc = _devices(alsa_home, "--config", str(config))
    assert proc.returncode == 0, proc.stderr
    rows = _rows(proc.stdout)
    assert {"wavin", "wavin_plug", "default"} <= set(rows), proc.stdout
    assert rows["wavin_plug"][0] and "configured input" in rows["wavin_plug"][2]
    assert "configured output" not in rows["wavin_plug"][2]
    # audio.output.device defaults to "default": PortAudio's default output.
    assert rows["default"][0] and "configured output" in rows["default"][2]
    assert "configured input" not in rows["default"][2]
    assert not rows["wavin"][0]
    index = rows["wavin_plug"][1]
    assert f"input:  audio.input.device 'wavin_plug' -> #{index} wavin_plug" in proc.stdout
    # The channel counts and rates are PortAudio's: the plug device runs at 16 kHz.
    line = next(x for x in proc.stdout.splitlines() if ROW.match(x) and " wavin_plug " in x)
    assert ROW.match(line).group(6) == "16000"  # type: ignore[union-attr]
    # PortAudio's ALSA/JACK probing noise is hidden; nothing else was printed.
    assert "ALSA lib" not in proc.stderr and "jack" not in proc.stderr.lower()
    assert proc.stderr == ""


def test_substring_and_index_resolve_like_the_daemon(alsa_home: Path, tmp_path: Path) -> None:
    first = _rows(_devices(alsa_home).stdout)
    wavin_index = first["wavin"][1]
    config = _config(tmp_path, f"input: {{device: WAVIN_P}}\noutput: {{device: {wavin_index}}}\n")
    rows = _rows(_devices(alsa_home, "--config", str(config)).stdout)
    assert rows["wavin_plug"][0] and "configured input" in rows["wavin_plug"][2]
    assert rows["wavin"][0] and "configured output" in rows["wavin"][2]
    assert not rows["default"][0]


def test_resolution_matches_find_device_on_real_portaudio(alsa_home: Path) -> None:
    # The table resolves devices from the listed snapshot; the daemon resolves them
    # on a live PyAudio. Both must agree for every kind of spec.
    script = textwrap.dedent(
        """
        import json, pyaudio
        from types import SimpleNamespace as NS
        from agent.audio.devices import DeviceNotFound, find_device, list_devices
        from agent.cli.devices import resolve_selections
        devices = list_devices()
        pa = pyaudio.PyAudio()
        out = []
        for spec in ["default", "wavin", "plug", "WAVIN_PLUG", 0, 1, 2, "1", 99, "nothing"]:
            try:
                live = int(find_device(pa, spec, "input")["index"])
            except DeviceNotFound:
                live = None
            settings = NS(audio=NS(input=NS(file=None, command=None, device=spec),
                                   output=NS(file=None, device=spec)))
            sel = resolve_selections(settings, devices)
            out.append([spec, live, sel[0].index, sel[1].index])
        pa.terminate()
        print(json.dumps(out))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        env=_env(alsa_home),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    for spec, live, snap_in, snap_out in results:
        assert snap_in == live, spec
        # Every device here has outputs too, so output resolves the same way.
        assert snap_out == live, spec
    assert [r[1] for r in results if r[0] in (99, "nothing")] == [None, None]


def test_unmatched_device_is_explained(alsa_home: Path, tmp_path: Path) -> None:
    config = _config(tmp_path, "input: {device: USB}\n")
    proc = _devices(alsa_home, "--config", str(config))
    assert proc.returncode == 0
    rows = _rows(proc.stdout)
    assert not any("configured input" in notes for _, _, notes in rows.values())
    assert "input:  audio.input.device 'USB': no input device matches 'USB'" in proc.stdout


def test_file_input_uses_no_device(alsa_home: Path, tmp_path: Path) -> None:
    wav = tmp_path / "in.wav"
    import soundfile as sf

    sf.write(str(wav), np.zeros(1600, np.int16), 16000)
    config = _config(tmp_path, f"input: {{file: {wav}}}\n")
    proc = _devices(alsa_home, "--config", str(config))
    assert proc.returncode == 0
    assert f"input:  audio.input.file {wav} (no device used)" in proc.stdout
    rows = _rows(proc.stdout)
    assert not any("configured input" in notes for _, _, notes in rows.values())


def test_explicit_bad_config_lists_devices_and_exits_78(alsa_home: Path, tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("gateway:\n  url: ws://127.0.0.1:9\naudio:\n  input: {device: [1]}\n")
    proc = _devices(alsa_home, "--config", str(config))
    assert proc.returncode == 78
    rows = _rows(proc.stdout)
    assert "wavin_plug" in rows and not any(marked for marked, _, _ in rows.values())
    assert "nothing is marked:" in proc.stdout and "audio.input.device" in proc.stdout
    error = proc.stderr.strip().splitlines()
    assert len(error) == 1 and error[0].startswith(f"{config}: audio.input.device")


def test_default_config_missing_still_lists_and_exits_0(alsa_home: Path, tmp_path: Path) -> None:
    # The default path (/etc/voice-agent/config.yaml) may exist on a developer's
    # machine, so the default is pointed at a file that does not exist.
    missing = tmp_path / "absent.yaml"
    script = (
        "import sys, agent.cli.devices as m; from agent.cli import main; "
        f"m.DEFAULT_CONFIG = {str(missing)!r}; sys.exit(main(['devices']))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        env=_env(alsa_home),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "wavin_plug" in _rows(proc.stdout)
    assert "nothing is marked" not in proc.stdout and "cannot read" not in proc.stdout
    assert proc.stdout.rstrip().splitlines()[-1] == (
        f"(no configuration at {missing}; to mark the devices a file selects: --config FILE)"
    )
    assert proc.stderr == ""


def test_quiet_portaudio_hides_only_the_noise(capfd: pytest.CaptureFixture[str]) -> None:
    noise = [
        "ALSA lib pcm.c:2666:(snd_pcm_open_noupdate) Unknown PCM cards.pcm.rear",
        "Cannot connect to server socket err = No such file or directory",
        "jack server is not running or cannot be started",
        "JackShmReadWritePtr::~JackShmReadWritePtr - Init not done for -1, skipping unlock",
        "",
    ]
    with quiet_portaudio():
        # Written to the file descriptor, as the C libraries do.
        lines = [*noise, "portaudio: a real problem", "ALSA lib x", "a second real line"]
        os.write(2, ("\n".join(lines) + "\n").encode())
    err = capfd.readouterr().err
    assert err.splitlines() == ["portaudio: a real problem", "a second real line"]
    assert all(is_portaudio_noise(line) for line in noise)
    assert not is_portaudio_noise("Expression 'x' failed in 'src/os/unix/pa_unix_util.c'")
