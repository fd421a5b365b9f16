"""Slow board: whole turns with the daemon and the gateway under one CPU quota.

A Pi Zero 2 W, a busy Pi 3 or qemu's emulated arm64 is 5-10x slower than
this machine. Here that board is one cgroup (:mod:`benchmarks.quota`) at
``--percent`` % of one core, pinned to one core, that holds both the gateway
(``voice-agent gateway``, its speech-to-text workers and espeak-ng) and the
daemon (``voice-agent run``). Each turn is the one ``scripts/pi-check.sh``
makes: 1 s of silence, "hey mycroft", 0.3 s, "do you have a pool", 3 s of
silence, read from a file (``realtime: false``), the reply written to a WAV.

The first ``--cold`` turns each start a new gateway and run the daemon the
moment its port opens (pi-check's order: the turn arrives while the gateway
is still settling); the rest run back to back against the last gateway, a
new daemon process each. A turn is right when the daemon heard exactly "do
you have a pool", wrote more than 100 kB of reply, and reported no error.
Per turn: the transcript, the reply's size, the time from the daemon's
``audio_end`` to its ``playback_start`` (the device's own clock: end of
speech to the first reply audio), and the gateway's speech-to-text time
for the utterance, from its log.

    sudo .venv/bin/python scripts/bench.py --only slowboard   # 20 turns at 12 %, 5 cold
    sudo .venv/bin/python scripts/benchmarks/slowboard.py --turns 5 --percent 10

Needs root (a cgroup). Writes its own section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime
import re
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (  # noqa: E402
    REPO,
    SHARED_AUDIO,
    DaemonProcess,
    Row,
    daemon_config,
    read_wav,
    voice_agent_command,
    write_wav,
)
from benchmarks.quota import CpuQuota, QuotaUnavailable  # noqa: E402
from benchmarks.report import machine, markdown_table, text_table  # noqa: E402

HEARD = "do you have a pool"
REPLY_MIN_BYTES = 100_000
MARK = "<!-- slow board: scripts/benchmarks/slowboard.py -->"
END = "<!-- /slow board -->"
GATEWAY_START_S = 600.0
TURN_TIMEOUT_S = 600.0
HEARD_RE = re.compile(r"heard '(?P<text>[^']*)' \(.*\) in (?P<ms>\d+) ms for (?P<audio>[\d.]+) s")


@dataclass
class TurnResult:
    """What one turn gave."""

    number: int
    kind: str  # cold: a new gateway; warm: back to back
    transcripts: list[str] = field(default_factory=list)
    reply_bytes: int = 0
    latency_s: float | None = None  # audio_end -> playback_start
    stt_ms: float | None = None
    stt_audio_s: float | None = None
    errors: list[str] = field(default_factory=list)
    returncode: int | None = None
    daemon_cpu_s: float | None = None

    @property
    def right(self) -> bool:
        """Heard exactly, a whole reply, no error, a clean exit."""
        return (
            self.transcripts == [HEARD]
            and self.reply_bytes > REPLY_MIN_BYTES
            and not self.errors
            and self.returncode == 0
        )


def turn_wav(workdir: Path, audio: Path = SHARED_AUDIO) -> Path:
    """pi-check's turn: silence, the wake word, a question, silence (16 kHz mono)."""
    import numpy as np

    silence = lambda s: np.zeros(int(16000 * s), dtype=np.int16)  # noqa: E731
    wake = read_wav(audio / "wake_hey_mycroft.wav")
    question = read_wav(audio / "speech_do_you_have_a_pool.wav")
    samples = np.concatenate([silence(1.0), wake, silence(0.3), question, silence(3.0)])
    return write_wav(workdir / "turn.wav", samples)


