"""Wake, done and error sounds, and the policy that keeps the chime out of utterances.

Sounds
------
:func:`load_sound` turns a ``sounds.*`` setting into samples: ``"builtin"``
gives a sound generated here (no files shipped, nothing downloaded), a path
gives that audio file converted to 16 kHz mono, and ``None`` gives ``None``
(silent). All are int16 at 16 kHz, ready for
:meth:`agent.audio.playback.Player.play_sound`.

- wake: a rising two-tone chime, 150 ms;
- done: the same two tones falling, 150 ms;
- error: a falling tone, 350 ms;
- alarm: four short 880 Hz beeps, 0.9 s (a ringing timer).

Chime exclusion (the policy)
----------------------------
The microphone hears the wake chime; sent to the gateway, it gets transcribed
as "uh". So when a wake sound is configured, the daemon leaves the samples
captured while it plays out of the utterance. Positions are audio time, so
the window is computed from the detection position, not from a clock:

1. The wake word fires at position ``D`` (the end of the frame in which the
   detector crossed its threshold). The daemon plays the wake sound and opens
   ``Chunker(start=D - preroll, ...)``.
2. It calls ``chunker.skip(*chime_window(D, len(wake_sound)))``: the window is
   ``[D, D + len(sound) + margin)``, the margin (150 ms by default) covering
   the time from detection to the sound leaving the speaker (inference and
   queueing) plus the output latency and the room's echo.
3. The utterance sent is therefore the pre-roll and the audio up to ``D``,
   then the audio from the end of the window on. Each part is sample-exact
   (see :mod:`agent.audio.ring`).

This deliberately breaks "the utterance is one contiguous slice of the
capture" for exactly that window, and only when a wake sound is configured:
with ``sounds.wake: null`` no window is skipped and the utterance is one
contiguous slice from ``D - preroll`` to its end. The same applies when
listening starts from the button, with ``D`` = the position at the press.
The daemon should also keep the VAD from counting the window as speech
(e.g. by not starting the end-of-speech clock before the window's end).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import numpy as np
import soundfile as sf
import soxr

from agent.audio.frames import SAMPLE_RATE

SoundName = Literal["wake", "done", "error", "alarm"]

CHIME_MARGIN_MS = 150
"""Default margin after the chime for detection-to-speaker delay and output latency."""


class SoundError(ValueError):
    """A configured sound file cannot be read."""


def _tone(freqs: tuple[float, float], ms: int, amplitude: float = 0.3) -> np.ndarray:
    """A sine sweeping from freqs[0] to freqs[1] Hz, with 8 ms raised-cosine fades."""
    n = SAMPLE_RATE * ms // 1000
    f = np.linspace(freqs[0], freqs[1], n)
    phase = 2 * np.pi * np.cumsum(f) / SAMPLE_RATE
    x = amplitude * np.sin(phase)
    fade = min(n // 2, SAMPLE_RATE * 8 // 1000)
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, fade))
    x[:fade] *= ramp
    x[n - fade :] *= ramp[::-1]
    return x


def builtin_sound(name: SoundName) -> np.ndarray:
    """The built-in ``wake``, ``done`` or ``error`` sound: int16, 16 kHz, mono."""
    if name == "wake":
        x = np.concatenate([_tone((660, 660), 70), _tone((990, 990), 80)])
    elif name == "done":
        x = np.concatenate([_tone((990, 990), 70), _tone((660, 660), 80)])
    elif name == "error":
        x = _tone((520, 260), 350, amplitude=0.35)
    elif name == "alarm":
        beep, gap = _tone((880, 880), 120, amplitude=0.4), np.zeros(SAMPLE_RATE * 100 // 1000)
        x = np.concatenate([beep, gap] * 4)
    else:
        raise ValueError(f"no built-in sound {name!r}")
    return np.round(x * 32767).astype(np.int16)


def load_sound(spec: str | os.PathLike[str] | None, name: SoundName) -> np.ndarray | None:
    """Samples for the setting ``sounds.<name>``: ``"builtin"``, a path, or ``None``.

    A file is mixed down to mono and converted to 16 kHz. Raises
    :class:`SoundError` when it cannot be read, so a bad path is found at
    start-up rather than at the first wake word.
    """
    if spec is None:
        return None
    if str(spec) == "builtin":
        return builtin_sound(name)
    path = Path(spec).expanduser()
    try:
        x, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise SoundError(f"sounds.{name}: cannot read {path}: {exc}") from exc
    mono = x.mean(axis=1) if x.shape[1] > 1 else x[:, 0]
    if rate != SAMPLE_RATE and len(mono):
        mono = soxr.resample(mono, rate, SAMPLE_RATE)
    return np.clip(np.rint(mono * 32768), -32768, 32767).astype(np.int16)


def chime_window(
    detection_pos: int, sound_samples: int, margin_ms: int = CHIME_MARGIN_MS
) -> tuple[int, int]:
    """The capture positions ``[start, end)`` to skip for a chime played at ``detection_pos``.

    ``sound_samples`` is the chime's length at 16 kHz (``len(sound)``).
    """
    if sound_samples <= 0:
        return detection_pos, detection_pos
    return detection_pos, detection_pos + sound_samples + SAMPLE_RATE * margin_ms // 1000
