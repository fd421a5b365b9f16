"""scripts/install.sh --with-gateway into a directory tree (--root): the gateway's
unit, its settings, the cloud engines' packages, and each engine answering from
the installed venv (scripts/engine-check.py against the stand-ins). Slow: a
real venv and pip install, like tests/system/test_install.py."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from installed_tree import at_slash, needs_namespaces
from test_install import run_script, snapshot

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT / "scripts" / "install.sh"
UNINSTALL = ROOT / "scripts" / "uninstall.sh"
UNIT = "voice-agent-gateway.service"
MARKER = "\n# the user's own gateway settings\n"


@dataclass
class Tree:
    root: Path
    first: str
    second: str
    yaml_after_first: str
    mode_after_first: int
    etc_before_second: dict[str, tuple[int, str]]

    @property
    def venv(self) -> Path:
        return self.root / "opt" / "voice-agent"

    @property
    def yaml(self) -> Path:
        return self.root / "etc" / "voice-agent" / "gateway.yaml"

    @property
    def systemd(self) -> Path:
        return self.root / "etc" / "systemd" / "system"


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Tree:
    root = tmp_path_factory.mktemp("install-gateway")
    args = ("--root", str(root), "--python", sys.executable, "--with-gateway")
    first = run_script(INSTALL, *args).stdout
    yaml = root / "etc" / "voice-agent" / "gateway.yaml"
    text, mode = yaml.read_text(), stat.S_IMODE(yaml.stat().st_mode)
    with yaml.open("a") as f:
        f.write(MARKER)
    before = snapshot(root / "etc")
    second = run_script(INSTALL, *args).stdout
    return Tree(root, first, second, text, mode, before)


def test_the_gateway_unit_is_installed_and_enabled(tree: Tree) -> None:
    assert (tree.systemd / UNIT).read_text() == (ROOT / "systemd" / UNIT).read_text()
    wants = tree.systemd / "multi-user.target.wants" / UNIT
    assert wants.is_symlink() and os.readlink(wants) == f"/etc/systemd/system/{UNIT}"
    assert f"{UNIT} installed and enabled, not started" in tree.first
    assert (tree.systemd / "voice-agent.service").exists()  # the device's, as before
    binary = next(line.partition("=")[2].split()[0]
                  for line in (tree.systemd / UNIT).read_text().splitlines()
                  if line.startswith("ExecStart="))
    assert tree.root / binary.lstrip("/") == tree.venv / "bin" / "voice-agent"


def test_gateway_yaml_is_the_example_0640_and_kept_on_update(tree: Tree) -> None:
    assert tree.yaml_after_first == (ROOT / "config" / "gateway.yaml").read_text()
    assert tree.mode_after_first == 0o640
    assert tree.yaml.read_text() == tree.yaml_after_first + MARKER
    assert "keeping the existing" in tree.second and "gateway.yaml" in tree.second
    assert snapshot(tree.root / "etc") == tree.etc_before_second
    assert "--check" in tree.first  # the next steps say how to check it


@needs_namespaces
def test_the_installed_gateway_checks_its_settings(tree: Tree) -> None:
    done = at_slash(tree.root, "/opt/voice-agent/bin/voice-agent", "gateway", "--config",
                    str(tree.yaml), "--check")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "pocketsphinx" in done.stdout


def test_each_engine_loads_and_answers_from_the_installed_venv(tree: Tree) -> None:
    # -I: only what the venv has (the checkout's tests/ are added for the stand-ins).
    done = subprocess.run(
        [str(tree.venv / "bin" / "python"), "-I", str(ROOT / "scripts" / "engine-check.py")],
        capture_output=True, text=True, timeout=300, check=False, cwd=tree.root)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    assert [line.split()[1] for line in lines] == ["assemblyai:", "aiola:"]
    assert all(" OK " in line for line in lines)


def test_uninstall_removes_the_gateway_unit(tree: Tree, tmp_path: Path) -> None:
    copy = tmp_path / "tree"
    subprocess.run(["cp", "-al", str(tree.root), str(copy)], check=True)
    out = run_script(UNINSTALL, "--root", str(copy)).stdout
    systemd = copy / "etc" / "systemd" / "system"
    assert not (systemd / UNIT).exists()
    assert not (systemd / "multi-user.target.wants" / UNIT).is_symlink()
    assert f"removed the unit {UNIT}" in out
    assert (copy / "etc" / "voice-agent" / "gateway.yaml").exists()  # kept without --purge
