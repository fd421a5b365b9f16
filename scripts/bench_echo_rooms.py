"""Barge-in, self-trigger and ERLE across harder rooms, each option on and off.

    .venv/bin/python scripts/bench_echo_rooms.py --engine openwakeword --json /tmp/rooms-oww.json
    .venv/bin/python scripts/bench_echo_rooms.py --engine micro --json /tmp/rooms-micro.json
    .venv/bin/python scripts/bench_echo_rooms.py --report /tmp/rooms-oww.json /tmp/rooms-micro.json

The daemon's capture thread, offline: :class:`~agent.hearing.echo.CaptureProcessor`
(the delay search, the reference alignment, Speex) and
:class:`~agent.hearing.wake.WakeDetector` (adaptive gate, one engine,
``hey_jarvis``) run frame by frame on rooms rendered by
``scripts/bench_echo_room.py``; each reference block is put on the
:class:`~agent.audio.reference.ReferenceTimeline` only once the clock has
passed its stamp, and each frame is processed with its read time, so the code
sees what it sees in the daemon. Rendering is offline, so 10 rooms x 160
replies take minutes, not hours of real time.

Per room (one continuous session, the canceller and detector kept throughout,
as a device stays in its room), for each echo level (0, +6, +10 dB over the
user's voice): one warm-up reply (not counted: the volume changed), barge-in
trials (the user says "hey jarvis, what time is it" 1.0-1.75 s into a reply;
0 and +6 dB only) and ``--self`` replies that say "hey jarvis" with no one
speaking. A barge-in counts when a detection falls within the user's phrase;
a self-trigger is any detection during a reply or its tail. ERLE is measured
on the self replies (echo only): microphone power over output power where the
reply plays from 1 s into it (after the per-reply alignment), per reply, median
per room. Not modelled: the reply is not cut
by a detection (a barge-in ends the trial's scoring, the reply plays on).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "scripts")]

from bench_echo_room import (  # noqa: E402
    FRAME,
    RATE,
    Room,
    Segment,
    draw_rooms,
    echo_gain_for,
    render,
)
from speech import say  # noqa: E402

VOICES = [("en-gb", 140), ("en-us", 150), ("en-gb", 165), ("en-us", 130), ("en-us+f3", 145)]
REPLY_VOICE = ("en-us+m3", 160)
REPLIES = [
    "It is ten past three in the afternoon and the weather is cold and grey",
    "Your timer for five minutes is set and I will tell you when it is done",
    "Yes we do have a pool, it is open from nine in the morning until six",
]
SELF_REPLIES = [
    "You can say hey jarvis at any time, and I will listen to you",
    "Hey jarvis is my name. Just say hey jarvis and then your question",
    "To stop me, say hey jarvis, stop. Hey jarvis works from across the room",
]
LEVELS = (0.0, 6.0, 10.0)
USER_DBFS, REPLY_DBFS = -26.0, -20.0
#: The options tried, each on its own and together: (name, filter ms, residual dB, threshold).
CONFIGS = {
    "base": (128, None, None),
    "res": (128, -40, None),
    "mid": (128, None, 0.7),
    "long": (256, None, None),
    "res+mid": (128, -40, 0.7),
    "res+mid+long": (256, -40, 0.7),
}


def level(x: np.ndarray, dbfs: float) -> np.ndarray:
    rms = float(np.sqrt(np.mean(np.square(x.astype(np.float64)))))
    return np.clip(x * (32768 * 10 ** (dbfs / 20) / rms), -32768, 32767).astype(np.int16)


def db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.square(np.asarray(x, np.float64))) + 1e-9))


def plan(room: Room, n_barge: int, n_self: int) -> tuple[list[Segment], float]:
    """The session: per level a warm-up, barge-in trials, self replies; gaps of 2-3 s."""
    rng = np.random.default_rng(room.seed + 3)
    replies = [level(say(t, *REPLY_VOICE), REPLY_DBFS) for t in REPLIES]
    selfs = [level(say(t, *REPLY_VOICE), REPLY_DBFS) for t in SELF_REPLIES]
    segs: list[Segment] = []
    t = 1.0
    i = 0
    for echo_db in LEVELS:
        kinds = ["warm"] + ["barge"] * (n_barge if echo_db < 10 else 0) + ["self"] * n_self
        for kind in kinds:
            voice = VOICES[i % len(VOICES)]
            ask = np.concatenate((level(say("hey jarvis", *voice), USER_DBFS),
                                  np.zeros(RATE // 5, np.int16),
                                  level(say("what time is it", *voice), USER_DBFS)))
            reply = (selfs if kind == "self" else replies)[i % 3]
            gain = echo_gain_for(ask, reply, room, echo_db)
            label = {"kind": kind, "echo_db": echo_db, "n": i}
            segs.append(Segment(t, reply, "reply", gain, label))
            if kind == "barge":
                at = t + 1.0 + 0.25 * (i % 4)
                segs.append(Segment(at, ask, "user", label={**label, "wake_len": RATE}))
            t += len(reply) / RATE + room.buffer_ms / 1000 + float(rng.uniform(2.0, 3.0))
            i += 1
    return segs, t + 1.0


def run_config(room: Room, rendered: Any, segs: list[Segment], engine: str,
               config: tuple[int, int | None, float | None]) -> dict[str, Any]:
    """One pass of the capture thread's code over a rendered room."""
    from agent.audio.frames import Frame
    from agent.audio.reference import ReferenceTimeline
    from agent.hearing.echo import CaptureProcessor
    from agent.hearing.gate import SilenceGate
    from agent.hearing.speex import SpeexEchoCanceller
    from agent.hearing.wake import WakeDetector

    filter_ms, residual, speaking = config
    timeline = ReferenceTimeline()
    proc = CaptureProcessor(SpeexEchoCanceller(filter_ms, residual_db=residual), None, timeline)
    detector = WakeDetector(["hey_jarvis"], engine=engine, speaking_threshold=speaking,
                            gate=SilenceGate("adaptive", -55.0))
    replies = [s for s in segs if s.kind == "reply"]
    speaking_spans = [
        (int(s.at_s * RATE), int((s.at_s + room.buffer_ms / 1000) * RATE) + len(s.samples))
        for s in replies
    ]
    mic, out = rendered.mic, np.zeros_like(rendered.mic)
    blocks, b = rendered.blocks, 0
    hits: list[int] = []
    cpu_active = cpu_idle = 0.0
    frames_active = frames_idle = 0
    idle_exact = True
    for k in range(len(rendered.read_times)):
        read_time = 1000.0 + float(rendered.read_times[k])
        while b < len(blocks) and 1000.0 + blocks[b][0] <= read_time:
            timeline.add(1000.0 + blocks[b][0], blocks[b][1])
            b += 1
        p = k * FRAME
        frame = Frame(mic[p : p + FRAME], p)
        before = proc.chunks_processed
        t0 = time.thread_time()
        cleaned = proc.process(frame, read_time).samples
        spent = time.thread_time() - t0
        if proc.chunks_processed > before:
            cpu_active += spent
            frames_active += 1
        else:
            cpu_idle += spent
            frames_idle += 1
            idle_exact &= bool(np.array_equal(cleaned, frame.samples))
        out[p : p + FRAME] = cleaned
        if speaking is not None:
            clock_s = (read_time - 1000.0)
            detector.set_speaking(any(a <= clock_s * RATE < e for a, e in speaking_spans))
        hits += [d.position for d in detector.process(cleaned, p)]
    trials = []
    spans = iter(rendered.reply_spans)
    users = {s.label["n"]: s for s in segs if s.kind == "user"}
    for seg in replies:
        start, end = next(spans)
        kind, n = seg.label["kind"], seg.label["n"]
        t: dict[str, Any] = {"kind": kind, "echo_db": seg.label["echo_db"]}
        if kind == "barge":
            u = users[n]
            u0 = int(u.at_s * RATE * (1 + room.mic_ppm * 1e-6))
            t["hit"] = any(u0 <= h <= u0 + len(u.samples) + RATE // 2 for h in hits)
        else:
            t["wakes"] = sum(1 for h in hits if start <= h <= end + RATE // 2)
        if kind == "self":
            # After convergence: from 1 s into the reply (the per-reply alignment and the
            # filter's catch-up are done by then) to the end of what it says.
            active = slice(start + RATE, min(end, start + len(seg.samples)))
            t["erle_db"] = db(mic[active]) - db(out[active])
        trials.append(t)
    return {
        "trials": trials,
        "cpu_active_ms_s": 1000 * cpu_active / max(1, frames_active) / (FRAME / RATE),
        "cpu_idle_ms_s": 1000 * cpu_idle / max(1, frames_idle) / (FRAME / RATE),
        "idle_bit_exact": idle_exact,
        "delay_ms": proc.delay.estimate.delay_ms if proc.delay.estimate else None,
    }


def run(engine: str, n_rooms: int, n_barge: int, n_self: int, configs: list[str]) -> dict:
    out: dict[str, Any] = {"engine": engine, "rooms": []}
    started = time.monotonic()
    for room in draw_rooms(n_rooms):
        segs, seconds = plan(room, n_barge, n_self)
        rendered = render(room, segs, seconds)
        entry: dict[str, Any] = {"room": room.__dict__, "describe": room.describe(),
                                 "seconds": seconds, "configs": {}}
        for name in configs:
            r = run_config(room, rendered, segs, engine, CONFIGS[name])
            entry["configs"][name] = r
            print(f"[{engine}] {room.describe()} {name}: {summary(r)}", flush=True)
        out["rooms"].append(entry)
    out["wall_s"] = time.monotonic() - started
    return out


def summary(r: dict[str, Any]) -> str:
    ts = r["trials"]
    parts = []
    for lv in (0.0, 6.0):
        b = [t["hit"] for t in ts if t["kind"] == "barge" and t["echo_db"] == lv]
        parts.append(f"barge {lv:+g} dB {sum(b)}/{len(b)}")
    wakes = sum(t["wakes"] > 0 for t in ts if t["kind"] == "self")
    erle = [t["erle_db"] for t in ts if t["kind"] == "self"]
    return (f"{', '.join(parts)}, self {wakes}/{sum(t['kind'] == 'self' for t in ts)}, "
            f"ERLE median {statistics.median(erle):.1f} dB, CPU {r['cpu_active_ms_s']:.1f} ms/s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engine", choices=["openwakeword", "micro"], default="openwakeword")
    ap.add_argument("--rooms", type=int, default=10)
    ap.add_argument("--barge", type=int, default=4, help="barge-in trials per level per room")
    ap.add_argument("--self", dest="n_self", type=int, default=10,
                    help="self replies per level per room")
    ap.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    ap.add_argument("--json", type=Path)
    ap.add_argument("--report", nargs="+", type=Path)
    args = ap.parse_args()
    if args.report:
        from bench_echo_rooms_report import write_report

        write_report([json.loads(p.read_text()) for p in args.report])
        return 0
    if not args.json:
        ap.error("--json, or --report")
    result = run(args.engine, args.rooms, args.barge, args.n_self, args.configs)
    args.json.write_text(json.dumps(result, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
