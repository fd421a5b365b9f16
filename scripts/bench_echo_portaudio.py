"""Barge-in through the real PortAudio/ALSA path: ALSA ``file`` devices on FIFOs, a room between.

    .venv/bin/python scripts/bench_echo_portaudio.py --barge 10 --self 10 --json /tmp/pa.json

The daemon (in this process, as tests/room_trials.py runs it) opens its
microphone and speaker through PyAudio and PortAudio's ALSA host API, with a
private ``.asoundrc`` (HOME is a temporary directory): playback goes through a
``plug`` at 48 kHz stereo S32_LE into a ``file`` plugin on a FIFO (a pipe frees
space a 4096-byte page at a time: ~11 ms at that format), capture comes from a
``file`` plugin reading another FIFO at 16 kHz mono S16_LE. :class:`FifoRoom`
sits between them in real time: it reads what the daemon plays, decimates it to
16 kHz, passes it through the loudspeaker and the room's impulse response
(``tests/simulated_room.py``'s, which the trials set), adds the user's voice and room
noise, and writes the microphone exactly 80 ms per write, paced by the clock
(the ALSA `file`-plugin recipe for testing audio without a card). Trials as in
scripts/bench_echo.py.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import soxr

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "scripts")]

RATE = 16000
BLOCK = 1280
ASOUNDRC = """
pcm.roomplay_file {{ type file slave.pcm "null" file "{play}" format "raw" }}
pcm.roomplay {{ type plug slave {{ pcm "roomplay_file" format S32_LE rate 48000 channels 2 }} }}
pcm.roomcap_file {{ type file slave.pcm "null" file "/dev/null" infile "{cap}" format "raw" }}
pcm.roomcap {{ type plug slave {{ pcm "roomcap_file" format S16_LE rate 16000 channels 1 }} }}
pcm.!default {{ type asym capture.pcm "roomcap" playback.pcm "roomplay" }}
"""


class FifoRoom:
    """The room between the two FIFOs; the interface tests/room_trials.py uses of a room."""

    def __init__(self, directory: Path, acoustics: Any, seconds: float) -> None:
        self.play_path, self.cap_path = directory / "play.fifo", directory / "cap.fifo"
        for path in (self.play_path, self.cap_path):
            os.mkfifo(path)
        # Both held open read-write for the room's life: PortAudio's probing opens
        # never block and never see end-of-file.
        self._play = os.open(self.play_path, os.O_RDWR | os.O_NONBLOCK)
        self._cap = os.open(self.cap_path, os.O_RDWR)
        self.capacity = int(seconds * RATE)
        self.user = np.zeros(self.capacity, np.float32)
        self.emitted = np.zeros(self.capacity + RATE, np.float32)
        self._emitted_n = 0
        self._offset: int | None = None  # room sample of the first played sample
        self._down = soxr.ResampleStream(48000, RATE, 1, dtype="float32")
        self._raw = b""
        self._rng = np.random.default_rng(1)
        self.set_acoustics(acoustics)
        self._t0 = time.monotonic()
        self._closed = threading.Event()
        self.underruns = 0
        self._thread = threading.Thread(target=self._run, name="fifo-room", daemon=True)
        self._thread.start()

    def set_acoustics(self, acoustics: Any) -> None:
        from simulated_room import impulse_response

        self._path = (acoustics, impulse_response(acoustics))

    def now(self) -> int:
        return int((time.monotonic() - self._t0) * RATE)

    def say(self, samples: np.ndarray, at: int) -> None:
        end = min(self.capacity, at + len(samples))
        if end > at:
            self.user[at:end] += np.asarray(samples, np.float32)[: end - at]

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        self._thread.join(5)
        for fd in (self._play, self._cap):
            os.close(fd)

    def _drain_playback(self, room_now: int) -> None:
        chunks = []
        while True:
            try:
                data = os.read(self._play, 65536)
            except BlockingIOError:
                break
            if not data:
                break
            chunks.append(data)
        data = self._raw + b"".join(chunks)
        usable = len(data) - len(data) % 8  # stereo S32 frames
        self._raw = data[usable:]
        if not usable:
            return
        left = np.frombuffer(data[:usable], "<i4")[0::2].astype(np.float32) / 65536.0
        x = self._down.resample_chunk(left)
        if self._offset is None and len(x):
            # The first sample heard plays a block from now: the plumbing's own latency.
            self._offset = room_now + BLOCK
        n = min(len(x), len(self.emitted) - self._emitted_n)
        self.emitted[self._emitted_n : self._emitted_n + n] = x[:n]
        self._emitted_n += n

    def _echo(self, a: int, b: int) -> np.ndarray:
        from simulated_room import loudspeaker

        acoustics, h = self._path
        if self._offset is None:
            return np.zeros(b - a, np.float32)
        lo, hi = a - self._offset - len(h) + 1, b - self._offset
        seg = np.zeros(hi - lo, np.float32)
        src_lo, src_hi = max(0, lo), min(self._emitted_n, hi)
        if src_hi > src_lo:
            seg[src_lo - lo : src_hi - lo] = self.emitted[src_lo:src_hi]
        seg = loudspeaker(seg / 32768, acoustics.distortion) * 32768
        y = np.convolve(seg, h, mode="valid")
        return (y * acoustics.echo_gain).astype(np.float32)

    def _noise(self, n: int) -> np.ndarray:
        level = self._path[0].noise_dbfs
        if level is None:
            return np.zeros(n, np.float32)
        return (self._rng.standard_normal(n) * 32768 * 10 ** (level / 20)).astype(np.float32)

    def _run(self) -> None:
        k = 0
        while not self._closed.is_set():
            due = self._t0 + (k + 1) * BLOCK / RATE
            left = due - time.monotonic()
            if left > 0:
                self._closed.wait(left)
            elif left < -0.04:
                self.underruns += 1
            a, b = k * BLOCK, (k + 1) * BLOCK
            if b > self.capacity:
                return
            self._drain_playback(a)
            mixed = self.user[a:b] + self._echo(a, b) + self._noise(BLOCK)
            frame = np.clip(np.rint(mixed), -32768, 32767).astype("<i2").tobytes()
            os.write(self._cap, frame)  # exactly 80 ms: the plugin reads 80 ms blocks
            k += 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--barge", type=int, default=10)
    ap.add_argument("--self", dest="n_self", type=int, default=10)
    ap.add_argument("--echo-db", type=float, default=0.0)
    ap.add_argument("--json", type=Path, required=True)
    ap.add_argument("--max-delay-ms", type=float, default=None,
                    help="the delay search's reach (default: the daemon's own)")
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="voice-agent-pa-"))
    os.environ["HOME"] = str(home)  # before PortAudio starts: our .asoundrc only
    (home / ".asoundrc").write_text(
        ASOUNDRC.format(play=home / "play.fifo", cap=home / "cap.fifo")
    )
    import room_trials
    from bench_echo import REPLIES, REPLY_DBFS, SELF_REPLIES, VOICES, ask, level
    from daemon_harness import Events
    from room_trials import RoomSession, Trial
    from scripted_gateway import ScriptedGateway
    from simulated_room import Acoustics, echo_level_gain
    from speech import say

    from agent.device.daemon import Daemon

    if args.max_delay_ms:
        import functools

        import agent.hearing.echo as echo
        from agent.hearing.echo_delay import DelayEstimator

        echo.DelayEstimator = functools.partial(  # type: ignore[misc]
            DelayEstimator, max_delay_ms=args.max_delay_ms)
    seconds = 20.0 * (args.barge + args.n_self) + 60
    first = Acoustics(delay_ms=60, tail_ms=250)
    room = FifoRoom(home, first, seconds)

    class PaSession(RoomSession):
        def __init__(self) -> None:  # the FIFO room, the daemon on PortAudio
            self.room = room  # type: ignore[assignment]
            self.gateway = ScriptedGateway([])
            self.events = Events()
            self._audio = {"echo_cancel": True}
            self._result: list[int] = []

        def __enter__(self) -> PaSession:
            self.gateway.__enter__()
            settings = room_trials.room_settings(self.gateway.url, **self._audio)
            self.daemon = Daemon(settings, events=self.events)
            self._thread = threading.Thread(
                target=lambda: self._result.append(self.daemon.run()), daemon=True
            )
            self._thread.start()
            assert self.events.wait_count("connected", 1, timeout=60), "never connected"
            return self

    replies = [level(say(t, "en-us+m3", 160), REPLY_DBFS) for t in REPLIES]
    selfs = [level(say(t, "en-us+m3", 160), REPLY_DBFS) for t in SELF_REPLIES]
    results: list[dict[str, Any]] = []
    started = time.monotonic()
    with PaSession() as session:
        for i in range(args.barge + args.n_self):
            barge = i < args.barge
            voice = VOICES[i % len(VOICES)]
            opening = ask(voice)
            reply = (replies if barge else selfs)[i % 3]
            gain = echo_level_gain(opening, reply, args.echo_db)
            acoustics = Acoustics(60.0, 250.0, gain, seed=1)
            try:
                if i in (0, args.barge):  # a warm-up reply, not counted
                    session.run(Trial(acoustics, replies[(i + 1) % 3], opening))
                o = session.run(Trial(acoustics, reply, opening,
                                      barge=ask(voice) if barge else None,
                                      barge_after_s=1.0 + 0.25 * (i % 4)))
            except AssertionError as exc:  # the opening was not heard: no trial
                print(f"[portaudio] {i + 1}: no trial ({exc})", flush=True)
                continue
            r = {"barge": barge, "interrupted": o.interrupted, "wakes": o.wakes_during_reply}
            results.append(r)
            print(f"[portaudio] {i + 1}: {r}", flush=True)
    out = {"results": results, "wall_s": time.monotonic() - started,
           "underruns": room.underruns, "echo_db": args.echo_db}
    room.close()
    args.json.write_text(json.dumps(out, indent=1))
    hits = sum(r["interrupted"] for r in results if r["barge"])
    false = sum(r["wakes"] > 0 for r in results if not r["barge"])
    print(f"barge-in {hits}/{args.barge}, self-triggers {false}/{args.n_self}, "
          f"underruns {room.underruns}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
