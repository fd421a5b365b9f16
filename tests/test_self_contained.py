"""The project stands on its own: nothing reads a folder outside it.

The test recordings are the project's own copies (``tests/data/audio``, each
named with its source and licence in ``NOTICE``), and the configuration
contract is ``docs/config.md``. A path into ``../shared`` (where the
recordings once came from) anywhere in the code, scripts or docs fails here.
"""

from __future__ import annotations

import re
import wave
from pathlib import Path

from recordings import AUDIO

ROOT = Path(__file__).resolve().parents[1]
# Where a reference to a sibling "shared" folder could hide.
SCANNED = ("agent", "tests", "scripts", "docs", "config", "systemd", "README.md", "pyproject.toml")
SUFFIXES = {".py", ".sh", ".md", ".yaml", ".yml", ".toml", ".service", ".cfg", ".txt"}
# ../shared, shared/audio, shared/docs, or a path built with a "shared" part.
OUTSIDE = re.compile(r"\.\./shared\b|\bshared/(audio|docs)\b|/\s*[\"']shared[\"']")


def project_files() -> list[Path]:
    files: list[Path] = []
    for name in SCANNED:
        path = ROOT / name
        if path.is_file():
            files.append(path)
            continue
        files += [p for p in path.rglob("*") if p.is_file() and p.suffix in SUFFIXES]
    return [p for p in files if "__pycache__" not in p.parts and p != Path(__file__).resolve()]


def test_nothing_reads_a_folder_outside_the_project() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in project_files()
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert found == []


def test_the_pattern_catches_the_old_paths() -> None:
    # The scan above is only as good as its pattern: the forms the project used.
    for old in (
        'AUDIO_DIR = Path(__file__).resolve().parents[2] / "shared" / "audio"',
        "AUDIO_DIR=${VOICE_AGENT_PI_AUDIO:-$HERE/../shared/audio}",
        "the contract is shared/docs/config.md",
    ):
        assert OUTSIDE.search(old), old
    assert not OUTSIDE.search("a gateway shared by every connection")


def test_every_recording_is_in_the_notice_and_is_16_khz_mono_s16() -> None:
    notice = (AUDIO / "NOTICE").read_text(encoding="utf-8")
    wavs = sorted(AUDIO.glob("*.wav"))
    assert len(wavs) == 6
    for wav in wavs:
        assert wav.name in notice, wav.name
        with wave.open(str(wav)) as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
    assert notice.count("Apache-2.0") >= len(wavs)
