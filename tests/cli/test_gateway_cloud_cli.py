"""``voice-agent gateway`` with a cloud engine, as a real process: --check, exit 78 for
a missing key, and no secret in the logs at debug level (stand-ins on 127.0.0.1)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from gateway_support import open_client, silence, spoken, utterance
from standins.aiola_standin import AiolaStandIn
from standins.v3_standin import TEXT, V3StandIn

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "device-token-7d2e91"


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if k not in ("ASSEMBLYAI_API_KEY", "AIOLA_API_KEY")}
    return {**out, "PYTHONUNBUFFERED": "1"}


def gateway(
    *args: str, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agent.cli", "gateway", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120,
                          env={**env(), **(extra_env or {})})


@pytest.fixture(scope="module")
def v3() -> Iterator[V3StandIn]:
    with V3StandIn() as s:
        yield s


def v3_config(tmp_path: Path, v3: V3StandIn, key: str, extra: str = "") -> Path:
    (tmp_path / "v3.key").write_text(key + "\n")
    cfg = tmp_path / "gateway.yaml"
    cfg.write_text(f"stt:\n  engine: assemblyai\n  workers: 1\n  assemblyai:\n"
                   f"    url: {v3.url}\n    api_key_file: v3.key\n{extra}")
    return cfg


def of(stdout: str, service: str) -> list[str]:
    """The --check lines of one service (``stt.assemblyai`` ...)."""
    return [line for line in stdout.strip().splitlines() if line.split()[1].rstrip(":") == service]


def test_check_passes_against_the_v3_standin(tmp_path: Path, v3: V3StandIn) -> None:
    done = gateway("--config", str(v3_config(tmp_path, v3, v3.api_key)), "--check")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = of(done.stdout, "stt.assemblyai")
    assert [line.split()[2] for line in lines] == ["dns", "tcp", "tls", "credentials:"]
    assert all(line.startswith("OK") for line in lines)
    assert v3.api_key not in done.stdout + done.stderr
    assert not v3.sessions or all(not s.open for s in v3.sessions)


def test_check_fails_with_a_fix_for_a_refused_key(tmp_path: Path, v3: V3StandIn) -> None:
    done = gateway("--config", str(v3_config(tmp_path, v3, "wrong-key-123")), "--check")
    assert done.returncode == 1
    last = of(done.stdout, "stt.assemblyai")[-1]
    assert last.startswith("FAIL stt.assemblyai credentials") and "HTTP 401" in last
    assert "fix:" in last
    assert "wrong-key-123" not in done.stdout + done.stderr


def test_check_fails_at_tcp_for_a_closed_port(tmp_path: Path) -> None:
    cfg = tmp_path / "gateway.yaml"
    (tmp_path / "k").write_text("some-key\n")
    cfg.write_text("stt: {engine: assemblyai, assemblyai: {url: 'ws://127.0.0.1:9/v3/ws', "
                   "api_key_file: k}}\n")
    done = gateway("--config", str(cfg), "--check")
    assert done.returncode == 1
    lines = of(done.stdout, "stt.assemblyai")
    assert lines[1].startswith("FAIL stt.assemblyai tcp 127.0.0.1:9")
    # The steps after it are shown, as skipped; the other services are still checked.
    assert [line.split()[0] for line in lines] == ["OK", "FAIL", "SKIP", "SKIP"]
    assert of(done.stdout, "dialog.skills")[0].startswith("OK")


def test_check_passes_against_the_aiola_standin(tmp_path: Path) -> None:
    with AiolaStandIn() as standin:
        cfg = tmp_path / "gateway.yaml"
        cfg.write_text(f"stt:\n  engine: aiola\n  aiola:\n    base_url: {standin.url}\n"
                       f"    auth_url: {standin.url}\n")
        done = gateway("--config", str(cfg), "--check",
                       extra_env={"AIOLA_API_KEY": standin.api_key})
        assert standin.token_requests == 1
    assert done.returncode == 0, done.stdout + done.stderr
    assert of(done.stdout, "stt.aiola")[-1].startswith("OK   stt.aiola credentials")
    assert standin.api_key not in done.stdout + done.stderr


@pytest.mark.parametrize("engine", ["assemblyai", "aiola"])
def test_a_chosen_engine_without_a_key_exits_78_naming_the_key(
    tmp_path: Path, engine: str
) -> None:
    cfg = tmp_path / "gateway.yaml"
    cfg.write_text(f"stt: {{engine: {engine}}}\n")
    for args in (["--config", str(cfg)], ["--config", str(cfg), "--check"]):
        done = gateway(*args)
        assert done.returncode == 78, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
        assert f"stt.{engine}.api_key_file" in done.stderr
        assert ("ASSEMBLYAI_API_KEY" if engine == "assemblyai" else "AIOLA_API_KEY") in done.stderr


def test_no_token_or_key_in_the_logs_at_debug_level(tmp_path: Path, v3: V3StandIn) -> None:
    # The leak this fixes: websockets logs "< Authorization: Bearer <token>" at debug.
    cfg = v3_config(tmp_path, v3, v3.api_key, f"auth:\n  token: {TOKEN}\nlog_level: debug\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent.cli", "gateway", "--config", str(cfg), "--port", "0"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(),
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        m = re.search(r"listening on (ws://127\.0\.0\.1:\d+/)", proc.stdout.readline())
        assert m
        with open_client(m.group(1), additional_headers={"Authorization": f"Bearer {TOKEN}"}) as ws:
            turn = utterance(ws, spoken("what time is it") + silence(0.5))
        assert turn.transcript.transcript == TEXT
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        log = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "DEBUG websockets.server" in log and "DEBUG websockets.client" in log  # debug is on
    assert re.search(r"< Authorization: \*\*\*", log), log[-3000:]  # the header line, masked
    assert TOKEN not in log and v3.api_key not in log