class GatewayProcess:
    """``voice-agent gateway`` (shipped settings, info log) under the quota's prefix."""

    def __init__(self, workdir: Path, number: int, prefix: tuple[str, ...]) -> None:
        self.port = _free_port()
        self.log_path = workdir / f"gateway-{number}.log"
        config = workdir / "gateway.yaml"
        config.write_text("log_level: info\n")
        command = [*voice_agent_command(), "gateway", "--host", "127.0.0.1",
                   "--port", str(self.port), "--config", str(config)]
        self.started = time.monotonic()
        with open(self.log_path, "w") as log:
            self._proc = subprocess.Popen([*prefix, *command], cwd=REPO, stdout=log,
                                          stderr=subprocess.STDOUT)
        self.start_s: float | None = None

    @property
    def url(self) -> str:
        """Where the daemon connects."""
        return f"ws://127.0.0.1:{self.port}"

    def wait_listening(self, timeout: float = GATEWAY_START_S) -> float:
        """Seconds until its port took a connection (RuntimeError if it never did)."""
        deadline = self.started + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"the gateway exited ({self._proc.returncode}): "
                                   f"{self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    self.start_s = time.monotonic() - self.started
                    return self.start_s
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"the gateway did not listen within {timeout:g} s")

    def heard(self) -> list[tuple[str, float, float]]:
        """(text, ms, audio s) of every utterance it recognised so far."""
        found = HEARD_RE.finditer(self.log_path.read_text(errors="replace"))
        return [(m["text"], float(m["ms"]), float(m["audio"])) for m in found]

    def log_tail(self, lines: int = 5) -> str:
        """The last lines of its log."""
        return " / ".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """Stop it and its workers (SIGTERM, then SIGKILL after 30 s)."""
        self._proc.terminate()
        try:
            self._proc.wait(30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


def run_turn(number: int, kind: str, gateway: GatewayProcess, workdir: Path,
             wav: Path, prefix: tuple[str, ...]) -> TurnResult:
    """One daemon process, one turn; what it gave."""
    result = TurnResult(number, kind)
    reply = workdir / f"reply-{number}.wav"
    config = daemon_config(gateway.url, wav, reply, wake={"models": ["hey_mycroft"]},
                           log={"level": "info", "format": "json"})
    before = len(gateway.heard())
    daemon = DaemonProcess(workdir, f"turn-{number}", config, prefix=prefix).start()
    result.returncode = daemon.wait(TURN_TIMEOUT_S)
    result.daemon_cpu_s = daemon.cpu_s
    events = daemon.events
    result.transcripts = [str(e.get("text")) for e in events if e["event"] == "transcript"]
    result.errors = [str(e.get("message")) for e in events if e["event"] == "error"]
    ends = [e["ts"] for e in events if e["event"] == "audio_end"]
    starts = [e["ts"] for e in events if e["event"] == "playback_start"]
    if ends and starts:
        result.latency_s = starts[0] - ends[0]
    result.reply_bytes = reply.stat().st_size if reply.exists() else 0
    heard = gateway.heard()[before:]
    if heard:
        result.stt_ms, result.stt_audio_s = heard[-1][1], heard[-1][2]
    return result


def run(turns: int, cold: int, percent: float, workdir: Path, audio: Path = SHARED_AUDIO,
        report: bool = True) -> tuple[list[TurnResult], list[float], tuple[int, int, float]]:
    """``turns`` turns, the first ``cold`` on a new gateway each; (results, gateway start
    seconds, the quota's (periods, throttled periods, throttled seconds))."""
    wav = turn_wav(workdir, audio)
    results: list[TurnResult] = []
    starts: list[float] = []
    with CpuQuota(percent) as quota:
        prefix = quota.prefix()
        gateway: GatewayProcess | None = None
        try:
            for n in range(1, turns + 1):
                kind = "cold" if n <= cold or gateway is None else "warm"
                if kind == "cold":
                    if gateway is not None:
                        gateway.stop()
                    gateway = GatewayProcess(workdir, n, prefix)
                    starts.append(gateway.wait_listening())
                result = run_turn(n, kind, gateway, workdir, wav, prefix)
                results.append(result)
                if report:
                    print(_line(result), flush=True)
        finally:
            if gateway is not None:
                gateway.stop()
        throttled = quota.throttled()
    return results, starts, throttled


def _line(r: TurnResult) -> str:
    latency = "-" if r.latency_s is None else f"{r.latency_s:.1f} s"
    stt = "-" if r.stt_ms is None else f"{r.stt_ms / 1000:.1f} s for {r.stt_audio_s:.1f} s"
    said = " | ".join(r.transcripts) or "(none)"
    verdict = "right" if r.right else "WRONG" + (f" ({'; '.join(r.errors)})" if r.errors else "")
    return (f"turn {r.number:2d} {r.kind}: heard {said!r}; reply {r.reply_bytes} bytes; "
            f"end of speech to reply audio {latency}; speech to text {stt}; {verdict}")


def rows(results: list[TurnResult], starts: list[float], percent: float,
         throttled: tuple[int, int, float]) -> list[Row]:
    """The section's summary rows."""
    right = sum(r.right for r in results)
    latencies = [r.latency_s for r in results if r.latency_s is not None]
    rtf = [r.stt_ms / 1000 / r.stt_audio_s for r in results if r.stt_ms and r.stt_audio_s]
    cpu = [r.daemon_cpu_s for r in results if r.daemon_cpu_s is not None]
    where = f"{percent:g} % of one core, daemon and gateway on it"
    return [
        Row("S1", "turns right (heard exactly, reply > 100 kB, no error)",
            f"{right}/{len(results)}", where, f"{len(results)}/{len(results)}",
            right == len(results)),
        Row("S2", "end of speech to first reply audio (audio_end to playback_start)",
            _spread(latencies, "s"), "listen.response_timeout_s: 15 s", "", None),
        Row("S3", "gateway speech to text, wall time per second of audio",
            _spread(rtf, "x"), "real time: 1x", "", None),
        Row("S4", "gateway start to listening (workers loaded)", _spread(starts, "s"),
            f"{len(starts)} starts", "", None),
        Row("S5", "daemon CPU per turn (process, start-up included)", _spread(cpu, "s"),
            "", "", None),
        Row("S6", "quota periods throttled", f"{throttled[1]}/{throttled[0]} "
            f"({throttled[2]:.0f} s held back)", "", "", None),
    ]


def _spread(values: list[float], unit: str) -> str:
    if not values:
        return "none"
    return (f"median {statistics.median(values):.2f} {unit}, max {max(values):.2f} {unit} "
            f"(n={len(values)})")


def section(results: list[TurnResult], summary: list[Row], command: str, took: float) -> str:
    """The Markdown section, between its markers."""
    table = ["| turn | gateway | heard | reply bytes | end of speech to reply audio | "
             "speech to text | result |", "|---|---|---|---|---|---|---|"]
    for r in results:
        table.append(
            f"| {r.number} | {r.kind} | {' / '.join(r.transcripts) or '(none)'} | "
            f"{r.reply_bytes} | {'-' if r.latency_s is None else f'{r.latency_s:.1f} s'} | "
            + ("-" if r.stt_ms is None else f"{r.stt_ms:.0f} ms for {r.stt_audio_s:.1f} s")
            + f" | {'right' if r.right else 'WRONG ' + '; '.join(r.errors)} |"
        )
    today = datetime.date.today().isoformat()
    return (
        f"{MARK}\n## Slow board: whole turns under a CPU quota\n\n"
        f"Measured on {today} on {machine()} (shared with other work), in "
        f"{took / 60:.1f} minutes, as root, with:\n\n```\n{command}\n```\n\n"
        f"{markdown_table(summary)}\n\n" + "\n".join(table) + "\n\n" + NOTES.strip()
        + f"\n{END}\n"
    )


NOTES = """
How: `scripts/benchmarks/slowboard.py` (its docstring). The cgroup holds the gateway,
its two speech-to-text workers (`stt.workers: 2`, as shipped), espeak-ng and the
daemon; all of them share the quota on one pinned core. "cold" turns start a new
gateway and run the daemon as soon as its port opens; "warm" turns follow back to back
on the last one. S2 is measured on the daemon's clock; S3 from the gateway's own log
line ("heard ... in N ms for X s"), which is wall time in the worker, so the quota and
anything else on the core count in it. What made turns come back empty or silent on a
slow board, and the fixes: README, "Slow boards".
"""


def write_section(path: Path, text: str) -> None:
    """Replace this benchmark's section of ``path`` (kept before the echo section)."""
    old = path.read_text() if path.exists() else ""
    if MARK in old and END in old:
        new = old[: old.index(MARK)] + text + old[old.index(END) + len(END) + 1:]
    else:
        echo = old.find("<!-- echo cancellation")
        new = old.rstrip() + "\n\n" + text if echo < 0 else (
            old[:echo] + text + "\n" + old[echo:])
    path.write_text(new)


def slowboard_step(quick: bool, turns: int | None = None, cold: int | None = None,
                   percent: float = 12.0, out: Path | None = None,
                   audio: Path = SHARED_AUDIO) -> list[Row]:
    """bench.py's ``slowboard`` step: run, print, write the section (not with ``quick``)."""
    turns = turns or (2 if quick else 20)
    cold = cold if cold is not None else (1 if quick else 5)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="voice-agent-slowboard-") as tmp:
        try:
            results, starts, throttled = run(turns, cold, percent, Path(tmp), audio)
        except QuotaUnavailable as exc:
            print(f"slow board: not measured: {exc}", flush=True)
            return [Row("S1", "turns right under a CPU quota", f"not measured: {exc}",
                        "", "", None)]
    summary = rows(results, starts, percent, throttled)
    if not quick:
        command = " ".join(shlex.quote(a) for a in [".venv/bin/python", *sys.argv])
        target = out or REPO / "docs" / "benchmarks.md"
        write_section(target, section(results, summary, command, time.monotonic() - t0))
        print(f"slow board section written to {target}")
    return summary


def bench_step(quick: bool) -> list[Row]:
    """``bench.py --only slowboard``: its table is printed and goes to its own section
    of docs/benchmarks.md, not to bench.py's table (so none is returned)."""
    print(text_table(slowboard_step(quick)), flush=True)
    return []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--cold", type=int, default=5, help="turns on a new gateway each")
    parser.add_argument("--percent", type=float, default=12.0, help="of one core")
    parser.add_argument("--out", type=Path, default=None, help="default: docs/benchmarks.md")
    parser.add_argument("--audio", type=Path, default=SHARED_AUDIO,
                        help=f"the recordings (default: {SHARED_AUDIO})")
    parser.add_argument("--quick", action="store_true", help="print only, write nothing")
    args = parser.parse_args()
    summary = slowboard_step(args.quick, args.turns, args.cold, args.percent, args.out,
                             args.audio)
    print(text_table(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
