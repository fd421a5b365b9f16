"""``voice-agent gateway --check`` with ``home_assistant`` in the chain, as a real process,
against the real Home Assistant: reachable, token, version, agent, home, grammar."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from real_ha import VERSION, RealHomeAssistant

ROOT = Path(__file__).resolve().parents[2]


def check(tmp_path: Path, ha: RealHomeAssistant, token_file: Path,
          agent_id: str = "null") -> subprocess.CompletedProcess[str]:
    cfg = tmp_path / "gateway.yaml"
    cfg.write_text("stt:\n  workers: 1\ndialog:\n  engine: [skills, home_assistant]\n"
                   f"  home_assistant:\n    url: {ha.url}\n    token_file: {token_file}\n"
                   f"    agent_id: {agent_id}\n    timeout_s: 5\n")
    env = {k: v for k, v in os.environ.items() if k != "HA_TOKEN"}
    return subprocess.run([sys.executable, "-m", "agent.cli", "gateway", "--config", str(cfg),
                           "--check"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env=env)


def test_check_reports_home_assistant(real_ha: RealHomeAssistant, tmp_path: Path) -> None:
    done = check(tmp_path, real_ha, real_ha.directory / "token")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert f"OK   home assistant {real_ha.url}: reachable, version {VERSION}" in out
    assert "OK   home assistant token: accepted" in out
    assert "OK   home assistant agent: the default agent found" in out
    assert "OK   home assistant home: 3 areas, 5 entities exposed to Assist" in out
    assert "OK   home assistant grammar: " in out
    assert real_ha.token not in out + done.stderr


def test_check_fails_for_a_refused_token_and_an_unknown_agent(
    real_ha: RealHomeAssistant, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.token"
    bad.write_text("not-a-token-at-all-8d1f\n")
    done = check(tmp_path, real_ha, bad)
    assert done.returncode == 1
    assert ("FAIL home assistant token: refused (auth_invalid) (fix: create a long-lived"
            in done.stdout)
    assert "not-a-token-at-all-8d1f" not in done.stdout + done.stderr
    unknown = check(tmp_path, real_ha, real_ha.directory / "token", agent_id="conversation.nope")
    assert unknown.returncode == 1
    assert "FAIL home assistant agent: conversation.nope not found" in unknown.stdout


def test_no_token_is_exit_78_naming_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "gateway.yaml"
    cfg.write_text("stt:\n  workers: 1\ndialog:\n  engine: [skills, home_assistant]\n"
                   "  home_assistant:\n    url: http://127.0.0.1:9\n")
    env = {k: v for k, v in os.environ.items() if k != "HA_TOKEN"}
    done = subprocess.run([sys.executable, "-m", "agent.cli", "gateway", "--config", str(cfg)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 78
    assert done.stderr.strip().splitlines() == [
        "gateway settings: dialog.home_assistant.token_file: home_assistant needs a "
        "long-lived access token: set token_file to a file holding it, or HA_TOKEN"]
