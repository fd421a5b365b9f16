#!/usr/bin/env python3
"""Benchmark the reference gateway's speech to text.

Prints, with targets and PASS/FAIL:

1. the real-time factor of recognition (CPU seconds per audio second) with
   the skills' grammar, over the shared recordings and espeak-ng commands in
   two voices (target: under 0.1); the general-model fallback is shown too;
2. the time from the last audio byte to ``stt_transcript`` through a real
   gateway on 127.0.0.1, when the client ends the utterance (``audio_end``)
   and when the gateway does (its endpointer, audio streamed in real time).

    .venv/bin/python scripts/bench_stt.py [--quick]

Exit status 0 when every target is met.
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import subprocess
import sys
import time
import uuid
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AUDIO = ROOT / "tests" / "data" / "audio"  # the project's own copies (NOTICE there)
sys.path.insert(0, str(ROOT))

RATE = 16000
CHUNK = 3200
RTF_TARGET = 0.1
LATENCY_MEDIAN_TARGET_S = 0.5
LATENCY_P95_TARGET_S = 1.0

COMMANDS = [
    "what time is it",
    "what is the date",
    "set a timer",
    "five minutes",
    "say hello world",
    "do you have a pool",
    "turn the volume up",
    "where am i",
]
OUTSIDE = ["turn on the kitchen lights", "play some music", "how old are you"]
RECORDINGS = {
    "speech_hi": {"hi", "hello"},
    "speech_do_you_have_a_pool": {"do you have a pool"},
    "speech_do_you_have_a_pool_2": {"do you have a pool"},
}


def espeak(text: str, voice: str) -> bytes:
    """espeak-ng speech at 16 kHz with 0.5 s of silence before and 0.8 s after."""
    from agent.gateway.tts import parse_wav, to_16k_mono

    out = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", "150", "--stdout"],
        input=text.encode(),
        capture_output=True,
        check=True,
    ).stdout
    pcm = to_16k_mono(*parse_wav(out))
    return bytes(int(0.5 * RATE) * 2) + pcm + bytes(int(0.8 * RATE) * 2)


def recording(name: str) -> bytes:
    with wave.open(str(AUDIO / f"{name}.wav")) as w:
        return w.readframes(w.getnframes())


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def bench_rtf(voices: list[str]) -> bool:
    from agent.gateway.dialog.builtin import default_skills
    from agent.gateway.stt.factory import create_engine

    skills = default_skills()
    started = time.perf_counter()
    engine = create_engine("pocketsphinx", skills.searches(), skills.pronunciations)
    print(f"pocketsphinx loaded in {time.perf_counter() - started:.2f} s\n")
    items: list[tuple[str, bytes, set[str], str]] = []
    for name, heard in RECORDINGS.items():
        items.append((name, recording(name), heard, "main"))
    for voice in voices:
        for text in COMMANDS:
            search = "followup_timer" if text == "five minutes" else "main"
            items.append((f"{text} ({voice})", espeak(text, voice), {text}, search))
    print(f"{'utterance':40s} {'audio s':>7s} {'rtf':>6s} {'path':8s} {'conf':>5s}  heard")
    cpu = audio = 0.0
    right = 0
    for label, pcm, heard, search in items:
        result = engine.transcribe(pcm, search)
        cpu += result.cpu_s
        audio += result.audio_s
        right += result.text in heard
        mark = "" if result.text in heard else "   <- wrong"
        print(
            f"{label:40s} {result.audio_s:7.2f} {result.cpu_s / result.audio_s:6.3f} "
            f"{result.source:8s} {result.confidence:5.2f}  {result.text!r}{mark}"
        )
    rtf = cpu / audio
    print(f"\nrecognised exactly: {right} of {len(items)}")
    lm_cpu = lm_audio = 0.0
    for voice in voices:
        for text in OUTSIDE:
            result = engine.transcribe(espeak(text, voice), "main")
            lm_cpu += result.cpu_s
            lm_audio += result.audio_s
    ok = rtf < RTF_TARGET
    print(
        f"speech-to-text real-time factor with the grammar: {rtf:.3f} "
        f"(target < {RTF_TARGET}) {verdict(ok)}"
    )
    print(
        f"  (outside the grammar, with the general-model fallback: {lm_cpu / lm_audio:.3f}; "
        "no target)"
    )
    return ok


def bench_latency(voices: list[str], rounds: int) -> bool:
    from websockets.sync.client import connect

    from agent.gateway.in_thread import serve_in_thread
    from agent.gateway.settings import GatewaySettings

    def send_audio(ws, tid: str, pcm: bytes) -> None:  # noqa: ANN001
        data = base64.b64encode(pcm).decode()
        ws.send(json.dumps({"id": tid, "action": "audio_data", "encoding": "base64", "data": data}))

    def wait_transcript(ws) -> float:  # noqa: ANN001
        while True:
            msg = json.loads(ws.recv(timeout=60))
            if msg["action"] == "stt_transcript":
                return time.perf_counter()

    def drain_reply(ws) -> None:  # noqa: ANN001
        while json.loads(ws.recv(timeout=60))["action"] not in ("audio_end", "error"):
            pass

    samples = [espeak(COMMANDS[i % len(COMMANDS)], voices[i % len(voices)]) for i in range(rounds)]
    client_ended: list[float] = []
    gateway_ended: list[float] = []
    gw = serve_in_thread(GatewaySettings(port=0))
    try:
        with connect(gw.url) as ws:
            drain_reply_for = drain_reply
            for pcm in samples:  # the client ends: the last byte is its audio_end
                tid = str(uuid.uuid4())
                ws.send(json.dumps({"id": tid, "action": "audio_start"}))
                for i in range(0, len(pcm), CHUNK):
                    send_audio(ws, tid, pcm[i : i + CHUNK])
                ws.send(json.dumps({"id": tid, "action": "audio_end"}))
                t0 = time.perf_counter()
                client_ended.append(wait_transcript(ws) - t0)
                drain_reply_for(ws)
            for pcm in samples:  # the gateway ends: audio in real time, silence until it does
                tid = str(uuid.uuid4())
                ws.send(json.dumps({"id": tid, "action": "audio_start"}))
                sent_at: list[float] = []
                stream = pcm + bytes(5 * RATE * 2)
                got = None
                start = time.perf_counter()
                for n, i in enumerate(range(0, len(stream), CHUNK)):
                    # Paced like a microphone: chunk n leaves at n * 100 ms.
                    delay = start + n * 0.1 - time.perf_counter()
                    if delay > 0:
                        try:
                            msg = json.loads(ws.recv(timeout=delay))
                            if msg["action"] == "stt_transcript":
                                got = time.perf_counter()
                                break
                        except TimeoutError:
                            pass
                    send_audio(ws, tid, stream[i : i + CHUNK])
                    sent_at.append(time.perf_counter())
                if got is None:
                    got = wait_transcript(ws)
                ws.send(json.dumps({"id": tid, "action": "audio_end"}))
                drain_reply(ws)
                rec = gw.transaction(tid)
                assert rec.end_reason == "gateway" and rec.endpoint_sample is not None
                last_needed = (rec.endpoint_sample * 2 - 1) // CHUNK  # chunk holding the endpoint
                gateway_ended.append(got - sent_at[last_needed])
    finally:
        gw.stop()
    ok = True
    for label, values in (
        ("client ends (audio_end)", client_ended),
        ("gateway ends (endpointer)", gateway_ended),
    ):
        values = sorted(values)
        median = statistics.median(values)
        p95 = values[min(len(values) - 1, int(round(0.95 * (len(values) - 1))))]
        good = median < LATENCY_MEDIAN_TARGET_S and p95 < LATENCY_P95_TARGET_S
        ok = ok and good
        print(
            f"last audio byte -> stt_transcript, {label}: median {median * 1000:.0f} ms, "
            f"p95 {p95 * 1000:.0f} ms over {len(values)} "
            f"(targets < {LATENCY_MEDIAN_TARGET_S * 1000:.0f} / "
            f"{LATENCY_P95_TARGET_S * 1000:.0f} ms) {verdict(good)}"
        )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one voice, fewer rounds")
    args = parser.parse_args()
    voices = ["en-us"] if args.quick else ["en-us", "en-gb"]
    print("== speech-to-text real-time factor (pocketsphinx, in this process) ==")
    rtf_ok = bench_rtf(voices)
    print("\n== latency through the gateway on 127.0.0.1 ==")
    latency_ok = bench_latency(voices, 4 if args.quick else 8)
    print(f"\noverall: {verdict(rtf_ok and latency_ok)}")
    return 0 if rtf_ok and latency_ok else 1


if __name__ == "__main__":  # the gateway's worker processes re-import this module
    sys.exit(main())
