#!/usr/bin/env python3
"""Prove that each cloud speech engine loads and answers through the gateway.

One transaction per engine (assemblyai, aiola) through a real gateway
(``agent.gateway.in_thread.serve_in_thread``) against the tests' stand-ins
(``tests/standins``) on 127.0.0.1: the transcript must be the stand-in's,
and no session may be left open. Run with the installed venv's Python, e.g.
inside scripts/pi-check.sh's arm64 root:

    /opt/voice-agent/bin/python scripts/engine-check.py

One line per engine; exit status 0 when both answered, 1 otherwise.
"""

from __future__ import annotations

import base64
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def turn(url: str, engine: str, timeout: float = 60.0) -> str:
    """One utterance (1 s of near-silence) on ``engine``; the stt_transcript's text."""
    from websockets.sync.client import connect

    tid = f"engine-check-{engine}"
    pcm = (b"\x01\x00\xff\xff" * 8000)[:32000]
    with connect(url, open_timeout=30) as ws:
        ws.send(json.dumps({"id": tid, "action": "audio_start",
                            "options": {"stt": {"engine": engine}}}))
        for i in range(0, len(pcm), 3200):
            data = base64.b64encode(pcm[i : i + 3200]).decode()
            ws.send(json.dumps({"id": tid, "action": "audio_data", "encoding": "base64",
                                "data": data}))
        ws.send(json.dumps({"id": tid, "action": "audio_end"}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = json.loads(ws.recv(timeout=deadline - time.monotonic()))
            if msg.get("action") == "stt_transcript":
                return str(msg.get("transcript"))
            if msg.get("action") == "error":
                return f"<error: {msg.get('error')}>"
    return "<no transcript>"


def main() -> int:
    sys.path.insert(0, str(REPO / "tests"))
    from standins.aiola_standin import TEXT as AIOLA_TEXT
    from standins.aiola_standin import AiolaStandIn
    from standins.v3_standin import TEXT as V3_TEXT
    from standins.v3_standin import V3StandIn

    from agent.gateway.in_thread import serve_in_thread
    from agent.gateway.settings import GatewaySettings, SttSettings
    from agent.gateway.stt.config import AiolaSettings, AssemblyAISettings

    ok = True
    with tempfile.TemporaryDirectory() as tmp, V3StandIn() as v3, AiolaStandIn() as aiola:
        keys = Path(tmp)
        (keys / "v3.key").write_text(v3.api_key)
        (keys / "aiola.key").write_text(aiola.api_key)
        settings = GatewaySettings(port=0, log_level="warning", stt=SttSettings(
            workers=1,
            assemblyai=AssemblyAISettings(url=v3.url, api_key_file=str(keys / "v3.key")),
            aiola=AiolaSettings(base_url=aiola.url, auth_url=aiola.url,
                                api_key_file=str(keys / "aiola.key")),
        ))
        with serve_in_thread(settings) as gateway:
            for engine, expected, standin in (("assemblyai", V3_TEXT, v3),
                                              ("aiola", AIOLA_TEXT, aiola)):
                t0 = time.monotonic()
                got = turn(gateway.url, engine)
                left_open = 0
                for _ in range(100):  # up to 10 s for the session to end
                    left_open = getattr(standin, "open_sessions", None) or getattr(
                        standin, "open_connections", 0)
                    if not left_open:
                        break
                    time.sleep(0.1)
                passed = got == expected and not left_open
                ok &= passed
                print(f"engine-check: {engine}: {'OK' if passed else 'FAIL'} {got!r} "
                      f"({1000 * (time.monotonic() - t0):.0f} ms, sessions left open: "
                      f"{left_open})", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
