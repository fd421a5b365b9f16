"""Rows 9a-9c: Wyoming speech servers behind the gateway, against the tests' stand-ins.

The reference gateway runs in this process (``serve_in_thread``) with
``stt.engine: wyoming`` and ``tts.engine: wyoming`` pointing at the stand-ins
of ``tests/standins/wyoming_standin.py`` (the ``wyoming`` library's own server
classes, on their own threads), which note the time just before they write
their first ``audio-chunk`` of a reply (TTS) and their ``transcript`` (ASR). A
plain protocol client (``websockets``, this process too) plays the device and
notes when the first reply ``audio_data`` and the ``stt_transcript`` arrive.
One clock (``time.time()``, the stand-ins' and the client's) on 127.0.0.1, so
the figures are the gateway's own cost: reading the event, soxr's conversion,
the pipeline, the reply sender, the WebSocket.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

from benchmarks.common import Row, percentile

CHUNK = 3200  # 100 ms audio_data
TARGET_MS = 20.0


def _gateway(tts_uri: str, asr_uri: str) -> Any:
    from agent.gateway.in_thread import serve_in_thread
    from agent.gateway.settings import GatewaySettings, SttSettings, TtsSettings
    from agent.gateway.wyoming_settings import WyomingSttSettings, WyomingTtsSettings

    return serve_in_thread(GatewaySettings(
        port=0, log_level="warning",
        stt=SttSettings(engine="wyoming", workers=1, wyoming=WyomingSttSettings(uri=asr_uri)),
        tts=TtsSettings(engine="wyoming", wyoming=WyomingTtsSettings(uri=tts_uri)),
    ), keep=500)


def _first_audio(ws: Any, text: str) -> float | None:
    """A typed turn; time.time() when its first reply audio_data arrived."""
    ws.send(json.dumps({"id": str(uuid.uuid4()), "action": "text", "text": text}))
    first = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        msg = json.loads(ws.recv(timeout=30))
        if msg.get("action") == "audio_data" and first is None:
            first = time.time()
        elif msg.get("action") in ("audio_end", "error"):
            break
    return first


def _transcript(ws: Any, pcm: bytes) -> float | None:
    """An utterance sent as fast as it goes; time.time() when stt_transcript arrived."""
    tid = str(uuid.uuid4())
    ws.send(json.dumps({"id": tid, "action": "audio_start"}))
    for i in range(0, len(pcm), CHUNK):
        data = base64.b64encode(pcm[i : i + CHUNK]).decode()
        ws.send(json.dumps({"id": tid, "action": "audio_data", "encoding": "base64",
                            "data": data}))
    ws.send(json.dumps({"id": tid, "action": "audio_end"}))
    arrived = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        msg = json.loads(ws.recv(timeout=30))
        if msg.get("action") == "stt_transcript" and arrived is None:
            arrived = time.time()
        elif msg.get("action") in ("audio_end", "error"):
            break
    return arrived


def _stats(values: list[float]) -> str:
    if not values:
        return "no samples"
    return (f"p95 {percentile(values, 95):.1f} ms (median {percentile(values, 50):.1f}, "
            f"max {max(values):.1f}; n={len(values)})")


def wyoming_rows(quick: bool) -> list[Row]:
    """Rows 9a-9c (see the module docs)."""
    from standins.wyoming_standin import WyomingStandIn
    from websockets.sync.client import connect

    turns = 5 if quick else 50
    pcm = (b"\x10\x00\xf0\xff" * 12000)[: 16000 * 2 * 3 // 2]  # 1.5 s
    tts_ms: dict[bool, list[float]] = {}
    asr_ms: list[float] = []
    for streaming in (False, True):
        with WyomingStandIn("asr") as asr, WyomingStandIn("tts", streaming=streaming) as tts:
            gateway = _gateway(tts.uri, asr.uri)
            try:
                values = tts_ms.setdefault(streaming, [])
                with connect(gateway.url, open_timeout=30) as ws:
                    _first_audio(ws, "what time is it")  # describe, warm the skills
                    for _ in range(turns):
                        before = len(tts.conns)
                        arrived = _first_audio(ws, "what time is it")
                        sent = [c.first_audio_at for c in tts.conns[before:]
                                if c.first_audio_at is not None]
                        if arrived is not None and sent:
                            values.append(1000 * (arrived - min(sent)))
                    if not streaming:
                        for _ in range(turns):
                            before = len(asr.conns)
                            arrived = _transcript(ws, pcm)
                            said = [c.transcript_at for c in asr.conns[before:]
                                    if c.transcript_at is not None]
                            if arrived is not None and said:
                                asr_ms.append(1000 * (arrived - said[-1]))
            finally:
                gateway.stop()
    rows = []
    for key, streaming in (("9a", False), ("9b", True)):
        values = tts_ms[streaming]
        how = "synthesize-start/chunk/stop" if streaming else "one synthesize per sentence"
        rows.append(Row(key, f"Wyoming TTS ({how}): server's first audio-chunk -> device's "
                        "first reply audio_data", _stats(values),
                        "stand-in on 127.0.0.1, 22,050 Hz -> 16 kHz (soxr)",
                        f"<= {TARGET_MS:.0f} ms (p95)",
                        bool(values) and percentile(values, 95) <= TARGET_MS))
    rows.append(Row("9c", "Wyoming ASR: server's transcript -> device's stt_transcript",
                    _stats(asr_ms), "stand-in on 127.0.0.1", f"<= {TARGET_MS:.0f} ms (p95)",
                    bool(asr_ms) and percentile(asr_ms, 95) <= TARGET_MS))
    return rows
