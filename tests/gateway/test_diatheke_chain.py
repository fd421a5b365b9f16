"""The whole chain: a real device process <-> the reference gateway <-> the stand-in Diatheke.

``voice-agent run`` runs as a subprocess (a WAV file paced in real time as its
microphone, a WAV file as its speaker, JSON events on stdout); the gateway
runs in this process with ``dialog.engine: diatheke``; the stand-in serves
API 2 or API 1 over loopback gRPC. The follow-up turn is opened by
``prompt: true`` with no second wake word. Also ``speech: gateway``: the
gateway's own speech to text transcribes and Diatheke gets text.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from daemon_process import Daemon
from diatheke_standin import ASK, CONFIRM, StandIn
from gateway_support import open_client, spoken, utterance
from speech import compose

from agent.gateway.dialog_settings import DialogSettings, DiathekeSettings
from agent.gateway.in_thread import serve_in_thread
from agent.gateway.settings import GatewaySettings, SttSettings

ROOT = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("NOTIFY_SOCKET", None)
    return env


@pytest.mark.parametrize("api", [2, 1])
def test_device_gateway_diatheke_timer_dialog(tmp_path: Path, api: int) -> None:
    audio, _ = compose(tmp_path / "in.wav", [
        ("pause", 1.0), ("say", "hey jarvis"), ("pause", 0.2), ("say", "set a timer"),
        ("pause", 3.0), ("say", "five minutes"), ("pause", 4.0),
    ])
    out = tmp_path / "out.wav"
    with StandIn(api=api, tts_rate=8000 if api == 2 else 16000) as si:
        d = DiathekeSettings(address=si.address, api=api, timeout_s=5.0)  # type: ignore[arg-type]
        settings = GatewaySettings(port=0, stt=SttSettings(workers=1),
                                   dialog=DialogSettings(engine="diatheke", diatheke=d))
        with serve_in_thread(settings) as gw:
            cfg = tmp_path / "agent.yaml"
            cfg.write_text(yaml.safe_dump({
                "gateway": {"url": gw.url},
                "audio": {"input": {"file": str(audio), "realtime": True},
                          "output": {"file": str(out), "realtime": True}},
                "wake": {"models": ["hey_jarvis"]},
                "sounds": {"wake": None, "done": None, "error": None},
                "log": {"format": "json"},
            }))
            device = Daemon(cfg, _env())
            try:
                device.wait_count("playback_end", 2, timeout=90)
            finally:
                rc = device.stop()
            assert rc == 0
            assert si.wait_for(lambda log: log.deleted == log.created and bool(log.created))
    transcripts = [e["text"] for e in device.of("transcript")]
    assert transcripts == ["set a timer", "five minutes"]
    assert [e["reason"] for e in device.of("listening")] == ["wake", "followup"]
    assert len(device.of("wake")) == 1  # the second turn needed no wake word
    texts = [e["text"] for e in device.of("text")]
    assert texts == [ASK, CONFIRM]
    assert [e["interrupted"] for e in device.of("playback_end")] == [False, False]
    assert len(si.log.command_results) == 1  # the set_timer command was answered
    assert out.stat().st_size > 44 + 2 * 16000  # both replies were played (0.6 s each)


def test_speech_gateway_transcribes_and_sends_text(tmp_path: Path) -> None:
    with StandIn(api=2) as si:
        d = DiathekeSettings(address=si.address, api=2, timeout_s=5.0, speech="gateway")
        settings = GatewaySettings(port=0, stt=SttSettings(workers=1),
                                   dialog=DialogSettings(engine="diatheke", diatheke=d))
        with serve_in_thread(settings) as gw, open_client(gw.url) as ws:
            turn = utterance(ws, spoken("set a timer"))
    heard = turn.transcript.transcript
    assert heard  # pocketsphinx's general model heard something
    assert si.log.texts == [heard]  # ... and that text, not audio, went to Diatheke
    assert "StreamASR" not in si.log.calls and si.log.audio_bytes == []
