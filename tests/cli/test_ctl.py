"""``voice-agent ctl``: its exit statuses and messages, against a real ControlServer
on a real socket (answered inline here instead of by a daemon's conversation)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from agent.device.control import Request
from agent.device.control_server import ControlServer

ROOT = Path(__file__).resolve().parents[2]


def ctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", "ctl", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )


def test_no_daemon_is_exit_2_with_one_line(tmp_path: Path) -> None:
    done = ctl("status", "--socket", str(tmp_path / "none.sock"))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip() == (
        f"voice-agent ctl: {tmp_path / 'none.sock'}: No such file or directory "
        "(is voice-agent running?)"
    )


def test_replies_are_printed_and_a_refusal_is_exit_1(tmp_path: Path) -> None:
    seen: list[Request] = []

    def post(req: Request, reply: Any) -> None:
        seen.append(req)
        reply({"ok": req.command != "listen", "error": "the microphone is muted"}
              if req.command == "listen" else {"ok": True, "volume": int(req.value or 0)})

    path = tmp_path / "ctl.sock"
    server = ControlServer(str(path), post)
    server.start()
    try:
        done = ctl("volume", "35", "--socket", str(path))
        assert done.returncode == 0 and json.loads(done.stdout) == {"ok": True, "volume": 35}
        done = ctl("listen", "--socket", str(path))
        assert done.returncode == 1
        assert json.loads(done.stdout) == {"ok": False, "error": "the microphone is muted"}
        done = ctl("volume", "--socket", str(path))
        assert done.returncode == 2 and "volume needs a value" in done.stderr
        # A second server on a live socket is refused; the first keeps it.
        try:
            ControlServer(str(path), post)
        except OSError as exc:
            assert "another voice-agent is serving it" in str(exc)
        else:
            raise AssertionError("a live socket was taken over")
    finally:
        server.close()
    assert [(r.command, r.value) for r in seen] == [("volume", 35.0), ("listen", None)]
    assert not path.exists()
    # A stale socket file (its server gone without cleaning up) is replaced.
    import socket

    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()
    server = ControlServer(str(path), post)
    server.close()


def test_a_volume_out_of_range_is_quoted_as_typed(tmp_path: Path) -> None:
    seen: list[Request] = []
    path = tmp_path / "ctl.sock"
    server = ControlServer(str(path), lambda req, reply: (seen.append(req), reply({"ok": True})))
    server.start()
    try:
        done = ctl("volume", "150", "--socket", str(path))
    finally:
        server.close()
    assert done.returncode == 1 and seen == []  # refused by the server's parser
    assert json.loads(done.stdout) == {
        "ok": False, "error": "volume: expected a value from 0 to 100 (percent), got 150"
    }
