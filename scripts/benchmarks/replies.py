"""6a-6e: the reference gateway's paced replies, seen from a client on 127.0.0.1.

A gateway of its own (default reply settings: ``form: auto``, ``pace: 1.5``;
one speech-to-text worker, since only typed input is used), and clients
without this project's ``User-Agent`` (so the Node Buffer form, as IBM's
client gets it). Every time is the client's ``time.monotonic()`` when it
received a frame.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

from websockets.sync.client import connect

from agent.gateway.in_thread import RunningGateway, serve_in_thread
from agent.gateway.settings import GatewaySettings, SttSettings
from benchmarks.common import Row, percentile

RATE = 16000
PROMPTS = ["do you have a pool", "what can you do", "set a timer", "say the kitchen is clean"]


def _frames(ws: Any, until: str = "audio_end") -> list[tuple[float, dict[str, Any]]]:
    out = []
    while True:
        frame = json.loads(ws.recv(timeout=60))
        out.append((time.monotonic(), frame))
        if frame["action"] == until:
            return out


def _reply(url: str, text: str) -> tuple[float, float, float]:
    """One typed turn: (audio seconds, audio_start -> first chunk s, first chunk -> audio_end s)."""
    with connect(url, open_timeout=30) as ws:
        ws.send(json.dumps({"id": str(uuid.uuid4()), "action": "text", "text": text}))
        frames = _frames(ws)
    start = next(t for t, f in frames if f["action"] == "audio_start")
    data = [(t, f) for t, f in frames if f["action"] == "audio_data"]
    audio = sum(len(f["data"]["data"]) for _, f in data) / 2 / RATE
    return audio, data[0][0] - start, frames[-1][0] - data[0][0]


def _hurried(url: str) -> float:
    """audio_start sent after the first reply chunk -> that reply's audio_end received (s)."""
    with connect(url, open_timeout=30) as ws:
        ws.send(json.dumps({"id": str(uuid.uuid4()), "action": "text", "text": PROMPTS[0]}))
        _frames(ws, until="audio_data")
        sent = time.monotonic()
        ws.send(json.dumps({"id": str(uuid.uuid4()), "action": "audio_start"}))
        return _frames(ws)[-1][0] - sent


def _ratio(audio_s: float, span_s: float, pace: float) -> float:
    """The measured span against the schedule's: audio_end at the reply's length / pace,
    but (the Node form) never more than LEGACY_LEAD_S before the reply would end."""
    from agent.gateway.reply import LEGACY_LEAD_S, due

    return span_s / due(round(audio_s * RATE), pace, LEGACY_LEAD_S)


LONG_TEXT = (
    "repeat after me the kitchen timer rang twice while the kettle boiled and the "
    "bread was still in the oven so we opened the window let the steam out and "
    "waited for the toast to cool before we put the butter on it and called "
    "everyone down to the table for a late breakfast on a quiet sunday morning while "
    "the radio played old songs and the cat slept in the sun by the back door"
)


def _ahead_at_end(url: str, text: str = LONG_TEXT) -> tuple[float, float]:
    """A ~20 s reply as IBM's client gets it: (audio s, audio_end received -> playback end s).

    Playback starts when the first chunk arrives and runs in real time, as the
    client's speaker would; its reader blocks about this long at audio_end.
    """
    with connect(url, open_timeout=30) as ws:
        ws.send(json.dumps({"id": str(uuid.uuid4()), "action": "text", "text": text}))
        frames = _frames(ws)
    data = [(t, f) for t, f in frames if f["action"] == "audio_data"]
    audio = sum(len(f["data"]["data"]) for _, f in data) / 2 / RATE
    return audio, data[0][0] + audio - frames[-1][0]


def _fmt(values: list[float], unit: str = "", scale: float = 1.0, digits: int = 3) -> str:
    v = [x * scale for x in values]
    return (
        f"median {percentile(v, 50):.{digits}f}{unit}, min {min(v):.{digits}f}{unit}, "
        f"max {max(v):.{digits}f}{unit} (n={len(v)})"
    )


def reply_rows(quick: bool) -> list[Row]:
    """Rows 6a-6e."""
    settings = GatewaySettings(port=0, log_level="warning", stt=SttSettings(workers=1))
    pace = settings.reply.pace
    rounds = 1 if quick else 5
    parallel = 3 if quick else 10
    gw: RunningGateway = serve_in_thread(settings)
    try:
        for text in PROMPTS:  # espeak-ng's cache warm: the figures are about sending
            _reply(gw.url, text)
        single = [_reply(gw.url, t) for _ in range(rounds) for t in PROMPTS]
        hurried = [_hurried(gw.url) for _ in range(rounds * 3)]
        # --quick (the test suite): a short reply instead of the ~21 s one.
        long_text = PROMPTS[0] if quick else LONG_TEXT
        if not quick:
            _reply(gw.url, long_text)  # espeak-ng's cache warm
        long_replies = [_ahead_at_end(gw.url, long_text) for _ in range(1 if quick else 3)]
        results: list[tuple[float, float, float]] = []
        lock = threading.Lock()

        def one(i: int) -> None:
            r = _reply(gw.url, PROMPTS[i % len(PROMPTS)])
            with lock:
                results.append(r)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(parallel)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    finally:
        gw.stop()
    ratios = [_ratio(a, span, pace) for a, _, span in single]
    firsts = [first for _, first, _ in single]
    together = [_ratio(a, span, pace) for a, _, span in results]
    lengths = [a for a, _, _ in single]
    pool_s = single[0][0]  # the reply _hurried asks for (PROMPTS[0])
    return [
        Row(
            "6a",
            f"Paced reply: first chunk -> audio_end received, over audio length / pace "
            f"(pace {pace:g}, replies of {min(lengths):.1f}-{max(lengths):.1f} s, Buffer form)",
            _fmt(ratios),
            f"schedule: audio_end at audio length / {pace:g}",
            "0.95-1.05",
            all(0.95 <= r <= 1.05 for r in ratios),
        ),
        Row(
            "6b",
            "Paced reply: audio_start -> first audio_data received (the first chunk goes at once)",
            _fmt(firsts, " ms", 1000, 1),
            "",
            "<= 10 ms (max)",
            max(firsts) <= 0.010,
        ),
        Row(
            "6c",
            "Hurry: a new audio_start after the first chunk -> that reply's audio_end received",
            _fmt(hurried, " ms", 1000, 1),
            f"unhurried: {pool_s / pace * 1000:.0f} ms (that reply, {pool_s:.1f} s, / pace)",
            "<= 50 ms (max)",
            max(hurried) <= 0.050,
        ),
        Row(
            "6d",
            f"{parallel} connections paced at once: each span over audio length / pace",
            _fmt(together) + f"; {len(results)}/{parallel} replies complete",
            "6a (one at a time)",
            "all complete, each 0.95-1.10",
            len(results) == parallel and all(0.95 <= r <= 1.10 for r in together),
        ),
        Row(
            "6e",
            f"Node form (IBM's client), a {long_replies[0][0]:.0f} s reply: audio_end received "
            "-> the end of its playback (first chunk + audio length)",
            _fmt([a for _, a in long_replies], " s", 1, 2),
            f"before: audio length x (1 - 1/{pace:g}) = "
            f"{long_replies[0][0] * (1 - 1 / pace):.1f} s (pace alone)",
            "<= 1.0 s (max)",
            max(a for _, a in long_replies) <= 1.0,
        ),
    ]
