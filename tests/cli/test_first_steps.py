"""What a new user meets first: a plain ``voice-agent``, ``run`` with no configuration,
``announce`` with no gateway. Each says what to do, in one line or the help."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agent.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_a_plain_voice_agent_prints_the_help() -> None:
    done = cli()
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.startswith("usage: voice-agent")
    assert "check-config" in done.stdout and "doctor" in done.stdout


def test_run_with_no_configuration_names_config_and_doctor(tmp_path: Path) -> None:
    missing = tmp_path / "config.yaml"
    done = cli("run", "--config", str(missing))
    assert done.returncode == 78
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"{missing}: cannot read the configuration: no such file")
    assert "--config FILE" in lines[0] and "voice-agent doctor" in lines[0]


def test_announce_with_no_gateway_says_nobody_is_listening() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    done = cli("announce", "hello", "--url", f"ws://127.0.0.1:{port}/")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"voice-agent announce: no gateway is listening at ws://127.0.0.1:{port}/ "
        "(is `voice-agent gateway` running? --url or --config names another)"
    ]
    assert "Errno" not in done.stderr
