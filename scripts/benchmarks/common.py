"""Shared pieces of the benchmarks: paths, result rows, audio files, /proc, the daemon process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "scripts"
SHARED_AUDIO = REPO / "tests" / "data" / "audio"  # the project's own copies (NOTICE there)
SR = 16000
FRAME = 1280  # openWakeWord's 80 ms frame
CLOCK_TICK = os.sysconf("SC_CLK_TCK")

# agent, bench_wake, the tests' speech helpers and the wake tests' signal set
for _path in (REPO, SCRIPTS, REPO / "tests", REPO / "tests" / "hearing"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))


@dataclass
class Row:
    """One line of the results table: a figure, its reference, its target and the verdict."""

    key: str
    figure: str
    measured: str
    reference: str
    target: str
    passed: bool | None  # None: a figure without a target (context)

    @property
    def verdict(self) -> str:
        """PASS, FAIL or a dash."""
        return "-" if self.passed is None else ("PASS" if self.passed else "FAIL")


def write_wav(path: Path, samples: np.ndarray) -> Path:
    """16 kHz mono 16-bit WAV."""
    sf.write(str(path), np.asarray(samples, dtype=np.int16), SR, subtype="PCM_16")
    return path


def read_wav(path: Path) -> np.ndarray:
    """int16 samples of a 16 kHz mono file."""
    data, rate = sf.read(str(path), dtype="int16")
    if rate != SR or data.ndim != 1:
        raise ValueError(f"{path}: expected 16 kHz mono")
    return np.asarray(data, dtype=np.int16)


def noise(n: int, dbfs: float, seed: int) -> np.ndarray:
    """White noise at an RMS level of ``dbfs`` (a quiet room's hiss)."""
    rng = np.random.default_rng(seed)
    return np.round(rng.standard_normal(n) * 32768 * 10 ** (dbfs / 20)).astype(np.int16)


def steady_room(seconds: float, floor_dbfs: float, with_hum: bool, seed: int = 0) -> np.ndarray:
    """A steady room at ``floor_dbfs`` RMS: white noise, or noise and 50 Hz hum (with its
    third harmonic) 3 dB below the floor each, as ``tests/hearing/test_gate.py`` makes."""
    n = int(seconds * SR)
    if not with_hum:
        return noise(n, floor_dbfs, seed)
    t = np.arange(n) / SR
    wave = np.sin(2 * np.pi * 50 * t) + 0.5 * np.sin(2 * np.pi * 150 * t)
    wave = wave / np.sqrt(np.mean(wave**2)) * 32768 * 10 ** ((floor_dbfs - 3) / 20)
    return mix(noise(n, floor_dbfs - 3, seed), np.round(wave).astype(np.int16))


def mix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Sum of two int16 signals of the same length, clipped."""
    return np.clip(a.astype(np.int32) + b, -32768, 32767).astype(np.int16)


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (nearest rank), NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(np.ceil(q / 100 * len(ordered))) - 1))]


# ---------------------------------------------------------------------------- /proc


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (all its threads)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICK  # utime, stime


@dataclass(frozen=True)
class ProcSample:
    """Memory (MB), threads and open file descriptors of a process at one moment."""

    rss_mb: float
    hwm_mb: float
    threads: int
    fds: int


def proc_sample(pid: int) -> ProcSample | None:
    """VmRSS, VmHWM (peak RSS of this process image), threads and fds; None if gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            kb = {
                k: int(v.split()[0])
                for k, _, v in (line.partition(":") for line in status)
                if k in ("VmRSS", "VmHWM")
            }
        threads = len(os.listdir(f"/proc/{pid}/task"))
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except (OSError, ValueError):
        return None
    if "VmRSS" not in kb or "VmHWM" not in kb:
        return None  # a zombie: exited, not yet reaped
    return ProcSample(kb["VmRSS"] / 1024, kb["VmHWM"] / 1024, threads, fds)


# ---------------------------------------------------------------------------- the daemon


def voice_agent_command() -> list[str]:
    """``voice-agent`` of this interpreter's environment (the console script, else -c)."""
    script = Path(sys.executable).with_name("voice-agent")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from agent.cli import main; sys.exit(main())"]


def daemon_config(url: str, audio: Path, out: Path, **sections: dict[str, Any]) -> dict[str, Any]:
    """A configuration for a batch run: file input not paced, file output, events as JSON."""
    config: dict[str, Any] = {
        "gateway": {"url": url},
        "audio": {
            "input": {"file": str(audio), "realtime": False},
            "output": {"file": str(out), "realtime": False},
        },
        "wake": {"models": ["hey_jarvis"]},
        "sounds": {"wake": None, "done": None, "error": None},
        "output": {"print": False},
        "log": {"level": "warning", "format": "json"},
    }
    for name, values in sections.items():
        config.setdefault(name, {}).update(values)
    return config


class DaemonProcess:
    """``voice-agent run --config FILE`` as a child process, watched from outside.

    Its events (JSON lines on stdout) are collected and passed to ``on_event``
    on a reader thread; its timing marks (:mod:`agent.device.timings`) go to a file.
    ``cpu_at_connect`` is its CPU time when the ``connected`` event arrived
    (models loaded, capture about to start); :meth:`wait` gives the whole CPU
    time from the kernel's accounting of the exited child (``wait4``).
    """

    def __init__(
        self,
        workdir: Path,
        name: str,
        config: dict[str, Any],
        on_event: Callable[[DaemonProcess, dict[str, Any]], None] | None = None,
        prefix: tuple[str, ...] = (),
    ) -> None:
        self.prefix = prefix
        """Runs the daemon under this command (a CPU quota's cgroup, for the slow board)."""
        self.workdir = workdir
        self.config_path = workdir / f"{name}.yaml"
        self.config_path.write_text(json.dumps(config, indent=1))  # JSON is YAML
        self.timings_path = workdir / f"{name}.timings.jsonl"
        self.stderr_path = workdir / f"{name}.stderr"
        self.timings_path.unlink(missing_ok=True)
        self.on_event = on_event
        self.events: list[dict[str, Any]] = []
        self.cpu_at_connect: float | None = None
        self.at_connect: ProcSample | None = None
        self.cpu_s: float | None = None
        self.returncode: int | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None

    @property
    def pid(self) -> int:
        """The child's process id."""
        assert self._proc is not None
        return self._proc.pid

    def start(self) -> DaemonProcess:
        """Launch the daemon."""
        env = dict(os.environ, VOICE_AGENT_TIMINGS=str(self.timings_path))
        with open(self.stderr_path, "w") as err:
            self._proc = subprocess.Popen(
                [*self.prefix, *voice_agent_command(), "run", "--config", str(self.config_path)],
                cwd=REPO,
                env=env,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
            )
        self._reader = threading.Thread(target=self._read, name="daemon-events", daemon=True)
        self._reader.start()
        return self

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if not isinstance(event, dict) or "event" not in event:
                continue
            if event["event"] == "connected" and self.cpu_at_connect is None:
                try:
                    self.cpu_at_connect = proc_cpu_s(self.pid)
                except OSError:
                    pass
                self.at_connect = proc_sample(self.pid)
            self.events.append(event)
            if self.on_event is not None:
                self.on_event(self, event)

    def wait(self, timeout: float) -> int:
        """Wait for the daemon to exit (killed after ``timeout`` s); its exit status.

        ``cpu_s`` is then user + system time of the daemon process alone.
        """
        assert self._proc is not None
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(self.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                self._proc.send_signal(signal.SIGTERM)
                try:
                    pid, status, usage = _wait4_within(self.pid, 10.0)
                except TimeoutError:
                    self._proc.kill()
                    pid, status, usage = os.wait4(self.pid, 0)
                break
            time.sleep(0.02)
        self.returncode = os.waitstatus_to_exitcode(status)
        self._proc.returncode = self.returncode  # reaped here: Popen must not wait again
        self.cpu_s = usage.ru_utime + usage.ru_stime
        if self._reader is not None:
            self._reader.join(10)
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        return self.returncode

    def marks(self, name: str | None = None) -> list[dict[str, Any]]:
        """The timing marks written so far (of one name, or all)."""
        if not self.timings_path.exists():
            return []
        out = []
        for line in self.timings_path.read_text().splitlines():
            try:
                mark = json.loads(line)
            except ValueError:
                continue
            if name is None or mark.get("mark") == name:
                out.append(mark)
        return out

    def stderr_tail(self, lines: int = 5) -> str:
        """The last log lines, for error messages."""
        try:
            return "\n".join(self.stderr_path.read_text().splitlines()[-lines:])
        except OSError:
            return ""

    def count(self, event: str, **match: Any) -> int:
        """How many events named ``event`` (with these field values) arrived."""
        return sum(
            1
            for e in self.events
            if e["event"] == event and all(e.get(k) == v for k, v in match.items())
        )


def _wait4_within(pid: int, seconds: float) -> tuple[int, int, Any]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found, status, usage = os.wait4(pid, os.WNOHANG)
        if found:
            return found, status, usage
        time.sleep(0.05)
    raise TimeoutError
