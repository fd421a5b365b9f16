"""Operating the device, end to end: the hook command, the control socket, the metrics.

Each test runs ``voice-agent run`` as a real process (JSON events on stdout)
against the scripted WebSocket gateway on 127.0.0.1, with file or paced
command audio and a file sink. Requests go over the real Unix socket (raw,
and through ``voice-agent ctl``), scrapes over real HTTP on 127.0.0.1.
Nothing is mocked.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import sys
import wave
from pathlib import Path
from typing import Any

import numpy as np
from daemon_process import Daemon
from operate_support import client, config, ctl, env, events_after, scrape, value, wait_until
from scripted_gateway import Reply, ScriptedGateway
from speech import compose, tone

TESTS = Path(__file__).resolve().parents[1]

RECORDER = """
import sys
with open(sys.argv[1], "a", encoding="utf-8") as out:
    for line in sys.stdin:
        out.write(line)
        out.flush()
"""

CRASHER = """
import os, sys
line = sys.stdin.readline()
with open(sys.argv[1], "a", encoding="utf-8") as out:
    out.write(f"{os.getpid()} {line}")
sys.exit(3)
"""


def script(tmp: Path, name: str, body: str) -> list[str]:
    path = tmp / name
    path.write_text(body)
    return [sys.executable, str(path)]


def without_ts(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "ts"} for r in records]


def gid_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Gid:"):
            return int(line.split()[2])  # the effective gid
    raise AssertionError("no Gid line")


def test_a_turn_reaches_the_hook_in_order_and_counts_in_the_metrics_and_ctl_works(
    tmp_path: Path,
) -> None:
    audio, _ = compose(
        tmp_path / "in.wav",
        [("pause", 1.0), ("say", "hey jarvis"), ("pause", 0.2), ("say", "what time is it"),
         ("pause", 60.0)],
    )
    hook_out = tmp_path / "hook.jsonl"
    first, second = tone(0.5), tone(4.0)
    replies = [Reply(audio=first), Reply(audio=second, endpoint_after_s=0.5)]
    with ScriptedGateway(replies) as gw:
        cfg = config(
            tmp_path, gw.url, {"file": str(audio), "realtime": True},
            hooks={"command": [*script(tmp_path, "rec.py", RECORDER), str(hook_out)]},
        )
        daemon = Daemon(cfg, env())
        sock = tmp_path / "ctl.sock"
        try:
            daemon.wait_event("connected")
            with client(sock) as c:
                status = c.send("status")
            assert status["ok"] and status["connected"] is True and status["muted"] is False
            assert status["volume"] == 100 and status["last_error"] is None
            url = status["metrics"]
            assert url.startswith("http://127.0.0.1:") and url.endswith("/metrics")
            print("ctl status (start):", json.dumps(status))

            # The socket: mode 0660, the daemon's own group (the service's, under systemd).
            st = os.stat(sock)
            assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660
            assert st.st_gid == gid_of(daemon.proc.pid)

            # --- turn 1: the wake word in the file
            end1 = daemon.wait_event("playback_end", timeout=60)
            assert end1["interrupted"] is False
            daemon.wait_count("state", 1, to="idle", **{"from": "speaking"})
            after1 = scrape(url)
            assert value(after1, "voice_agent_turns_total", started="wake", ended="vad") == 1
            assert value(after1, "voice_agent_wake_detections_total", model="hey_jarvis") == 1
            assert value(after1, "voice_agent_wake_score_count", model="hey_jarvis") == 1
            assert value(after1, "voice_agent_wake_score_bucket", model="hey_jarvis",
                         le="0.4") == 0  # a detection scores above the 0.5 threshold
            assert value(after1, "voice_agent_wake_to_first_audio_seconds_count") == 1
            assert value(after1, "voice_agent_speech_end_to_reply_audio_seconds_count") == 1
            assert value(after1, "voice_agent_gateway_connected") == 1
            assert value(after1, "voice_agent_state", voice_agent_state="idle") == 1
            assert value(after1, "process_resident_memory_bytes") > 10e6
            assert value(after1, "process_cpu_seconds_total") > 0
            assert value(after1, "voice_agent_wake_frames_total", inference="run") > 0

            # The hook got the same records as the event log, in the same order.
            wait_until(lambda: '"playback_end"' in hook_out.read_text(), what="the hook")
            hooked = [json.loads(line) for line in hook_out.read_text().splitlines()]
            upto = next(i for i, e in enumerate(daemon.events) if e is end1) + 1
            assert without_ts(hooked[:upto]) == without_ts(daemon.events[:upto])
            names = [e["event"] for e in hooked[:upto]]
            order = ["wake", "listening", "audio_start", "audio_end", "playback_start",
                     "playback_end"]
            assert [n for n in names if n in order] == order, names

            # --- turn 2: volume 50, `ctl listen`, `ctl stop` while it speaks
            rc, reply = ctl(sock, "volume", "50")
            assert rc == 0 and reply == {"ok": True, "volume": 50}
            seen = len(daemon.events)
            rc, reply = ctl(sock, "listen")
            assert rc == 0 and reply["ok"] and reply["started"] is True
            assert reply["state"] == "listening"
            daemon.wait_event("listening", reason="control")
            daemon.wait_count("playback_start", 2, timeout=60)
            rc, reply = ctl(sock, "stop")
            assert rc == 0 and reply == {"ok": True, "stopped": ["playback"]}
            ends = daemon.wait_count("playback_end", 2)
            assert ends[1]["interrupted"] is True
            later = events_after(daemon, seen)
            assert [e["to"] for e in later if e["event"] == "state"][-1] == "idle"
            rc, reply = ctl(sock, "stop")  # nothing sounds now
            assert rc == 0 and reply == {"ok": True, "stopped": []}
            after2 = scrape(url)
            assert value(after2, "voice_agent_turns_total", started="control",
                         ended="gateway") == 1
            assert value(after2, "voice_agent_control_requests_total", command="listen",
                         result="ok") == 1
            # No wake word this time: the wake latency was not observed again.
            assert value(after2, "voice_agent_wake_to_first_audio_seconds_count") == 1
            # ... and audio_start named the wake word of the first turn only.
            assert [t.options for t in gw.transactions[:2]] == [{"wake_word": "hey_jarvis"},
                                                                None]

            # --- bad requests: a clear error each, on the same connection, which stays up
            with client(sock) as c:
                assert "not JSON" in c.raw(b"hello")["error"]
                bad = c.raw(b'{"command": "sing"}')
                assert bad["ok"] is False and "unknown command" in bad["error"]
                assert "listen, stop, mute" in bad["error"]
                assert "0 to 100" in c.send("volume", 150)["error"]
                assert "takes no value" in c.raw(b'{"command": "mute", "value": 1}')["error"]
                assert c.send("status")["ok"] is True
            rc, reply = ctl(sock, "status")
            assert rc == 0 and reply["volume"] == 50 and reply["state"] == "idle"
            assert reply["hook"]["command"] == os.path.basename(sys.executable)
            assert reply["hook"]["pid"] > 0 and reply["hook"]["restarts"] == 0
            print("ctl status (end):", json.dumps(reply, indent=2))
            final = scrape(url)
            assert value(final, "voice_agent_control_requests_total", command="invalid",
                         result="error") == 4
            print("metrics scrape:\n" + "\n".join(
                f"{name}{dict(labels) or ''} {v}" for (name, labels), v in sorted(final.items())
                if name.startswith("voice_agent_") or name.startswith("process_")
            ))
        finally:
            rc = daemon.stop()
        assert rc == 0
    assert not sock.exists(), "the socket file is removed on exit"

    # The reply audio: the first at full volume, the second (stopped early) at half.
    with wave.open(str(tmp_path / "out.wav")) as w:
        played = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    n = len(first)
    assert len(played) < n + len(second), "the second reply was stopped early"
    peak1 = np.abs(played[:n]).max()
    peak2 = np.abs(played[n:]).max()
    assert abs(peak1 - np.abs(first).max()) <= 2
    assert 0.45 <= peak2 / peak1 <= 0.55


def test_mute_stops_waking_and_streaming_and_survives_a_reload(tmp_path: Path) -> None:
    phrase, _ = compose(
        tmp_path / "phrase.wav",
        [("pause", 0.3), ("say", "hey jarvis"), ("pause", 0.2), ("say", "what time is it"),
         ("pause", 1.5)],
    )
    pacer = [sys.executable, str(TESTS / "pacer.py"), str(phrase), str(tmp_path)]
    command = " ".join(pacer)
    sock = tmp_path / "ctl.sock"

    def say_and_wait(n: int) -> None:
        """The pacer speaks the phrase; wait until the daemon has heard past its end."""
        (tmp_path / f"go-{n}").touch()
        spoken = tmp_path / f"spoken-{n}"
        wait_until(spoken.exists, 60, f"the pacer's phrase {n}")
        end = int(spoken.read_text()) + 16000
        wait_until(lambda: c.send("status")["audio_position"] >= end, 60, "the daemon to hear it")

    with ScriptedGateway([Reply(audio=tone(0.3))]) as gw:
        cfg = config(tmp_path, gw.url, {"command": command})
        daemon = Daemon(cfg, env())
        try:
            daemon.wait_event("connected")
            with client(sock) as c:
                assert c.send("mute") == {"ok": True, "muted": True, "changed": True}
                assert daemon.wait_event("mute")["muted"] is True
                assert c.send("mute")["changed"] is False
                url = c.send("status")["metrics"]
                say_and_wait(1)
                refused = c.send("listen")
                assert refused["ok"] is False and "muted" in refused["error"]
                # Reloaded, still muted.
                daemon.proc.send_signal(signal.SIGHUP)
                daemon.wait_event("reloaded")
                assert c.send("status")["muted"] is True
                say_and_wait(2)
                names = [e["event"] for e in daemon.events]
                assert "wake" not in names and "audio_start" not in names
                assert gw.transactions == [], "nothing was streamed while muted"
                samples = scrape(url)
                assert value(samples, "voice_agent_muted") == 1
                assert value(samples, "voice_agent_wake_detections_total",
                             model="hey_jarvis") == 0
                # Unmuted, the same phrase wakes it and streams: the test can fail.
                assert c.send("unmute") == {"ok": True, "muted": False, "changed": True}
                say_and_wait(3)
                daemon.wait_event("wake")
                assert gw.wait_for(lambda: bool(gw.transactions) and gw.transactions[0].ended)
                assert len(gw.transactions[0].audio) > 16000
        finally:
            rc = daemon.stop()
        assert rc == 0


def test_a_stuck_hook_never_delays_a_turn_and_its_drops_are_counted(tmp_path: Path) -> None:
    audio, _ = compose(tmp_path / "in.wav", [("pause", 60.0)])
    sock = tmp_path / "ctl.sock"
    with ScriptedGateway([Reply(audio=tone(0.5), endpoint_after_s=0.5)]) as gw:
        # sleep never reads its stdin: its pipe fills, then the queue.
        cfg = config(tmp_path, gw.url, {"file": str(audio)}, hooks={"command": ["sleep", "600"]})
        daemon = Daemon(cfg, env())
        try:
            daemon.wait_event("connected")
            with client(sock) as c:
                for _ in range(300):  # 600 mute events: more than the pipe and queue hold
                    assert c.send("mute")["ok"] and c.send("unmute")["ok"]
                before = c.send("status")["hook"]
                assert before["dropped"] > 0 and before["pid"] is not None
                assert c.send("listen")["started"] is True
                daemon.wait_event("playback_end", timeout=60)
                daemon.wait_count("state", 1, to="idle", **{"from": "speaking"})
                after = c.send("status")
                assert after["hook"]["dropped"] > before["dropped"], "the turn's events dropped"
                samples = scrape(after["metrics"])
                assert value(samples, "voice_agent_hook_dropped_events_total") >= before[
                    "dropped"]
                assert value(samples, "voice_agent_turns_total", started="control",
                             ended="gateway") == 1
        finally:
            rc = daemon.stop()
        assert rc == 0
    log = (tmp_path / "c.stderr").read_text()
    assert "hook sleep is not keeping up" in log


def test_a_crashing_hook_is_started_again(tmp_path: Path) -> None:
    audio, _ = compose(tmp_path / "in.wav", [("pause", 60.0)])
    sock = tmp_path / "ctl.sock"
    out = tmp_path / "crash.log"
    with ScriptedGateway() as gw:
        cfg = config(
            tmp_path, gw.url, {"file": str(audio)},
            hooks={"command": [*script(tmp_path, "crash.py", CRASHER), str(out)],
                   "events": ["mute"]},
        )
        daemon = Daemon(cfg, env())
        try:
            daemon.wait_event("connected")
            with client(sock) as c:

                def three_lives() -> bool:
                    c.send("mute")
                    c.send("unmute")
                    pids = {line.split()[0] for line in out.read_text().splitlines()} if (
                        out.exists()) else set()
                    return len(pids) >= 3

                wait_until(three_lives, 60, "three runs of the hook")
                lines = out.read_text().splitlines()
                assert all(json.loads(line.split(" ", 1)[1])["event"] == "mute" for line in lines)
                status = c.send("status")
                assert status["hook"]["restarts"] >= 2
                assert value(scrape(status["metrics"]), "voice_agent_hook_restarts_total") >= 2
        finally:
            rc = daemon.stop()
        assert rc == 0
    assert "exited with status 3" in (tmp_path / "c.stderr").read_text()
