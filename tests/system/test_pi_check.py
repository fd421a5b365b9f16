"""scripts/pi-check.sh without emulation: syntax, the plan it prints for each
suite, the mirror it picks, and the mount cleanup that must never delete
through a mount. The emulated runs themselves (minutes) are
`sudo scripts/pi-check.sh` and `sudo scripts/pi-check.sh --suite trixie`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
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


# ----------------------------------------------------------------- the steps decide
# Each step runs through run_step as main runs it (inside `if`), with in_root
# replaced by a fake: the emulated root cannot be built in a test, and what is
# tested is how a step judges what the commands inside the root gave it.

TURN_ID = "a8b83b86-b78f-4213-9122-01796b8f3fad"


def turn_events(text: str = "do you have a pool", *, error: str | None = None) -> str:
    """The daemon's JSON events for one turn (lines as `voice-agent run` writes them)."""
    lines = [
        '{"event":"connected","ts":1796556948.346506,"url":"ws://127.0.0.1:18765"}',
        '{"event":"wake","ts":1796556948.645163,"model":"hey_mycroft","score":0.9993}',
        f'{{"event":"audio_start","ts":1796556948.645906,"id":"{TURN_ID}"}}',
        f'{{"event":"audio_end","ts":1796556949.564013,"id":"{TURN_ID}","reason":"vad"}}',
        f'{{"event":"transcript","ts":1796556955.353972,"id":"{TURN_ID}","text":"{text}",'
        '"confidence":0.943}',
        '{"event":"response","ts":1796556955.355026,"text":"Yes, there is a heated pool."}',
    ]
    if error is not None:
        lines.append(
            f'{{"event":"error","ts":1796556957.0,"message":"{error}","source":"gateway"}}'
        )
    else:
        lines.append('{"event":"playback_start","ts":1796556955.473926,"id":"r1"}')
    return "\n".join(lines) + "\n"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_fake_step(
    tmp_path: Path, step: str, fake_in_root: str, port: int | None = None
) -> subprocess.CompletedProcess[str]:
    """``run_step STEP`` inside ``if``, as main calls it, with ``in_root`` faked."""
    work, root = tmp_path / "work", tmp_path / "root"
    (root / "tmp" / "pi-check").mkdir(parents=True)
    (root / "etc" / "systemd" / "system").mkdir(parents=True)
    work.mkdir()
    script = f"""
WORK={work}; ROOT={root}; LOG={work}/pi-check.log; GATEWAY_PORT={port or free_port()}
GATEWAY_START_S=20
export PY={shlex_quote(sys.executable)}  # the fakes run in the step's own process
{fake_in_root}
if run_step {step}; then echo "STEP PASSED"; else echo "STEP FAILED"; fi
"""
    return bash(script, timeout=120)


def shlex_quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


FAKE_GATEWAY = """
        *" gateway --host "*)  # listens on the port, as the real one does once loaded;
            # under timeout, as in_root runs it: stopping it must reach the gateway
            timeout 60 "$PY" -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(30)' "$GATEWAY_PORT" ;;
"""


def fake_turn(events: str, reply_bytes: int, run_status: int = 0) -> str:
    """in_root for step_turn: the daemon 'writes' EVENTS and a reply of REPLY_BYTES."""
    events_file = "$WORK/fake-events.json"
    return f"""
cat >"{events_file}" <<'EVENTS'
{events}EVENTS
in_root() {{
    case "$*" in
        "python3 - "*) cat >/dev/null ;;  # the turn's WAV: made inside the root
{FAKE_GATEWAY}
        *" run --config "*)
            cat "{events_file}"
            head -c {reply_bytes} /dev/zero >"$ROOT$IN_WORK/reply.wav"
            return {run_status} ;;
        *) echo "unexpected in_root $*" >&2; return 99 ;;
    esac
}}
"""


def test_turn_step_passes_a_right_turn(tmp_path: Path) -> None:
    import socket

    port = free_port()
    result = run_fake_step(tmp_path, "turn", fake_turn(turn_events(), 141198), port)
    assert "STEP PASSED" in result.stdout, result.stdout + result.stderr
    # The turn's gateway was stopped: nothing listens on its port any more.
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port)):
        pass
    line = next(x for x in result.stdout.splitlines() if x.startswith("turn "))
    assert " PASS " in line
    assert "transcript: do you have a pool; reply 141198 bytes" in line
    assert "end of speech to reply audio: 5.9 s" in line


