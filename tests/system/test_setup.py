"""scripts/setup.sh: one line per step, and a failed step names its log."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_failed_step_names_its_log_and_shows_its_end(tmp_path: Path) -> None:
    # A copy of the script in an empty checkout, with a Python that cannot make
    # a venv: the Debian packages are already there (the test run's own set-up
    # installed them), so the first step that runs is "creating .venv", and it fails.
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "setup.sh", tmp_path / "scripts" / "setup.sh")
    fake = tmp_path / "python3"
    fake.write_text("#!/bin/sh\n[ \"$1\" = --version ] && echo 'Python 0.0' && exit 0\n"
                    "echo 'no venv module here' >&2; exit 3\n")
    fake.chmod(0o755)
    done = subprocess.run(
        ["bash", "scripts/setup.sh"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env=dict(os.environ, PYTHON=str(fake)),
    )
    log = tmp_path / ".venv-setup.log"
    assert done.returncode == 3
    lines = done.stdout.splitlines()
    assert lines[0] == "setup: Debian packages already installed"
    assert lines[1] == "setup: creating .venv with Python 0.0 ... FAILED (exit 3)"
    assert f"setup: the output of that step is in {log}; its last lines:" in done.stderr
    assert "    no venv module here" in done.stderr  # the step's own words, from the log
    assert "no venv module here" in log.read_text()
    assert not (tmp_path / ".venv").exists()


def test_every_step_is_one_line() -> None:
    # The real set-up, again (idempotent: it installs nothing new here).
    done = subprocess.run(
        ["bash", "scripts/setup.sh", "--test"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "setup: Debian packages already installed"
    assert all(line.startswith("setup: ") for line in lines), lines
    assert re.fullmatch(
        r"setup: installing voice-agent and its Python packages"
        r" \(extras: gateway,assemblyai,aiola,test\)"
        r" \.\.\. done \(\d+ s\)",
        lines[-3],
    ), lines
    assert re.fullmatch(
        r"setup: installing Home Assistant core for the tests into \.venv-ha \.\.\. done \(\d+ s\)",
        lines[-2],
    ), lines
    assert lines[-1].startswith("setup: ready in ")
    assert done.stderr == ""  # pip's and apt's words are in the log, not here


def test_home_assistant_is_installed_once() -> None:
    # setup.sh --test installed it (the run before this one): a second run skips it.
    done = subprocess.run(["bash", "scripts/setup_ha.sh"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == f"Home Assistant 2024.3.3 already in {ROOT / '.venv-ha'}"
