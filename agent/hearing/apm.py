"""WebRTC's audio processing module (noise suppression, AGC) on 10 ms frames.

The implementation is the one in the ``livekit`` wheel
(``livekit.rtc.AudioProcessingModule``): WebRTC's own C++ code behind a small
FFI, with manylinux wheels for x86-64 and aarch64 (a Raspberry Pi with 64-bit
Raspberry Pi OS); the optional extra ``webrtc`` installs it. It is imported
only when ``audio.noise_suppression`` or ``audio.auto_gain`` is on. Its echo
canceller (AEC3) is not used: see :mod:`agent.hearing.speex` for why.
"""

from __future__ import annotations

from typing import Any

import numpy as np

SAMPLE_RATE = 16000
CHUNK = 160
"""Samples per call: WebRTC processes exactly 10 ms at a time."""


class ApmUnavailable(RuntimeError):
    """The ``livekit`` package (WebRTC's audio processing) cannot be loaded here."""


def load_rtc() -> Any:
    """``livekit.rtc``, or :class:`ApmUnavailable` saying why not."""
    try:
        from livekit import rtc
    except Exception as exc:  # ImportError, or the FFI library failing to load
        raise ApmUnavailable(
            "WebRTC audio processing needs the livekit package "
            f"(pip install 'voice-agent[webrtc]'; {type(exc).__name__}: {exc})"
        ) from exc
    return rtc


class WebRtcApm:
    """One WebRTC audio processing module: int16 16 kHz mono, 160 samples per call.

    ``noise_suppression`` also turns on the high-pass filter it is designed to
    follow; ``auto_gain`` is WebRTC's gain controller.
    """

    def __init__(self, *, noise_suppression: bool, auto_gain: bool) -> None:
        rtc = load_rtc()
        self._apm = rtc.AudioProcessingModule(
            noise_suppression=noise_suppression,
            high_pass_filter=noise_suppression,
            auto_gain_control=auto_gain,
        )
        # One frame object, reused: its buffer is a bytearray that the module
        # processes in place, and a numpy view of it saves copies.
        self._near = rtc.AudioFrame(bytearray(CHUNK * 2), SAMPLE_RATE, 1, CHUNK)
        self._near_view = np.frombuffer(self._near.data, dtype=np.int16)

    def process(self, near: np.ndarray) -> np.ndarray:
        """Process 10 ms of microphone audio; returns the cleaned 160 samples (a copy)."""
        self._near_view[:] = near
        self._apm.process_stream(self._near)
        return self._near_view.copy()
