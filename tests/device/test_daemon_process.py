"""``voice-agent run`` as a real process: signals, reload, sd_notify.

The daemon runs as a subprocess with a real config file, a file input paced in
real time, a file sink and ``log.format: json`` (events on stdout); the
gateway is a scripted WebSocket server on 127.0.0.1, and ``NOTIFY_SOCKET`` is a
real datagram socket.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from daemon_process import Daemon, Notifications, env_with, write_config
from scripted_gateway import Reply, ScriptedGateway
from speech import compose

from agent.link import protocol as p

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def notify(tmp_path: Path) -> Iterator[Notifications]:
    n = Notifications(tmp_path / "notify.sock")
    yield n
    n.close()


def test_sigterm_mid_turn_ends_it_and_closes_normally(
    tmp_path: Path, notify: Notifications
) -> None:
    audio, _ = compose(
        tmp_path / "in.wav",
        [
            ("pause", 1.0),
            ("say", "hey jarvis"),
            ("pause", 0.2),
            (
                "say",
                "please tell me a very long story about the sea and the ships on it "
                "and the people who sail them every day",
            ),
            ("pause", 2.0),
        ],
    )
    with ScriptedGateway([Reply(silent=True)]) as gw:
        cfg = write_config(tmp_path / "c.yaml", gw.url, audio, tmp_path / "o.wav")
        daemon = Daemon(cfg, env_with(notify, WATCHDOG_USEC="400000"))
        try:
            daemon.wait_event("audio_start")
            assert gw.wait_for(
                lambda: bool(gw.transactions) and len(gw.transactions[0].audio) >= 8 * 3200, 20
            )
            daemon.proc.send_signal(signal.SIGTERM)
            assert daemon.proc.wait(20) == 0
        finally:
            rc = daemon.stop()
        assert rc == 0
        assert gw.wait_for(lambda: bool(gw.close_codes), 10)
        t = gw.transactions[0]
        assert t.ended, "the gateway never saw audio_end"
        assert gw.close_codes == [1000]  # a normal close
    ends = [e for e in daemon.events if e["event"] == "audio_end"]
    assert ends and ends[0]["reason"] == "shutdown" and ends[0]["id"] == t.id
    lines = notify.lines()
    assert "READY=1" in lines
    assert any(line.startswith("STATUS=") for line in lines)
    assert "WATCHDOG=1" in lines  # WATCHDOG_USEC was set
    assert "STOPPING=1" in lines
    assert lines.index("READY=1") < lines.index("STOPPING=1")


def test_sighup_applies_a_good_config_and_rejects_a_bad_one(
    tmp_path: Path, notify: Notifications
) -> None:
    audio, _ = compose(tmp_path / "in.wav", [("pause", 1.0)])
    with ScriptedGateway() as gw:

        def loc(lat: float, lon: float) -> Any:
            return {"latitude": lat, "longitude": lon}

        def locations() -> list[tuple[float, float]]:
            return [(m.latitude, m.longitude) for m in gw.messages if isinstance(m, p.Location)]

        cfg = tmp_path / "c.yaml"
        write_config(cfg, gw.url, audio, tmp_path / "o.wav", location=loc(45.4, -123.0))
        daemon = Daemon(cfg, env_with(notify))
        try:
            daemon.wait_event("connected")
            assert gw.wait_for(lambda: locations() == [(45.4, -123.0)], 10)
            # A good config: the new location is sent at once.
            write_config(cfg, gw.url, audio, tmp_path / "o.wav", location=loc(51.5, -0.1))
            daemon.proc.send_signal(signal.SIGHUP)
            assert gw.wait_for(lambda: (51.5, -0.1) in locations(), 10)
            # A bad config: an error event naming the key; the old config stays.
            cfg.write_text(cfg.read_text().replace("latitude: 51.5", "latitude: 91"))
            daemon.proc.send_signal(signal.SIGHUP)
            err = daemon.wait_event("error", source="config")
            assert "location.latitude" in err["message"]
            assert daemon.proc.poll() is None  # still running
            write_config(cfg, gw.url, audio, tmp_path / "o.wav", location=loc(10.0, 20.0))
            daemon.proc.send_signal(signal.SIGHUP)
            assert gw.wait_for(lambda: (10.0, 20.0) in locations(), 10)
        finally:
            rc = daemon.stop()
        assert rc == 0
    assert "RELOADING=1" in notify.lines()


def test_a_storm_of_signals_neither_hangs_nor_kills_it(
    tmp_path: Path, notify: Notifications
) -> None:
    # Regression: the signal handlers post to the event queue. With a
    # queue.Queue, a handler that interrupted the main thread inside get()
    # (holding the queue's lock) deadlocked the daemon; seen once under load.
    # Many reloads in a burst make that window likely; the daemon must still
    # answer them and stop on SIGTERM.
    audio, _ = compose(tmp_path / "in.wav", [("pause", 1.0)])
    with ScriptedGateway() as gw:
        cfg = write_config(tmp_path / "c.yaml", gw.url, audio, tmp_path / "o.wav")
        daemon = Daemon(cfg, env_with(notify))
        try:
            daemon.wait_event("connected")
            for _ in range(300):  # bounded: 300 signals, a few seconds at most
                daemon.proc.send_signal(signal.SIGHUP)
                time.sleep(0.002)  # a burst, not one coalesced signal
            daemon.wait_event("reloaded")
            # Still serving: one more reload after the storm is answered too.
            before = sum(1 for e in daemon.events if e.get("event") == "reloaded")
            daemon.proc.send_signal(signal.SIGHUP)
            with daemon.cond:
                assert daemon.cond.wait_for(
                    lambda: sum(1 for e in daemon.events if e.get("event") == "reloaded")
                    > before,
                    30,
                )
        finally:
            rc = daemon.stop()
        assert rc == 0


def test_bad_config_exits_78_with_one_line(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("gateway:\n  url: ws://127.0.0.1:1\nwake:\n  threshold: high\n")
    done = subprocess.run(
        [sys.executable, "-m", "agent.cli", "run", "--config", str(cfg)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 78
    assert done.stderr.strip().count("\n") == 0
    assert "wake.threshold" in done.stderr and "Traceback" not in done.stderr


def test_a_part_that_cannot_start_gives_one_line_and_exit_1(tmp_path: Path) -> None:
    model = tmp_path / "custom.tflite"  # exists, so the config is valid; no .onnx beside it
    model.write_bytes(b"not a model")
    audio, _ = compose(tmp_path / "in.wav", [("pause", 0.5)])
    cfg = write_config(
        tmp_path / "c.yaml",
        "ws://127.0.0.1:9",
        audio,
        tmp_path / "o.wav",
        wake={"models": [str(model)]},
    )
    done = subprocess.run(
        [sys.executable, "-m", "agent.cli", "run", "--config", str(cfg)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "voice-agent: cannot start:" in done.stderr and "custom.tflite" in done.stderr
