"""scripts/install.sh and scripts/uninstall.sh into a directory tree (--root).

The install is real: a venv built by the Python running the tests, pip
installing openwakeword and this checkout (with the gateway extra) from the
package index, as on a Pi. Only what needs the target machine is skipped
under --root: Debian packages, the service user, systemctl. Takes about a
minute (pip's cache makes later runs faster): marked slow, deselect with
``-m 'not slow'``.
"""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from installed_tree import at_slash, needs_namespaces

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT / "scripts" / "install.sh"
UNINSTALL = ROOT / "scripts" / "uninstall.sh"
UNIT_NAME = "voice-agent.service"
MARKER = "\n# edited by the user between two installs\n"


def run_script(script: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["bash", str(script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        # DESTDIR from a calling build must not redirect these runs.
        env={k: v for k, v in os.environ.items() if k != "DESTDIR"},
    )
    assert result.returncode == 0, f"{script.name} {args}:\n{result.stdout}\n{result.stderr}"
    return result


def snapshot(tree: Path) -> dict[str, tuple[int, str]]:
    """path -> (mode, content hash or link target) for everything below tree."""
    out: dict[str, tuple[int, str]] = {}
    for path in sorted(tree.rglob("*")):
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode):
            what = "-> " + os.readlink(path)
        elif stat.S_ISREG(st.st_mode):
            what = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            what = "dir"
        out[str(path.relative_to(tree))] = (st.st_mode, what)
    return out


@dataclass
class Installed:
    """A tree installed twice, with what was seen in between."""

    root: Path
    first: subprocess.CompletedProcess[str]
    second: subprocess.CompletedProcess[str]
    config_after_first: str
    config_mode_after_first: int
    etc_before_second: dict[str, tuple[int, str]]

    @property
    def config(self) -> Path:
        return self.root / "etc" / "voice-agent" / "config.yaml"

    @property
    def unit(self) -> Path:
        return self.root / "etc" / "systemd" / "system" / UNIT_NAME

    @property
    def wants(self) -> Path:
        return self.root / "etc" / "systemd" / "system" / "multi-user.target.wants" / UNIT_NAME

    @property
    def venv(self) -> Path:
        return self.root / "opt" / "voice-agent"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("install-root")
    python = ["--python", sys.executable]
    first = run_script(INSTALL, "--root", str(root), *python)
    config = root / "etc" / "voice-agent" / "config.yaml"
    config_after_first = config.read_text()
    mode = stat.S_IMODE(config.stat().st_mode)
    with config.open("a") as f:
        f.write(MARKER)
    etc_before = snapshot(root / "etc")
    second = run_script(INSTALL, "--root", str(root), *python)
    return Installed(root, first, second, config_after_first, mode, etc_before)


def test_unit_is_installed_and_enabled(installed: Installed) -> None:
    assert installed.unit.read_text() == (ROOT / "systemd" / UNIT_NAME).read_text()
    # What `systemctl enable` makes for WantedBy=multi-user.target.
    assert installed.wants.is_symlink()
    assert os.readlink(installed.wants) == f"/etc/systemd/system/{UNIT_NAME}"
    assert "installed and enabled, not started" in installed.first.stdout


def test_unit_execstart_is_the_installed_entry_point(installed: Installed) -> None:
    exec_start = next(
        line.partition("=")[2]
        for line in installed.unit.read_text().splitlines()
        if line.startswith("ExecStart=")
    )
    binary = exec_start.split()[0]
    mapped = installed.root / binary.lstrip("/")
    assert mapped == installed.venv / "bin" / "voice-agent"
    assert os.access(mapped, os.X_OK)


def test_config_is_the_example_with_mode_0640(installed: Installed) -> None:
    assert installed.config_after_first == (ROOT / "config" / "agent.yaml").read_text()
    assert installed.config_mode_after_first == 0o640
    assert stat.S_IMODE(installed.config.stat().st_mode) == 0o640


def test_second_run_keeps_the_users_config_and_changes_nothing_in_etc(
    installed: Installed,
) -> None:
    assert installed.config.read_text() == installed.config_after_first + MARKER
    assert "keeping the existing" in installed.second.stdout
    assert snapshot(installed.root / "etc") == installed.etc_before_second


def test_skips_what_needs_the_target_machine_and_says_so(installed: Installed) -> None:
    out = installed.first.stdout
    assert "not installing Debian packages" in out
    assert "not creating the user voice-agent" in out
    # The next steps a new user needs, for the machine the tree goes to.
    assert "systemctl start voice-agent" in out
    assert "journalctl -u voice-agent -f" in out
    assert "config.yaml" in out
    assert "Copy it to /" in out and "/opt/voice-agent/bin/voice-agent check-config" in out
    assert "sudo systemctl start" not in out  # not on this machine: nothing is there


@needs_namespaces
def test_entry_point_runs_from_the_tree_copied_to_slash(installed: Installed) -> None:
    # The unit's ExecStart, /opt/voice-agent/bin/voice-agent, with the build
    # directory gone: the tree works where it is meant to go.
    result = at_slash(installed.root, "/opt/voice-agent/bin/voice-agent", "--help")
    assert result.returncode == 0, result.stderr
    assert "usage: voice-agent" in result.stdout


def test_no_script_of_the_tree_names_the_build_directory(installed: Installed) -> None:
    scripts = [p for p in (installed.venv / "bin").iterdir() if p.is_file()]
    shebangs = {p.read_bytes().split(b"\n", 1)[0] for p in scripts
                if p.read_bytes().startswith(b"#!")}
    assert b"#!/opt/voice-agent/bin/python" in shebangs  # voice-agent's own, at least
    assert all(s.startswith(b"#!/opt/voice-agent/bin/python") for s in shebangs), shebangs
    texts = [*scripts, installed.venv / "pyvenv.cfg"]
    named = [p.name for p in texts if str(installed.root).encode() in p.read_bytes()]
    assert named == []


def test_apt_and_pip_output_goes_to_the_log(installed: Installed) -> None:
    out = installed.first.stdout
    assert "(output: " in out  # each quiet step names the log
    assert "Successfully installed" not in out and "Collecting" not in out


def test_installed_venv_is_isolated_and_has_the_wake_models(installed: Installed) -> None:
    python = installed.venv / "bin" / "python"
    code = (
        # The daemon's own way to the models: openwakeword is installed without
        # its dependencies, so its package __init__ (SciPy, tqdm...) is never imported.
        "import sys, pathlib, agent;"
        "from agent.hearing.models import models_dir;"
        "print(sys.prefix != sys.base_prefix);"
        "print(pathlib.Path(agent.__file__).resolve());"
        "print(sorted(p.name for p in models_dir().glob('*.onnx')));"
        "import importlib.util as u;"
        "print([m for m in ('scipy', 'sklearn', 'tflite_runtime') if u.find_spec(m)])"
    )
    # -I: not the checkout in the current directory, only what the venv has.
    result = subprocess.run(
        [str(python), "-I", "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    in_venv, agent_path, models, unused = result.stdout.splitlines()
    assert unused == "[]"  # openWakeWord's heavy dependencies stay out of the device's venv
    assert in_venv == "True"
    # The package itself was installed into the venv, not linked to the checkout.
    assert Path(agent_path).is_relative_to(installed.venv.resolve())
    assert "alexa_v0.1.onnx" in models and "melspectrogram.onnx" in models
    cfg = (installed.venv / "pyvenv.cfg").read_text()
    assert "include-system-site-packages = false" in cfg


@needs_namespaces
def test_installed_check_config_accepts_the_installed_config(installed: Installed) -> None:
    result = at_slash(installed.root, "/opt/voice-agent/bin/voice-agent", "check-config",
                      "--config", str(installed.config))
    assert result.returncode == 0, result.stderr


def test_uninstall_keeps_the_config_and_purge_removes_it(
    installed: Installed, tmp_path: Path
) -> None:
    # Work on a hard-linked copy so the other tests' tree stays as installed.
    copy = tmp_path / "tree"
    subprocess.run(["cp", "-al", str(installed.root), str(copy)], check=True)
    config = copy / "etc" / "voice-agent" / "config.yaml"
    systemd = copy / "etc" / "systemd" / "system"

    out = run_script(UNINSTALL, "--root", str(copy)).stdout

    assert not (systemd / UNIT_NAME).exists()
    assert not (systemd / "multi-user.target.wants" / UNIT_NAME).is_symlink()
    assert not (copy / "opt" / "voice-agent").exists()
    assert config.read_text() == installed.config_after_first + MARKER
    assert "kept the configuration" in out

    run_script(UNINSTALL, "--root", str(copy), "--purge")

    assert not (copy / "etc" / "voice-agent").exists()
    # The original tree is untouched by the copy's removal.
    assert installed.unit.exists() and installed.config.exists()
