"""The silence gate's judgement: is this 80 ms frame quiet, given the room?

A wake engine costs CPU on every frame; in a steady room (hiss, hum, a fan,
a fridge) nothing can be said, so the frames that stay near the room's own
level need not be scored. This module only *judges* frames; what to do with
quiet ones (skip inference, replay the window when sound returns) is the
wake detector's business (:mod:`agent.hearing.wake`). Keeping the two apart
lets another stage (echo cancellation) hand the gate a cleaned signal.

Two modes:

- ``fixed``: a frame is quiet below ``fixed_dbfs`` (``wake.noise_gate_dbfs``).
- ``adaptive``: :class:`NoiseFloor` tracks the room's floor in audio time
  (it follows a falling level at once and a rising one slowly, so speech
  hardly moves it, while a fridge switching on is learnt within seconds);
  a frame is quiet within ``margin_db`` of that floor, and never above
  :data:`ADAPTIVE_CEILING_DBFS`. ``fixed_dbfs``, when set, still counts as
  quiet below it, so adaptive never closes less often than fixed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

GateMode = Literal["adaptive", "fixed"]

FRAME_SECONDS = 0.08
#: At or below this level a frame is digital silence: quiet, but not learnt as the floor.
SILENT_DBFS = -120.0
#: How fast the tracked floor may rise, in dB per second of audio. Slow enough that
#: 2 s of speech lifts it by 3 dB (and the next pause brings it back at once), fast
#: enough that a 25 dB step in the room (a fan switched on) is learnt in ~17 s.
RISE_DB_PER_S = 1.5
#: Frames within this many dB of the floor are quiet (frame-to-frame spread of a
#: steady room: ~0.2 dB for hiss, 1-3 dB for real rooms; speech is 15-40 dB above).
DEFAULT_MARGIN_DB = 6.0
#: Whatever the floor, a frame louder than this is never quiet: a room that loud is
#: a TV or a conversation, where the gate would rarely close and must not guess.
ADAPTIVE_CEILING_DBFS = -35.0


def frame_dbfs(frame: np.ndarray) -> float:
    """RMS level of int16 audio in dB relative to full scale (-inf for digital silence)."""
    if frame.size == 0:
        return -math.inf
    # A dot product of the float64 samples: every square and every partial sum of
    # up to 2**22 int16 squares is an integer below 2**53, so the sum is exact in any
    # order (the same value as np.mean(np.square(...))), without the temporary squares.
    x = frame.reshape(-1).astype(np.float64)
    mean_square = float(np.dot(x, x)) / x.size
    if mean_square <= 0.0:
        return -math.inf
    return 10.0 * math.log10(mean_square / (32768.0 * 32768.0))


class NoiseFloor:
    """The room's noise floor in dBFS, tracked frame by frame in audio time.

    Minimum tracking with a slow leak upwards: a frame below the floor lowers it
    to its level; a frame above raises it by at most ``rise_db_per_s`` per second
    of audio. In a steady room it settles at the low edge of the frames' spread.
    """

    def __init__(self, rise_db_per_s: float = RISE_DB_PER_S) -> None:
        self.rise_per_frame = rise_db_per_s * FRAME_SECONDS
        self.level: float | None = None  # None until the first frame
        self.frames = 0

    def reset(self) -> None:
        """Forget the room."""
        self.level = None
        self.frames = 0

    def update(self, level_dbfs: float) -> float | None:
        """Take one frame's level; the floor after it (None before any sound).

        Digital silence (a device or file starting with zeros, the ``detect``
        pads) says nothing about the room and is not learnt: otherwise the floor
        would start at -120 dBFS and take over a minute to climb to the room's.
        """
        if level_dbfs <= SILENT_DBFS:
            return self.level
        level = level_dbfs
        self.frames += 1
        if self.level is None or level <= self.level:
            self.level = level
        else:
            self.level = min(level, self.level + self.rise_per_frame)
        return self.level


@dataclass
class GateStats:
    """What the gate saw: frames judged and the floor's range (for ``detect`` and doctor)."""

    frames: int = 0
    quiet: int = 0
    floor_min: float = math.inf
    floor_max: float = -math.inf


class SilenceGate:
    """Judges 80 ms frames quiet or not (fixed level, or the adaptive floor + margin).

    Args:
        mode: ``adaptive`` (track the floor) or ``fixed``.
        fixed_dbfs: the fixed level (``wake.noise_gate_dbfs``): in fixed mode the
            only rule; in adaptive mode frames below it are quiet too. None with
            ``fixed`` is not allowed (that is no gate at all: pass no gate).
        margin_db: adaptive mode: how far above the floor a frame is still quiet.
    """

    def __init__(
        self,
        mode: GateMode = "adaptive",
        fixed_dbfs: float | None = None,
        margin_db: float = DEFAULT_MARGIN_DB,
    ) -> None:
        if mode == "fixed" and fixed_dbfs is None:
            raise ValueError("a fixed silence gate needs a level (fixed_dbfs)")
        self.mode: GateMode = mode
        self.fixed_dbfs = fixed_dbfs
        self.margin_db = margin_db
        self.floor = NoiseFloor()
        self.stats = GateStats()
        #: The level of the last frame judged, in dBFS (-inf for digital silence).
        self.last_level = -math.inf

    def reset(self) -> None:
        """Forget the room and the statistics."""
        self.floor.reset()
        self.stats = GateStats()
        self.last_level = -math.inf

    @property
    def threshold_dbfs(self) -> float:
        """The level below which a frame is quiet now."""
        fixed = -math.inf if self.fixed_dbfs is None else self.fixed_dbfs
        if self.mode == "fixed" or self.floor.level is None:
            return fixed
        adaptive = min(self.floor.level + self.margin_db, ADAPTIVE_CEILING_DBFS)
        return max(fixed, adaptive)

    def quiet(self, frame: np.ndarray) -> bool:
        """Judge one frame (and learn the room from it)."""
        level = frame_dbfs(frame)
        self.last_level = level
        if self.mode == "adaptive":
            # Judge against the floor learnt *before* this frame, then learn from it:
            # a loud onset must not raise the bar it is judged by.
            threshold = self.threshold_dbfs
            floor = self.floor.update(level)
            if floor is not None:
                self.stats.floor_min = min(self.stats.floor_min, floor)
                self.stats.floor_max = max(self.stats.floor_max, floor)
        else:
            threshold = self.threshold_dbfs
        is_quiet = level < threshold
        self.stats.frames += 1
        self.stats.quiet += is_quiet
        return is_quiet

    def describe(self) -> str:
        """One phrase for reports: the mode and, when adaptive, the floor tracked."""
        if self.mode == "fixed":
            return f"fixed gate at {self.fixed_dbfs:g} dBFS"
        if self.floor.level is None:
            return f"adaptive gate (floor + {self.margin_db:g} dB), no audio yet"
        return (
            f"adaptive gate: floor {self.floor.level:.1f} dBFS now "
            f"(tracked {self.stats.floor_min:.1f} to {self.stats.floor_max:.1f}), "
            f"quiet below {self.threshold_dbfs:.1f} dBFS"
        )
