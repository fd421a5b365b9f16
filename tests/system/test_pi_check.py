"""scripts/pi-check.sh without emulation: syntax, the plan it prints for each
suite, the mirror it picks, and the mount cleanup that must never delete
through a mount. The emulated runs themselves (minutes) are
`sudo scripts/pi-check.sh` and `sudo scripts/pi-check.sh --suite trixie`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PI_CHECK = ROOT / "scripts" / "pi-check.sh"
MY_SCRIPTS = sorted((ROOT / "scripts").glob("*.sh"))  # setup.sh --test installs shellcheck
STEPS = [
    "host",
    "root",
    "copy",
    "arch",
    "install",
    "check_config",
    "grpc",
    "detect_alexa",
    "detect_mycroft",
    "detect_negative",
    "detect_micro",
    "turn",
    "engines",
    "unit",
    "reinstall",
]


def bash(script: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``script`` in bash with pi-check.sh's functions loaded."""
    return subprocess.run(
        ["bash", "-c", f'source "{PI_CHECK}"\n{script}'],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.parametrize("script", MY_SCRIPTS, ids=lambda p: p.name)
def test_syntax(script: Path) -> None:
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("script", MY_SCRIPTS, ids=lambda p: p.name)
def test_shellcheck(script: Path) -> None:
    result = subprocess.run(["shellcheck", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def dry_run(*args: str) -> subprocess.CompletedProcess[str]:
    """``pi-check.sh --dry-run ARGS`` (runs as any user, changes nothing)."""
    return subprocess.run(
        ["bash", str(PI_CHECK), "--dry-run", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_dry_run_prints_every_step_and_touches_nothing(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    result = dry_run("--cache", str(cache), "--mirror", "http://m/debian")
    assert result.returncode == 0, result.stderr
    listed = [line.split()[0] for line in result.stdout.splitlines() if line.startswith("  ")]
    assert [s for s in listed if s in STEPS] == STEPS
    assert "http://m/debian" in result.stdout
    # bookworm is the default suite.
    assert "Debian bookworm arm64, Python 3.11" in result.stdout
    assert f"{cache}/bookworm-arm64.tar" in result.stdout
    assert f"{cache}/bookworm-arm64/debs" in result.stdout
    assert "absent: will be built" in result.stdout
    assert "trixie" not in result.stdout
    assert not cache.exists()


@pytest.mark.parametrize("spelling", [["--suite", "trixie"], ["--suite=trixie"]])
def test_dry_run_suite_trixie_has_its_own_root_and_caches(
    tmp_path: Path, spelling: list[str]
) -> None:
    cache = tmp_path / "cache"
    # A cached bookworm root must not count as trixie's.
    cache.mkdir()
    for name in ("bookworm-arm64.tar.zst", "bookworm-arm64.tar.gz"):
        (cache / name).write_bytes(b"")
    result = dry_run(*spelling, "--cache", str(cache))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    listed = [line.split()[0] for line in out.splitlines() if line.startswith("  ")]
    assert [s for s in listed if s in STEPS] == STEPS
    assert "Debian trixie arm64, Python 3.13" in out
    assert "Debian trixie arm64 root" in out
    assert f"{cache}/trixie-arm64.tar" in out
    assert "absent: will be built" in out
    assert f"{cache}/trixie-arm64/debs and {cache}/trixie-arm64/pip" in out
    # The arch step demands the suite's own Python.
    assert "Python 3.13 (QEMU_CPU" in out
    assert "bookworm-arm64" not in out
    assert sorted(p.name for p in cache.iterdir()) == [
        "bookworm-arm64.tar.gz",
        "bookworm-arm64.tar.zst",
    ]


@pytest.mark.parametrize("args", [["--suite", "sid"], ["--suite="], ["--suite"]])
def test_unknown_or_missing_suite_is_refused(args: list[str]) -> None:
    result = dry_run(*args)
    assert result.returncode == 2
    assert "Usage:" in result.stderr
    assert "pi-check plan" not in result.stdout


def test_prepare_plan_is_only_the_root(tmp_path: Path) -> None:
    result = dry_run("--prepare", "--cache", str(tmp_path))
    assert result.returncode == 0, result.stderr
    listed = [line.split()[0] for line in result.stdout.splitlines() if line.startswith("  ")]
    assert [s for s in listed if s in STEPS] == ["host", "root"]


def test_unknown_option_is_refused() -> None:
    result = subprocess.run(
        ["bash", str(PI_CHECK), "--frobnicate"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "Usage:" in result.stderr


def test_mirror_comes_from_the_apt_sources(tmp_path: Path) -> None:
    apt = tmp_path / "apt"
    (apt / "sources.list.d").mkdir(parents=True)
    (apt / "sources.list.d" / "other.sources").write_text(
        "Types: deb\nURIs: https://packages.example.com/apt\nSuites: stable\n"
    )
    (apt / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\n# a comment\nURIs: http://mirror.example.org/debian/\n"
        "Suites: bookworm bookworm-updates\nComponents: main\n\n"
        "Types: deb\nURIs: http://mirror.example.org/debian-security\nSuites: bookworm-security\n"
    )
    assert bash(f'host_mirror "{apt}"').stdout.strip() == "http://mirror.example.org/debian/"

    (apt / "sources.list.d" / "debian.sources").unlink()
    (apt / "sources.list").write_text(
        "deb http://security.debian.org/debian-security bookworm-security main\n"
        "deb [arch=arm64 signed-by=/k.gpg] http://old.example.net/debian bookworm main\n"
    )
    assert bash(f'host_mirror "{apt}"').stdout.strip() == "http://old.example.net/debian"

    assert bash(f'host_mirror "{tmp_path}/none"').stdout.strip() == "http://deb.debian.org/debian"


def can_mount() -> bool:
    if os.geteuid() != 0 or shutil.which("findmnt") is None:
        return False
    probe = Path("/tmp") / f"va-mount-probe-{os.getpid()}"
    probe.mkdir()
    try:
        ok = subprocess.run(["mount", "-t", "tmpfs", "none", str(probe)], capture_output=True)
        if ok.returncode == 0:
            subprocess.run(["umount", str(probe)], check=True)
        return ok.returncode == 0
    finally:
        probe.rmdir()


@pytest.fixture
def fake_root(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A root with a bind mount of a separate directory and nested mounts below."""
    if not can_mount():
        pytest.skip("needs root and permission to mount")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("must survive")
    root = tmp_path / "root"
    (root / "proc").mkdir(parents=True)
    (root / "home" / "pi").mkdir(parents=True)
    mounts = [
        ["mount", "-t", "tmpfs", "none", str(root / "proc")],
        ["mkdir", "-p", str(root / "proc" / "nested")],
        ["mount", "-t", "tmpfs", "none", str(root / "proc" / "nested")],
        ["mount", "--bind", str(outside), str(root / "home" / "pi")],
    ]
    try:
        for cmd in mounts:
            subprocess.run(cmd, check=True)
        yield root, outside
    finally:
        # Whatever the test did: nothing of ours stays mounted.
        subprocess.run(["umount", "-R", "-l", str(root)], capture_output=True)
        for sub in ("home/pi", "proc"):
            subprocess.run(["umount", "-R", "-l", str(root / sub)], capture_output=True)


def test_mounts_below_lists_deepest_first(fake_root: tuple[Path, Path]) -> None:
    root, _ = fake_root
    listed = bash(f'mounts_below "{root}"').stdout.split()
    assert set(listed) == {
        str(root / "proc"),
        str(root / "proc" / "nested"),
        str(root / "home" / "pi"),
    }
    assert listed.index(str(root / "proc" / "nested")) < listed.index(str(root / "proc"))
    # A sibling whose name starts the same is not "below".
    assert bash(f'mounts_below "{root}/pro"').stdout.strip() == ""


def test_safe_remove_root_unmounts_then_deletes_and_spares_the_bound_dir(
    fake_root: tuple[Path, Path],
) -> None:
    root, outside = fake_root
    result = bash(f'safe_remove_root "{root}"')
    assert result.returncode == 0, result.stderr
    assert not root.exists()
    assert (outside / "precious").read_text() == "must survive"
    assert bash(f'mounts_below "{root}"').stdout.strip() == ""
