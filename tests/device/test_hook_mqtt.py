"""docs/hooks.md's MQTT example for real: ``mosquitto_pub -l`` as the hook of a
daemon process, a mosquitto broker started here on 127.0.0.1, ``mosquitto_sub``
receiving what was published (Debian: mosquitto, mosquitto-clients)."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

from daemon_process import Daemon, die_with_parent
from operate_support import client, config, env, wait_until
from scripted_gateway import ScriptedGateway
from speech import compose


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_events_are_published_to_mqtt_with_mosquitto_pub(tmp_path: Path) -> None:
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    broker = subprocess.Popen(
        ["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        preexec_fn=die_with_parent,
    )
    sub = None
    daemon = None
    try:
        def broker_up() -> bool:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            except OSError:
                return False
            return True

        wait_until(broker_up, 20, "the broker")
        got = tmp_path / "got.txt"
        sub = subprocess.Popen(
            ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-t", "voice-agent/events",
             "-C", "2"],
            stdout=got.open("w"), preexec_fn=die_with_parent,
        )
        audio, _ = compose(tmp_path / "in.wav", [("pause", 30.0)])
        with ScriptedGateway() as gw:
            # The documented example, pointed at this broker.
            hook = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port),
                    "-t", "voice-agent/events", "-l"]
            cfg = config(tmp_path, gw.url, {"file": str(audio)},
                         hooks={"command": hook, "events": ["mute"]})
            daemon = Daemon(cfg, env())
            daemon.wait_event("connected")
            with client(tmp_path / "ctl.sock") as c:
                def received() -> bool:
                    # The subscriber may come up after the first events: repeat, bounded.
                    if sub.poll() is None:
                        assert c.send("mute")["ok"] and c.send("unmute")["ok"]
                        return False
                    return True

                wait_until(received, 30, "mosquitto_sub to get two messages")
            assert daemon.stop() == 0
        messages = [json.loads(line) for line in got.read_text().splitlines()]
        assert [m["event"] for m in messages] == ["mute", "mute"]
        assert {m["muted"] for m in messages} == {True, False}
        assert all(isinstance(m["ts"], float) for m in messages)
    finally:
        if daemon is not None:
            daemon.stop()
        for proc in (sub, broker):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(10)
