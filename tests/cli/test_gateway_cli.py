"""``voice-agent gateway`` as a real process: settings errors, serving, SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from gateway_support import closed_code, open_client, text_turn

ROOT = Path(__file__).resolve().parents[2]


def gateway_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "agent.cli", "gateway", *args]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(gateway_cmd(*args), capture_output=True, text=True, timeout=60, cwd=ROOT)


@pytest.mark.parametrize(
    ("yaml_text", "args", "message"),
    [
        ("prot: 1\n", [], "prot: unknown key; did you mean port?"),
        ("", ["--host", "0.0.0.0"], "tls.cert: binding to 0.0.0.0 (not loopback)"),
        (
            "auth: {token: abcdefgh}\nlimits: {max_errors: lots}\n",
            [],
            "limits.max_errors: expected a whole number",
        ),
        (
            "dialog: {engine: cobalt}\n",
            [],
            "dialog.engine: expected one of skills, llm, home_assistant, diatheke",
        ),
        ("dialog: {diatheke: {api: 3}}\n", [], "dialog.diatheke.api: expected a whole number"),
        ("dialog: {diatheke: {address: localhost}}\n", [], "dialog.diatheke.address: expected"),
        ("dialog: {diatheke: {speech: cloud}}\n", [], "dialog.diatheke.speech: expected one of"),
        ("dialog: {diatheke: {tls: false, ca_file: ca.pem}}\n", [],
         "dialog.diatheke.ca_file: "),
        ("dialog: {diatheke: {modle: x}}\n", [], "did you mean dialog.diatheke.model?"),
    ],
)
def test_bad_settings_exit_78_naming_the_key(
    tmp_path: Path, yaml_text: str, args: list[str], message: str
) -> None:
    cfg = tmp_path / "gateway.yaml"
    cfg.write_text(yaml_text)
    done = run("--config", str(cfg), *args)
    assert done.returncode == 78
    assert message in done.stderr
    assert "Traceback" not in done.stderr and "abcdefgh" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_missing_config_file_exits_78(tmp_path: Path) -> None:
    done = run("--config", str(tmp_path / "nope.yaml"))
    assert done.returncode == 78 and "no such file" in done.stderr


def test_serves_until_sigterm_then_exits_0(tmp_path: Path) -> None:
    cfg = tmp_path / "gateway.yaml"
    # info: the level at which the announcement used to be repeated twice more
    cfg.write_text("stt: {workers: 1}\nlog_level: info\n")
    proc = subprocess.Popen(
        gateway_cmd("--config", str(cfg), "--port", "0", "--reply-form", "node"),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        m = re.search(r"listening on (ws://127\.0\.0\.1:\d+/)", line)
        assert m, (line, proc.stderr.read() if proc.poll() is not None else "")
        with open_client(m.group(1)) as ws:
            turn = text_turn(ws, "do you have a pool")
            assert turn.skill == "pool" and turn.reply_audio
            proc.send_signal(signal.SIGTERM)
            assert closed_code(ws) == 1001  # closed cleanly: going away
        assert proc.wait(timeout=60) == 0
        assert proc.stderr is not None
        rest = line + proc.stdout.read() + proc.stderr.read()
        # Announced once: the printed line, not again by our log or by websockets'.
        assert rest.count("listening") == 1, rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()
