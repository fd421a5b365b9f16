"""Echo cancellation benchmark: barge-in, self-trigger, ERLE, echo left, CPU.

    .venv/bin/python scripts/bench_echo.py --mode on  --json /tmp/echo-on.json
    .venv/bin/python scripts/bench_echo.py --mode off --json /tmp/echo-off.json
    .venv/bin/python scripts/bench_echo.py --report /tmp/echo-on.json /tmp/echo-off.json

Each ``--mode`` run is one real ``Daemon`` in one simulated room
(``tests/simulated_room.py``, real time) against the scripted gateway on loopback
(``tests/room_trials.py``): ``--barge`` trials where the user says "hey jarvis,
what time is it" over the reply, then ``--self`` replies that themselves say
"hey jarvis" with no one speaking. Voices, speeds, delays (20-120 ms), tails
(150-400 ms) and echo levels (0, +6, +10 dB over the user) vary; the room
changes every 5 trials, each new room getting one warm-up reply first (a device
stays in its room; the canceller has learnt it from earlier replies). ``on`` is
``audio.echo_cancel: true``; ``off`` is ``false`` (the raised
``wake.speaking_threshold`` 0.9 guards, as before). The two modes can run at
the same time (they measure detections, not CPU). ``--mode on`` also measures,
offline, the ERLE after convergence and the processing CPU per audio second.
``--report`` writes the section of docs/benchmarks.md from both files.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from room_trials import RATE, RoomSession, Trial  # noqa: E402
from simulated_room import Acoustics, echo_level_gain, render_echo  # noqa: E402
from speech import say  # noqa: E402

from agent.audio.frames import Frame  # noqa: E402
from agent.audio.reference import ReferenceTimeline  # noqa: E402

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
DELAYS, TAILS, LEVELS = (20, 60, 120), (150, 250, 400), (0.0, 6.0, 10.0)
USER_DBFS, REPLY_DBFS = -26.0, -20.0


def level(x: np.ndarray, dbfs: float) -> np.ndarray:
    rms = float(np.sqrt(np.mean(np.square(x.astype(np.float64)))))
    return np.clip(x * (32768 * 10 ** (dbfs / 20) / rms), -32768, 32767).astype(np.int16)


def db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.square(np.asarray(x, np.float64))) + 1e-9))


def ask(voice: tuple[str, int], question: str = "what time is it") -> np.ndarray:
    wake = level(say("hey jarvis", *voice), USER_DBFS)
    q = level(say(question, *voice), USER_DBFS)
    return np.concatenate((wake, np.zeros(RATE // 5, np.int16), q))


def plan(n_barge: int, n_self: int, block: int = 5) -> list[dict[str, Any]]:
    """The trials, in blocks of ``block`` in one room (levels x delays, tails in turn).

    A device stays in its room: the canceller has learnt it from earlier
    replies. Each block therefore starts with one warm-up reply (not counted).
    """
    rooms = [
        (lv, d, TAILS[(i + j) % 3]) for i, lv in enumerate(LEVELS) for j, d in enumerate(DELAYS)
    ]
    out: list[dict[str, Any]] = []
    for i in range(n_barge + n_self):
        echo_db, delay, tail = rooms[(i // block) % len(rooms)]
        out.append(dict(
            barge=i < n_barge, echo_db=echo_db, delay_ms=delay, tail_ms=tail,
            voice=VOICES[i % len(VOICES)], reply=i % 3, at_s=1.0 + 0.25 * (i % 4), seed=i // block,
            warm_up=i % block == 0 or i == n_barge,
        ))
    return out


def exact_offset(haystack: np.ndarray, needle: np.ndarray) -> int | None:
    probe = needle[:64]
    windows = np.lib.stride_tricks.sliding_window_view(haystack, len(probe))
    for hit in np.flatnonzero((windows == probe).all(axis=1)):
        if np.array_equal(haystack[hit : hit + len(needle)], needle):
            return int(hit)
    return None


def transcribe(engine: Any, x: np.ndarray) -> str:
    return str(engine.transcribe(np.asarray(x, "<i2").tobytes()).text or "")


def run_mode(mode: str, n_barge: int, n_self: int) -> dict[str, Any]:
    from agent.gateway.dialog.builtin import default_skills
    from agent.gateway.stt.factory import create_engine

    skills = default_skills()
    engine = create_engine("pocketsphinx", skills.searches(), skills.pronunciations)
    trials = plan(n_barge, n_self)
    replies = [level(say(t, *REPLY_VOICE), REPLY_DBFS) for t in REPLIES]
    self_replies = [level(say(t, *REPLY_VOICE), REPLY_DBFS) for t in SELF_REPLIES]
    seconds = 14.0 * n_barge + 10.0 * n_self + 12.0 * (n_barge + n_self) / 5 + 60
    results: list[dict[str, Any]] = []
    started = time.monotonic()
    first = Acoustics()
    with RoomSession(seconds, first, echo_cancel=(mode == "on")) as session:
        for i, t in enumerate(trials):
            opening = ask(t["voice"])
            reply = (replies if t["barge"] else self_replies)[t["reply"]]
            gain = echo_level_gain(opening, reply, t["echo_db"])
            room = Acoustics(t["delay_ms"], t["tail_ms"], gain, seed=t["seed"])
            barge = ask(t["voice"]) if t["barge"] else None
            if t["warm_up"]:  # a new room: one reply to learn it, not counted
                session.run(Trial(room, replies[(t["reply"] + 1) % 3], opening))
            o = session.run(Trial(room, reply, opening, barge=barge, barge_after_s=t["at_s"]))
            r = dict(t, interrupted=o.interrupted, wakes=o.wakes_during_reply)
            if o.streamed is not None and o.barge_at is not None and o.reply_stopped_at:
                r.update(analyse(session, o, engine))
            results.append(r)
            print(f"[{mode}] {i + 1}/{len(trials)} {r}", flush=True)
    out: dict[str, Any] = {"mode": mode, "trials": results, "wall_s": time.monotonic() - started}
    if mode == "on":
        out["offline"] = offline(replies)
    return out


def analyse(session: RoomSession, o: Any, engine: Any) -> dict[str, Any]:
    """Echo left in the barge-in utterance as streamed, and its transcript vs the clean one."""
    room, sent = session.room, o.streamed
    # The turn's end was captured after the echo died out: bypassed, so exact.
    # Search only around the barge-in (the room's recording is long).
    lo = max(0, o.barge_at - 2 * RATE)
    hi = min(room.capacity, o.barge_at + len(sent) + 10 * RATE)
    tail = exact_offset(room.mic[lo:hi], sent[-RATE // 4 :])
    if tail is None:
        return {"located": False}
    start = lo + tail + RATE // 4 - len(sent)
    clean = room.mic[start : start + len(sent)].astype(np.float64) - room.echo[
        start : start + len(sent)
    ]
    overlap = slice(0, max(1, min(len(sent), o.reply_stopped_at + RATE * 2 // 5 - start)))
    residual = sent[overlap].astype(np.float64) - clean[overlap]
    user = room.user[start : start + len(sent)][overlap]
    clean16 = np.clip(np.rint(clean), -32768, 32767).astype(np.int16)
    return {
        "located": True,
        "overlap_s": (overlap.stop - overlap.start) / RATE,
        "echo_left_db": db(residual) - db(user),
        "raw_echo_db": db(room.echo[start : start + len(sent)][overlap]) - db(user),
        "text_sent": transcribe(engine, sent),
        "text_clean": transcribe(engine, clean16),
    }


def offline(replies: list[np.ndarray]) -> dict[str, Any]:
    """ERLE after convergence and CPU per audio second, the processor driven directly."""
    from agent.hearing.echo import CaptureProcessor
    from agent.hearing.speex import SpeexEchoCanceller

    played = np.concatenate([np.concatenate((r, np.zeros(RATE // 2, np.int16))) for r in replies])
    played = np.concatenate((played, played))  # ~20 s: converged in the second half
    half = len(played) // 2
    erle, cpu_on = [], []
    for delay, tail in itertools.product(DELAYS, TAILS):
        timeline = ReferenceTimeline(keep_s=3600)
        t0 = 1000.0
        for i in range(0, len(played), 640):
            timeline.add(t0 + i / RATE, played[i : i + 640])
        room = Acoustics(delay, tail, 1.0, noise_dbfs=-70.0)
        rng = np.random.default_rng(delay + tail)
        noise = rng.standard_normal(len(played)) * 32768 * 10 ** (-70 / 20)
        mic = np.clip(np.rint(render_echo(played, room) + noise), -32768, 32767).astype(np.int16)
        proc = CaptureProcessor(SpeexEchoCanceller(), None, timeline)
        out = np.zeros_like(mic)
        c0 = time.process_time()
        for p in range(0, len(mic) - 1279, 1280):
            frame = Frame(mic[p : p + 1280], p)
            out[p : p + 1280] = proc.process(frame, t0 + (p + 1280) / RATE).samples
        cpu_on.append((time.process_time() - c0) * 1000 / (len(mic) / RATE))
        speaking = np.abs(played[half:]) > 0  # no pauses: ERLE where echo is present
        m, o = mic[half:][speaking], out[half:][speaking]
        erle.append({"delay_ms": delay, "tail_ms": tail, "erle_db": db(m) - db(o)})
    # Idle: nothing played; the canceller is bypassed.
    proc = CaptureProcessor(SpeexEchoCanceller(), None, ReferenceTimeline())
    quiet = (np.random.default_rng(1).standard_normal(60 * RATE) * 30).astype(np.int16)
    c0 = time.process_time()
    for p in range(0, len(quiet) - 1279, 1280):
        proc.process(Frame(quiet[p : p + 1280], p), 1000.0 + (p + 1280) / RATE)
    idle = (time.process_time() - c0) * 1000 / 60
    ns_agc = None
    try:
        from agent.hearing.apm import WebRtcApm

        proc = CaptureProcessor(None, WebRtcApm(noise_suppression=True, auto_gain=True), None)
        c0 = time.process_time()
        for p in range(0, len(quiet) - 1279, 1280):
            proc.process(Frame(quiet[p : p + 1280], p), 1000.0 + (p + 1280) / RATE)
        ns_agc = (time.process_time() - c0) * 1000 / 60
    except Exception as exc:  # the webrtc extra may be missing
        print(f"noise suppression + auto gain not measured: {exc}")
    return {"erle": erle, "cpu_speaking_ms_s": sorted(cpu_on), "cpu_idle_ms_s": idle,
            "cpu_ns_agc_ms_s": ns_agc}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=["on", "off"])
    ap.add_argument("--barge", type=int, default=42)
    ap.add_argument("--self", dest="n_self", type=int, default=50)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--report", nargs=2, type=Path, metavar=("ON", "OFF"))
    args = ap.parse_args()
    if args.report:
        from bench_echo_report import write_report

        write_report(*(json.loads(p.read_text()) for p in args.report))
        return 0
    if not args.mode or not args.json:
        ap.error("--mode and --json, or --report")
    result = run_mode(args.mode, args.barge, args.n_self)
    args.json.write_text(json.dumps(result, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
