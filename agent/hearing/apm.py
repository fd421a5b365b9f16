"""WebRTC's audio processing module (AEC3, noise suppression, AGC) on 10 ms frames.

The implementation is the one in the ``livekit`` wheel
(``livekit.rtc.AudioProcessingModule``): WebRTC's own C++ code behind a small
FFI, with manylinux wheels for x86-64 and aarch64 (a Raspberry Pi with 64-bit
Raspberry Pi OS). It is imported only when processing is switched on, so the
bypass path does not load it.
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
            f"WebRTC audio processing needs the livekit package ({type(exc).__name__}: {exc})"
        ) from exc
    return rtc


class WebRtcApm:
    """One WebRTC audio processing module: int16 16 kHz mono, 160 samples per call.

    ``echo_cancel`` turns on AEC3 and the high-pass filter it is designed to
    follow; ``noise_suppression`` and ``auto_gain`` the other two stages.
    """

    def __init__(self, *, echo_cancel: bool, noise_suppression: bool, auto_gain: bool) -> None:
        rtc = load_rtc()
        self.echo_cancel = echo_cancel
        self._apm = rtc.AudioProcessingModule(
            echo_cancellation=echo_cancel,
            noise_suppression=noise_suppression,
            high_pass_filter=echo_cancel or noise_suppression,
            auto_gain_control=auto_gain,
        )
        # One frame object per direction, reused: its buffer is a bytearray that
        # the module processes in place, and a numpy view of it saves copies.
        self._near = rtc.AudioFrame(bytearray(CHUNK * 2), SAMPLE_RATE, 1, CHUNK)
        self._far = rtc.AudioFrame(bytearray(CHUNK * 2), SAMPLE_RATE, 1, CHUNK)
        self._near_view = np.frombuffer(self._near.data, dtype=np.int16)
        self._far_view = np.frombuffer(self._far.data, dtype=np.int16)
        self._delay_ms: int | None = None

    def reverse(self, far: np.ndarray) -> None:
        """Feed 10 ms of what the speaker played (the far-end reference)."""
        self._far_view[:] = far
        self._apm.process_reverse_stream(self._far)

    def set_delay_ms(self, delay_ms: int) -> None:
        """The estimated render-to-capture delay (a hint: AEC3 also finds it itself)."""
        delay_ms = max(0, min(500, int(delay_ms)))
        if delay_ms != self._delay_ms:
            self._apm.set_stream_delay_ms(delay_ms)
            self._delay_ms = delay_ms

    def process(self, near: np.ndarray) -> np.ndarray:
        """Process 10 ms of microphone audio; returns the cleaned 160 samples (a copy)."""
        self._near_view[:] = near
        self._apm.process_stream(self._near)
        return self._near_view.copy()
