"""The unit refuses the ``@resources`` system calls (``SystemCallFilter=~@resources``,
``SystemCallErrorNumber=EPERM``): prove the daemon does a whole turn without them.

systemd is not PID 1 here, so the same filter is installed with libseccomp
(the library systemd uses) by tests/seccomp_launch.py, which then executes
``voice-agent run``; the call list is systemd's own (`systemd-analyze
syscall-filter @resources`). The turn: a wake word in the file, audio
streamed to the scripted gateway on 127.0.0.1, the reply decoded and
played, the hook fed, the metrics served.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from daemon_process import Daemon
from operate_support import client, config, env, scrape, value
from scripted_gateway import Reply, ScriptedGateway
from speech import compose, tone
from test_systemd import UNIT, read_unit

TESTS = Path(__file__).resolve().parents[1]

needs_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze not installed (Debian: systemd)",
)


def resources_calls() -> list[str]:
    done = subprocess.run(
        ["systemd-analyze", "syscall-filter", "@resources"],
        capture_output=True, text=True, timeout=60, check=True,
    )
    return [
        line.strip() for line in done.stdout.splitlines()[1:]
        if line.strip() and not line.strip().startswith(("#", "@"))
    ]


def test_the_unit_refuses_the_resources_calls() -> None:
    filters = read_unit(UNIT)["Service"]["SystemCallFilter"]
    denied = {name for f in filters if f.startswith("~") for name in f[1:].split()}
    assert "@resources" in denied
    assert read_unit(UNIT)["Service"]["SystemCallErrorNumber"] == ["EPERM"]


@needs_analyze
def test_a_whole_turn_works_with_the_resources_calls_refused(tmp_path: Path) -> None:
    calls = resources_calls()
    assert {"sched_setaffinity", "mbind", "setpriority"} <= set(calls)
    audio, _ = compose(
        tmp_path / "in.wav",
        [("pause", 1.0), ("say", "hey jarvis"), ("pause", 0.2), ("say", "what time is it"),
         ("pause", 30.0)],
    )
    hook_out = tmp_path / "hook.jsonl"
    with ScriptedGateway([Reply(audio=tone(0.5))]) as gw:
        cfg = config(
            tmp_path, gw.url, {"file": str(audio), "realtime": True},
            hooks={"command": ["tee", "-a", str(hook_out)], "events": ["playback_end"]},
        )
        launcher = [sys.executable, str(TESTS / "seccomp_launch.py"), *calls, "--"]
        daemon = Daemon(cfg, env(), prefix=launcher)
        try:
            end = daemon.wait_event("playback_end", timeout=90)
            assert end["interrupted"] is False
            with client(tmp_path / "ctl.sock") as c:
                status = c.send("status")
            samples = scrape(status["metrics"])
            assert value(samples, "voice_agent_turns_total", started="wake", ended="vad") == 1
            assert status["last_error"] is None
        finally:
            rc = daemon.stop()
        assert rc == 0
    assert gw.transactions and len(gw.transactions[0].audio) > 16000
    log = (tmp_path / "c.stderr").read_text()
    refused = re.search(r"seccomp: (\d+) calls refused", log)
    assert refused and int(refused.group(1)) >= len(calls) - 1  # one may be unknown here
    assert "Traceback" not in log and "affinity" not in log.lower()
