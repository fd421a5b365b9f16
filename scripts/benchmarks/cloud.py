"""Rows 7a-7e: the cloud speech engines behind the gateway, against the tests' stand-ins.

The reference gateway runs in this process (``serve_in_thread``) with both
cloud engines configured, pointing at the stand-ins (``tests/standins``),
which run on their own threads and note ``time.monotonic()`` when they send a
final transcript and when each audio frame arrives. A plain protocol client
(``websockets``, this process too) plays the device and notes when it sends
each ``audio_data`` and when its ``stt_transcript`` arrives. One clock
(CLOCK_MONOTONIC) for all of them; all on 127.0.0.1, so the figures are the
gateway's own cost, not a network's.
"""

from __future__ import annotations

import base64
import json
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from benchmarks.common import Row, percentile

CHUNK = 3200  # the device's default chunk_ms: 100 ms
FRAME_MS = 50.0  # v3's frame: the "one frame" of the target


def _gateway(v3: Any, aiola: Any, keys: Path) -> Any:
    from agent.gateway.in_thread import serve_in_thread
    from agent.gateway.settings import GatewaySettings, SttSettings
    from agent.gateway.stt.config import AiolaSettings, AssemblyAISettings

    (keys / "v3.key").write_text(v3.api_key)
    (keys / "aiola.key").write_text(aiola.api_key)
    return serve_in_thread(GatewaySettings(port=0, log_level="warning", stt=SttSettings(
        workers=1,
        assemblyai=AssemblyAISettings(url=v3.url, api_key_file=str(keys / "v3.key")),
        aiola=AiolaSettings(base_url=aiola.url, auth_url=aiola.url,
                            api_key_file=str(keys / "aiola.key")),
    )), keep=500)


def _turn(ws: Any, engine: str, pcm: bytes) -> tuple[list[tuple[float, int]], float | None, str]:
    """One utterance: (send times with bytes so far), stt_transcript arrival, its kind."""
    tid = str(uuid.uuid4())
    options = {"stt": {"engine": engine}}
    ws.send(json.dumps({"id": tid, "action": "audio_start", "options": options}))
    sends: list[tuple[float, int]] = []
    for i in range(0, len(pcm), CHUNK):
        data = base64.b64encode(pcm[i : i + CHUNK]).decode()
        msg = json.dumps({"id": tid, "action": "audio_data", "encoding": "base64", "data": data})
        sends.append((time.monotonic(), min(len(pcm), i + CHUNK)))
        ws.send(msg)
    arrived: float | None = None
    kind = "none"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        msg = json.loads(ws.recv(timeout=30))
        if msg.get("action") == "stt_transcript" and arrived is None:
            arrived, kind = time.monotonic(), "transcript"
            ws.send(json.dumps({"id": tid, "action": "audio_end"}))
        elif msg.get("action") == "error":
            kind = "error"
            ws.send(json.dumps({"id": tid, "action": "audio_end"}))
            break
        elif msg.get("action") == "audio_end":
            break
    return sends, arrived, kind


def _forward_delays(sends: list[tuple[float, int]], got: list[tuple[float, int]]) -> list[float]:
    """ms from sending each chunk to the engine holding all of its bytes."""
    out = []
    for sent_at, upto in sends:
        at = next((t for t, total in got if total >= upto), None)
        if at is not None:
            out.append(1000 * (at - sent_at))
    return out


def _stats(values: list[float]) -> str:
    if not values:
        return "no samples"
    return (f"p95 {percentile(values, 95):.1f} ms (median {percentile(values, 50):.1f}, "
            f"max {max(values):.1f}; n={len(values)})")


def cloud_rows(quick: bool) -> list[Row]:
    """Rows 7a-7e (see the module docs)."""
    from standins.aiola_standin import AiolaStandIn
    from standins.aiola_standin import Script as AiolaScript
    from standins.v3_standin import Script as V3Script
    from standins.v3_standin import V3StandIn
    from websockets.sync.client import connect

    turns = 10 if quick else 100
    faults = 2 if quick else 10
    pcm = (b"\x10\x00\xf0\xff" * 12000)[: 16000 * 2 * 3 // 2]  # 1.5 s; the turn ends at 0.6 s
    results: dict[str, dict[str, list[float]]] = {}
    leaks: dict[str, tuple[int, int, int]] = {}
    with tempfile.TemporaryDirectory() as tmp, V3StandIn() as v3, AiolaStandIn() as aiola:
        gateway = _gateway(v3, aiola, Path(tmp))
        try:
            for engine, standin, script, fault_cycle in (
                ("assemblyai", v3, V3Script, ["close:3005", "error", "drop", "close:3009", "401"]),
                ("aiola", aiola, AiolaScript, ["error", "disconnect", "refuse"]),
            ):
                every = max(1, turns // faults)
                plan = [script(fault=fault_cycle[(n // every) % len(fault_cycle)],
                               fault_after_ms=200)
                        if n % every == every - 1 else script() for n in range(turns)]
                standin.next(*plan)
                finals, forwards, errors = [], [], 0
                with connect(gateway.url, open_timeout=30) as ws:
                    for _ in range(turns):
                        before = len(getattr(standin, "sessions", None) or
                                     getattr(standin, "connections", []))
                        sends, arrived, kind = _turn(ws, engine, pcm)
                        errors += kind == "error"
                        records = (getattr(standin, "sessions", None) or
                                   getattr(standin, "connections", []))
                        new = records[before:] if len(records) > before else []
                        if kind != "transcript" or not new:
                            continue
                        rec = new[-1]
                        sent_at = getattr(rec, "final_sent_at", None) or getattr(
                            rec, "transcript_sent_at", None)
                        if arrived is not None and sent_at is not None:
                            finals.append(1000 * (arrived - sent_at))
                        got = getattr(rec, "frame_times", None) or rec.chunk_times
                        end = next((i for i, (_, total) in enumerate(sends)
                                    if total >= 0.6 * 32000), len(sends))
                        forwards += _forward_delays(sends[: end + 1], got)
                deadline = time.monotonic() + 15
                while time.monotonic() < deadline and (
                    getattr(standin, "open_sessions", None) or getattr(standin,
                                                                       "open_connections", 0)
                ):
                    time.sleep(0.05)
                left = getattr(standin, "open_sessions", None)
                if left is None:
                    left = standin.open_connections
                results[engine] = {"final": finals, "forward": forwards}
                leaks[engine] = (left, errors, turns)
        finally:
            gateway.stop()
    rows = []
    for key, engine in (("7a", "assemblyai"), ("7b", "aiola")):
        values = results[engine]["final"]
        rows.append(Row(key, f"{engine}: engine's final transcript -> device's stt_transcript",
                        _stats(values), "stand-in on 127.0.0.1", "<= 20 ms (p95)",
                        bool(values) and percentile(values, 95) <= 20.0))
    for key, engine in (("7c", "assemblyai"), ("7d", "aiola")):
        values = results[engine]["forward"]
        rows.append(Row(key, f"{engine}: device's audio_data -> the engine has its bytes",
                        _stats(values), "100 ms audio_data chunks",
                        f"<= one frame, {FRAME_MS:.0f} ms (p95)",
                        bool(values) and percentile(values, 95) <= FRAME_MS))
    left = sum(v[0] for v in leaks.values())
    detail = "; ".join(f"{e}: {v[0]} open, {v[1]} device errors in {v[2]} transactions"
                       for e, v in leaks.items())
    rows.append(Row("7e", "sessions left open after the transactions, faults injected",
                    f"{left} ({detail})", f"{faults} faults per engine", "0", left == 0))
    return rows
