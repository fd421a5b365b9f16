"""How long a turn takes through the gateway against the stand-in Diatheke server.

The reference gateway runs in this process with ``dialog.engine: diatheke``; the
stand-in server of ``tests/diatheke_standin.py`` (API 2 or 1, loopback gRPC) in
this process too; a protocol client on a real WebSocket sends each utterance
unpaced with the gateway's endpointing off (``?endpointing=false``), so the
clock starts at the client's ``audio_end``: what is measured is the gateway and
the gRPC round trips, not the user's trailing silence. The stand-in answers
at once and its "TTS" is a tone, so these are the gateway's own costs, not a
real Diatheke server's recognition and synthesis times.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from diatheke_standin import StandIn  # noqa: E402
from gateway_support import CHUNK, audio_msg, open_client, receive, spoken  # noqa: E402

from agent.gateway.dialog_settings import DialogSettings, DiathekeSettings  # noqa: E402
from agent.gateway.server import serve_in_thread  # noqa: E402
from agent.gateway.settings import GatewaySettings, SttSettings  # noqa: E402
from agent.link.protocol import (  # noqa: E402
    GatewayError,
    ReplyAudioData,
    ReplyAudioEnd,
    SttTranscript,
)


def turns(api: int, count: int) -> dict[str, list[float]]:
    """``count`` turns of the timer dialog; milliseconds from ``audio_end`` to each mark."""
    marks: dict[str, list[float]] = {"stt_transcript": [], "first audio": [], "audio_end": []}
    speech = [spoken("set a timer"), spoken("five minutes")]
    with StandIn(api=api) as si:
        d = DiathekeSettings(address=si.address, api=api, timeout_s=5.0)  # type: ignore[arg-type]
        settings = GatewaySettings(port=0, stt=SttSettings(workers=1),
                                   dialog=DialogSettings(engine="diatheke", diatheke=d))
        with serve_in_thread(settings) as gw:
            ws = open_client(gw.url + "?endpointing=false")
            for i in range(count):  # bounded: count turns, each bounded by its timeouts
                tid, pcm = str(uuid.uuid4()), speech[i % 2]
                ws.send(json.dumps({"id": tid, "action": "audio_start"}))
                for j in range(0, len(pcm), CHUNK):
                    ws.send(audio_msg(tid, pcm[j : j + CHUNK]))
                ws.send(json.dumps({"id": tid, "action": "audio_end"}))
                t0, seen = time.perf_counter(), set()
                while True:
                    msg = receive(ws, 30)
                    ms = (time.perf_counter() - t0) * 1000
                    if isinstance(msg, GatewayError):
                        raise RuntimeError(f"turn {i}: {msg.message}")
                    for name, kind in (
                        ("stt_transcript", SttTranscript),
                        ("first audio", ReplyAudioData),
                        ("audio_end", ReplyAudioEnd),
                    ):
                        if isinstance(msg, kind) and name not in seen:
                            seen.add(name)
                            marks[name].append(ms)
                    if isinstance(msg, ReplyAudioEnd):
                        break
            ws.close()
    return marks


def main(count: int = 40) -> str:
    """The markdown table for both APIs."""
    lines = ["| API | mark | median ms | p90 ms | max ms | turns |", "|---|---|---|---|---|---|"]
    for api in (2, 1):
        for name, values in turns(api, count).items():
            v = sorted(values)
            p90 = v[int(0.9 * (len(v) - 1))]
            lines.append(f"| {api} | {name} | {statistics.median(v):.1f} | {p90:.1f} "
                         f"| {v[-1]:.1f} | {len(v)} |")
    return "\n".join(lines)


if __name__ == "__main__":
    # .venv/bin/python scripts/benchmarks/diatheke.py [TURNS] [--out docs/benchmarks-diatheke.md]
    args = sys.argv[1:]
    out = args[args.index("--out") + 1] if "--out" in args else None
    numbers = [a for a in args if a.isdigit()]
    count = int(numbers[0]) if numbers else 40
    started = time.perf_counter()
    table = main(count)
    print(table)
    if out is not None:
        took = time.perf_counter() - started
        Path(out).write_text(
            "# A turn through the gateway against the stand-in Diatheke server\n\n"
            f"`.venv/bin/python scripts/benchmarks/diatheke.py {count} --out {out}` "
            f"({took:.0f} s, 2 shared cores). Milliseconds from the client's `audio_end`.\n\n"
            + table + "\n\n" + (__doc__ or "").strip() + "\n"
        )
