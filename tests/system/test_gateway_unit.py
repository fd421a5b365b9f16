"""systemd/voice-agent-gateway.service: what the gateway relies on, `systemd-analyze
verify`, the hardening score, and the W^X rule it asks for, tried for real."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from test_systemd import analyze, needs_analyze, read_unit, security_score, verify_in_tree

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "systemd" / "voice-agent-gateway.service"
EXEC_PATH = "/opt/voice-agent/bin/voice-agent"
CONFIG_PATH = "/etc/voice-agent/gateway.yaml"


def test_unit_runs_the_gateway_with_the_installed_settings() -> None:
    unit = read_unit(UNIT)
    service = unit["Service"]
    assert service["ExecStart"] == [f"{EXEC_PATH} gateway --config {CONFIG_PATH}"]
    assert service["RestartPreventExitStatus"] == ["78"]  # bad settings: no restart loop
    assert service["Restart"] == ["on-failure"]
    assert service["User"] == ["voice-agent"]
    assert "PYTHONUNBUFFERED=1" in service["Environment"]
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]
    families = set(" ".join(service["RestrictAddressFamilies"]).split())
    assert families == {"AF_UNIX", "AF_INET", "AF_INET6"}  # devices and cloud engines
    assert service["PrivateDevices"] == ["yes"]  # no audio, no GPIO: none needed
    assert service["ProtectSystem"] == ["strict"]
    assert service["MemoryDenyWriteExecute"] == ["yes"]


@needs_analyze
def test_systemd_analyze_verify_is_clean(tmp_path: Path) -> None:
    result = verify_in_tree(UNIT, EXEC_PATH, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "" and result.stdout.strip() == "", result.stderr


@needs_analyze
def test_security_exposure_is_at_most_2() -> None:
    result = analyze("security", "--offline=true", "--threshold=20", str(UNIT))
    assert result.returncode == 0, result.stdout + result.stderr
    assert security_score(result.stdout + result.stderr) <= 2.0, result.stdout


# MemoryDenyWriteExecute=yes is, since systemd 254, the kernel's W^X switch
# (prctl PR_SET_MDWE, inherited across fork and exec). Set it here, then exec
# the real gateway, which spawns its pocketsphinx workers and espeak-ng.
MDWE_EXEC = """
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(65, 1, 0, 0, 0) != 0:  # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN
    sys.exit(3)
os.execv(sys.executable, [sys.executable, "-m", "agent.cli", "gateway", *sys.argv[1:]])
"""


def test_the_gateway_serves_a_spoken_turn_under_the_w_x_rule(tmp_path: Path) -> None:
    from gateway_support import open_client, silence, spoken, utterance

    cfg = tmp_path / "gateway.yaml"
    cfg.write_text("stt: {workers: 1}\n")
    proc = subprocess.Popen(
        [sys.executable, "-c", MDWE_EXEC, "--config", str(cfg), "--port", "0"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        line = proc.stdout.readline()
        if proc.poll() == 3:
            pytest.skip("kernel without PR_SET_MDWE (Linux < 6.3)")
        m = re.search(r"listening on (ws://127\.0\.0\.1:\d+/)", line)
        assert m, line + proc.stderr.read()
        with open_client(m.group(1)) as ws:
            turn = utterance(ws, spoken("what time is it") + silence(0.5))
        assert turn.transcript.transcript == "what time is it" and turn.reply_audio
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
