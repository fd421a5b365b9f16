"""A microphone stand-in for ``audio.input.command``: raw s16le 16 kHz on stdout,
paced in real time. Silence, until the test creates ``DIR/go-N`` (N = 1, 2, ...);
then the WAV's samples, after which it writes ``DIR/spoken-N`` holding the sample
position where they ended, and silence again. Ends when its reader goes away or
after ``--max-s`` seconds of audio (bounded: no stray process)."""

from __future__ import annotations

import argparse
import sys
import time
import wave
from pathlib import Path

FRAME = 1280  # 80 ms


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("wav")
    parser.add_argument("dir")
    parser.add_argument("--max-s", type=float, default=300.0)
    args = parser.parse_args()
    with wave.open(args.wav, "rb") as w:
        speech = w.readframes(w.getnframes())
    folder = Path(args.dir)
    out = sys.stdout.buffer
    position, n, pending, speaking = 0, 1, b"", False
    start = time.monotonic()
    while position < args.max_s * 16000:
        if not speaking and (folder / f"go-{n}").exists():
            pending, speaking = speech, True
        if pending:
            chunk, pending = pending[: FRAME * 2], pending[FRAME * 2 :]
            chunk = chunk.ljust(FRAME * 2, b"\0")
        else:
            chunk = bytes(FRAME * 2)
        try:
            out.write(chunk)
            out.flush()
        except (BrokenPipeError, OSError):
            return 0
        position += FRAME
        if speaking and not pending:
            tmp = folder / f".spoken-{n}"
            tmp.write_text(str(position))
            tmp.rename(folder / f"spoken-{n}")  # whole, never half-written
            n, speaking = n + 1, False
        time.sleep(max(0.0, start + position / 16000 - time.monotonic()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
