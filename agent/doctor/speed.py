"""Is this board fast enough? The doctor's ``speed`` line.

It times, in this thread's CPU time, the work the daemon does on live
audio: the wake word engine on every frame (the capture thread) and the
VAD during a turn (the conversation thread), on a few seconds of noise
loud enough to keep the silence gate open. Past half a core the board
will fall behind the microphone once the gateway, espeak-ng or anything
else wants the CPU too. When the gateway runs on this board as a service,
what its log said about its own speed (once, :data:`~agent.common.slowness.SLOW_STT`)
is reported as well.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from agent.common.settings_values import is_loopback
from agent.common.slowness import GATEWAY_UNIT, SLOW_STT
from agent.doctor.report import Check

RATE = 16000
FRAME = 1280
SECONDS = 4.0
BUSY_SHARE = 0.5
"""CPU share of one core for live audio above which the board is too slow."""
FIX = (
    "this board is too slow for the configuration: use wake.engine: micro (microWakeWord, "
    "a fraction of the CPU), fewer wake.models, and run the gateway on another machine"
)
FIX_STT = (
    "set stt.workers: 1 in the gateway's settings, run the gateway on a faster machine "
    "(gateway.url), or use a cloud engine (stt.engine)"
)


def audio_load(wake: Any, seconds: float = SECONDS) -> tuple[float, float]:
    """CPU seconds per second of audio of (the wake word engine, the VAD)."""
    from agent.hearing.vad import default_vad
    from agent.hearing.wake import WakeDetector

    rng = np.random.default_rng(0)
    audio = np.round(rng.standard_normal(int(seconds * RATE)) * 1000).astype(np.int16)
    detector = WakeDetector.from_settings(wake)
    vad = default_vad(RATE)
    t0 = time.thread_time()
    for i in range(0, len(audio) - FRAME + 1, FRAME):
        detector.process(audio[i : i + FRAME], i)
    wake_cpu = time.thread_time() - t0
    t0 = time.thread_time()
    for i in range(0, len(audio) - 512 + 1, 512):
        vad(audio[i : i + 512])
    vad_cpu = time.thread_time() - t0
    return wake_cpu / seconds, vad_cpu / seconds


def gateway_said(url: str) -> str | None:
    """The gateway service's own word on its speech-to-text speed, when it runs here."""
    host = urlsplit(url).hostname or ""
    if not is_loopback(host) or shutil.which("journalctl") is None:
        return None
    try:
        out = subprocess.run(
            ["journalctl", "-u", GATEWAY_UNIT, "-b", "-o", "cat", "--no-pager", "-q",
             "-g", SLOW_STT, "-n", "1"],
            capture_output=True, text=True, timeout=10, check=False,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.splitlines()[-1] if out else None


def check_speed(wake: Any, gateway_url: str) -> Check:
    """One line: the live-audio load on this board, and the local gateway's verdict."""
    try:
        wake_s, vad_s = audio_load(wake)
    except Exception as exc:  # noqa: BLE001 - the wake check already names model problems
        return Check("speed", None, f"not measured: {exc}")
    share = wake_s + vad_s
    detail = (f"live audio costs {share:.0%} of one core (wake word {wake_s * 1000:.0f} ms, "
              f"VAD {vad_s * 1000:.0f} ms of CPU per second)")
    said = gateway_said(gateway_url)
    if said is not None:
        return Check("speed", None, f"{detail}; the gateway on this board: {said}", FIX_STT)
    if share > BUSY_SHARE:
        return Check("speed", None, f"{detail}: more than {BUSY_SHARE:.0%}", FIX)
    return Check("speed", True, detail)