@pytest.mark.parametrize(
    ("why", "events", "reply_bytes", "run_status", "shown"),
    [
        # pi-check run 1 on 8e624c3: it passed.
        ("empty transcript, header-only reply", turn_events(""), 44, 0,
         "transcript: ; reply 44 bytes"),
        ("empty transcript", turn_events(""), 141198, 0, "transcript: ;"),
        ("silent reply", turn_events(), 44, 0, "reply 44 bytes"),
        ("short reply", turn_events(), 100000, 0, "reply 100000 bytes"),
        ("misheard", turn_events("do you have a pool table"), 141198, 0,
         "transcript: do you have a pool table;"),
        ("an error", turn_events(error="no reply within 15 s"), 141198, 0,
         "errors: no reply within 15 s"),
        ("no wake word", turn_events().replace('"event":"wake"', '"event":"other"'), 141198,
         0, "transcript: do you have a pool"),
        ("two transcripts", turn_events() + turn_events(), 141198, 0,
         "transcript: do you have a pool | do you have a pool;"),
        ("the daemon failed", turn_events(), 141198, 3, "voice-agent run failed (exit 3)"),
    ],
)
def test_turn_step_fails_a_wrong_turn(
    tmp_path: Path, why: str, events: str, reply_bytes: int, run_status: int, shown: str
) -> None:
    result = run_fake_step(tmp_path, "turn", fake_turn(events, reply_bytes, run_status))
    assert "STEP FAILED" in result.stdout, why + "\n" + result.stdout
    line = next(x for x in result.stdout.splitlines() if x.startswith("turn "))
    assert " FAIL " in line and shown in line, line


def test_turn_step_fails_when_the_gateway_never_listens(tmp_path: Path) -> None:
    fake = fake_turn(turn_events(), 141198).replace('timeout 60 "$PY" -c', 'return 1; "$PY" -c')
    result = run_fake_step(tmp_path, "turn", fake)
    assert "STEP FAILED" in result.stdout, result.stdout
    assert "the gateway did not listen" in result.stdout


# A check in the middle of each step fails; the step's last command succeeds.
MIDDLE_FAILURES = {
    "check_config": """in_root() { case "$*" in *check-config*) echo bad; return 78 ;;
        *) echo "640 root:voice-agent" ;; esac; }""",
    "grpc": """in_root() { echo "grpcio 1.0 protobuf 5.0"; return 1; }""",
    "detect_micro": """in_root() { case "$*" in *wake_alexa*) echo "0 detections in 1.0 s";;
        *wake_hey_mycroft*) printf '  0.52 s  hey_mycroft  score 0.999\\n1 detection in 1 s\\n';;
        *) echo "0 detections in 34 s of audio (models: alexa; gate)";; esac; }""",
    "engines": """in_root() { case "$*" in *engine-check*) echo "assemblyai OK"; echo "aiola FAIL";;
        *) echo "checked";; esac; }""",
    "unit": """in_root() { case "$*" in *voice-agent.service*) echo "Unknown key Foo=";;
        *) ;; esac; }
        mkdir -p "$ROOT/etc/systemd/system/multi-user.target.wants"
        for u in voice-agent.service voice-agent-gateway.service; do
            ln -sf "/etc/systemd/system/$u" "$ROOT/etc/systemd/system/multi-user.target.wants/$u"
        done""",
    "reinstall": """mkdir -p "$ROOT/etc/voice-agent"
        echo "a: 1" >"$ROOT/etc/voice-agent/config.yaml"
        in_root() { case "$*" in *install.sh*) echo "writing a new config";;
        *stat*) echo "640 root voice-agent";; *) ;; esac; }""",
}


@pytest.mark.parametrize("step", sorted(MIDDLE_FAILURES))
def test_a_failed_check_in_the_middle_of_a_step_fails_it(tmp_path: Path, step: str) -> None:
    result = run_fake_step(tmp_path, step, MIDDLE_FAILURES[step])
    assert "STEP FAILED" in result.stdout, result.stdout + result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith(f"{step} "))
    assert " FAIL " in line
    # The log names the check that failed.
    assert "check failed" in result.stdout


def test_errexit_holds_in_a_step_whoever_calls_run_step(tmp_path: Path) -> None:
    # The flaw: under `if ! run_step`, bash ignored errexit in the step, so
    # only its last command counted.
    (tmp_path / "work").mkdir()
    script = f"""
WORK={tmp_path}/work; LOG=$WORK/log
step_probe() {{ false; figure "reached the end"; }}
if run_step probe; then echo "STEP PASSED"; else echo "STEP FAILED"; fi
! run_step probe && echo "NEGATED FAILED"
run_step probe || echo "OR FAILED"
"""
    result = bash(script)
    assert "STEP PASSED" not in result.stdout
    assert "STEP FAILED" in result.stdout
    assert "NEGATED FAILED" in result.stdout
    assert "OR FAILED" in result.stdout
    assert "reached the end" not in result.stdout
    assert "check failed: false" in (tmp_path / "work" / "log").read_text()
