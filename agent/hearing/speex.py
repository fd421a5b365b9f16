"""Speex's acoustic echo canceller (libspeexdsp, Xiph), through ctypes.

The multidelay block frequency-domain adaptive filter (MDF) of libspeexdsp:
a linear canceller. Its residual-echo suppressor (``speex_preprocess`` given the
echo state) is optional and off by default (``residual_db``): it takes out
what the linear filter leaves, but attenuates the near end with it; the
benchmark (scripts/bench_echo_rooms.py) reports it on and off. The default is
linear only because the
wake word models need the user's voice intact during double talk, and WebRTC's
AEC3 (tried first, through ``livekit``) suppresses the near end so hard while
the reply plays that a wake word under it scored 0.0 instead of 1.0 (see
docs/benchmarks.md). The library is the Debian package ``libspeexdsp1``
(Raspberry Pi OS has it; ``scripts/install.sh`` and ``scripts/setup.sh``
install it); there is no Python wheel to build.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Any

import numpy as np

from agent.hearing.apm import CHUNK, SAMPLE_RATE, ApmUnavailable

_SET_SAMPLING_RATE = 24  # SPEEX_ECHO_SET_SAMPLING_RATE
_GET_IMPULSE_RESPONSE_SIZE, _GET_IMPULSE_RESPONSE = 27, 29
# speex_preprocess_ctl requests (speex/speex_preprocess.h)
_PP_SET_DENOISE, _PP_SET_AGC, _PP_SET_DEREVERB = 0, 2, 8  # the VAD is off by default
_PP_SET_NOISE_SUPPRESS, _PP_SET_ECHO_SUPPRESS = 18, 20
_PP_SET_ECHO_SUPPRESS_ACTIVE, _PP_SET_ECHO_STATE = 22, 24
_lib: Any = None


def _load() -> Any:
    global _lib
    if _lib is None:
        name = ctypes.util.find_library("speexdsp") or "libspeexdsp.so.1"
        try:
            lib = ctypes.CDLL(name)
        except OSError as exc:
            raise ApmUnavailable(
                f"echo cancellation needs libspeexdsp (Debian package libspeexdsp1): {exc}"
            ) from exc
        lib.speex_echo_state_init.restype = ctypes.c_void_p
        lib.speex_echo_state_init.argtypes = [ctypes.c_int, ctypes.c_int]
        lib.speex_echo_cancellation.restype = None
        lib.speex_echo_cancellation.argtypes = [ctypes.c_void_p] * 4
        lib.speex_echo_ctl.restype = ctypes.c_int
        lib.speex_echo_ctl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
        lib.speex_echo_state_reset.restype = None
        lib.speex_echo_state_reset.argtypes = [ctypes.c_void_p]
        lib.speex_echo_state_destroy.restype = None
        lib.speex_echo_state_destroy.argtypes = [ctypes.c_void_p]
        lib.speex_preprocess_state_init.restype = ctypes.c_void_p
        lib.speex_preprocess_state_init.argtypes = [ctypes.c_int, ctypes.c_int]
        lib.speex_preprocess_ctl.restype = ctypes.c_int
        lib.speex_preprocess_ctl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
        lib.speex_preprocess_run.restype = ctypes.c_int
        lib.speex_preprocess_run.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        lib.speex_preprocess_state_destroy.restype = None
        lib.speex_preprocess_state_destroy.argtypes = [ctypes.c_void_p]
        _lib = lib
    return _lib


class SpeexEchoCanceller:
    """One echo canceller: 10 ms of int16 16 kHz audio per call, ``filter_ms`` of echo.

    128 ms by default: the delay is taken out before (the reference is moved
    by the estimated delay), so the filter covers the direct path and the
    strong part of the reverberation; a longer filter converged more slowly
    and cost more for no better cancellation in the simulated room.

    ``residual_db`` (None: off) turns on Speex's residual-echo suppressor at
    that much attenuation (negative dB) with no one speaking, and
    ``residual_active_db`` while the near end is active; its noise suppression
    is held to ``noise_db`` (it must be on for the suppressor's gains to apply)
    and its AGC, VAD and dereverberation are off.
    """

    def __init__(
        self,
        filter_ms: int = 128,
        residual_db: int | None = None,
        residual_active_db: int = -10,
        noise_db: int = -3,
    ) -> None:
        lib = _load()
        self.filter_ms = filter_ms
        self.residual_db = residual_db
        self._lib = lib
        self._st = ctypes.c_void_p(
            lib.speex_echo_state_init(CHUNK, filter_ms * SAMPLE_RATE // 1000)
        )
        rate = ctypes.c_int(SAMPLE_RATE)
        lib.speex_echo_ctl(self._st, _SET_SAMPLING_RATE, ctypes.byref(rate))
        self._pp = ctypes.c_void_p()
        if residual_db is not None:
            self._pp = ctypes.c_void_p(lib.speex_preprocess_state_init(CHUNK, SAMPLE_RATE))
            for request, value in (
                (_PP_SET_DENOISE, 1), (_PP_SET_AGC, 0), (_PP_SET_DEREVERB, 0),
                (_PP_SET_NOISE_SUPPRESS, noise_db), (_PP_SET_ECHO_SUPPRESS, residual_db),
                (_PP_SET_ECHO_SUPPRESS_ACTIVE, residual_active_db),
            ):
                arg = ctypes.c_int(value)
                lib.speex_preprocess_ctl(self._pp, request, ctypes.byref(arg))
            lib.speex_preprocess_ctl(self._pp, _PP_SET_ECHO_STATE, self._st)
        # Buffers passed by address on every call (no allocation per chunk).
        self._near = np.zeros(CHUNK, np.int16)
        self._far = np.zeros(CHUNK, np.int16)
        self._out = np.zeros(CHUNK, np.int16)
        self._ptrs = tuple(
            ctypes.c_void_p(a.ctypes.data) for a in (self._near, self._far, self._out)
        )

    def cancel(self, near: np.ndarray, far: np.ndarray) -> np.ndarray:
        """``near`` (microphone) with the echo of ``far`` (what played then) removed."""
        self._near[:] = near
        self._far[:] = far
        self._lib.speex_echo_cancellation(self._st, *self._ptrs)
        if self._pp:
            self._lib.speex_preprocess_run(self._pp, self._ptrs[2])
        return self._out.copy()

    def impulse_response(self) -> np.ndarray:
        """The echo path the filter has learnt (float, ``filter_ms`` long; arbitrary scale)."""
        size = ctypes.c_int(0)
        self._lib.speex_echo_ctl(self._st, _GET_IMPULSE_RESPONSE_SIZE, ctypes.byref(size))
        taps = np.zeros(size.value, np.int32)
        self._lib.speex_echo_ctl(self._st, _GET_IMPULSE_RESPONSE,
                                 taps.ctypes.data_as(ctypes.c_void_p))
        return taps.astype(np.float64)

    def reset(self) -> None:
        """Forget the learnt echo path (after the reference was moved)."""
        self._lib.speex_echo_state_reset(self._st)

    def close(self) -> None:
        """Free the native state. Safe to call twice."""
        if self._pp:
            self._lib.speex_preprocess_state_destroy(self._pp)
            self._pp = ctypes.c_void_p()
        if self._st:
            self._lib.speex_echo_state_destroy(self._st)
            self._st = ctypes.c_void_p()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass
