"""Echo cancellation end to end: the real daemon in the simulated room.

The room (``tests/simulated_room.py``) stands in for the speaker and microphone this
machine does not have: what the daemon plays comes back into its microphone
after a delay, through a reverberation tail and a little distortion, louder
than the user. The gateway is the scripted one on loopback (see
``tests/room_trials.py``). Nothing of the device is mocked.
"""

from __future__ import annotations

import numpy as np
from room_trials import RATE, RoomSession, Trial
from simulated_room import Acoustics, echo_level_gain
from speech import say

from agent.hearing.wake import WakeDetector

USER_DBFS = -26.0


def level(x: np.ndarray, dbfs: float = USER_DBFS) -> np.ndarray:
    """``x`` scaled so that its RMS is ``dbfs``."""
    rms = float(np.sqrt(np.mean(np.square(x.astype(np.float64)))))
    return np.clip(x * (32768 * 10 ** (dbfs / 20) / rms), -32768, 32767).astype(np.int16)


def pad(x: np.ndarray, after_s: float) -> np.ndarray:
    return np.concatenate((x, np.zeros(int(after_s * RATE), np.int16)))


def exact_offset(haystack: np.ndarray, needle: np.ndarray) -> int | None:
    """Where ``needle`` lies sample for sample in ``haystack``, or None."""
    probe = needle[:64]
    windows = np.lib.stride_tricks.sliding_window_view(haystack, len(probe))
    for hit in np.flatnonzero((windows == probe).all(axis=1)):
        if np.array_equal(haystack[hit : hit + len(needle)], needle):
            return int(hit)
    return None


WAKE = level(say("hey jarvis", "en-gb", 140))
QUESTION = level(say("what time is it", "en-gb", 140))
ASK = np.concatenate((WAKE, np.zeros(RATE // 5, np.int16), QUESTION))
REPLY = level(
    say("It is ten past three in the afternoon and the weather is cold and grey", "en-us", 160),
    -20.0,
)


def test_barge_in_over_the_reply_with_echo_cancellation() -> None:
    # Echo as loud as the user: the raw microphone signal does not wake the
    # detector under the reply (checked below), the cleaned one must. The
    # benchmark measures the rate (docs/benchmarks.md, E1); here two of three
    # barge-ins must get through, so one unlucky trial does not fail the test.
    room = Acoustics(delay_ms=60, tail_ms=250, echo_gain=echo_level_gain(WAKE, REPLY, 0.0))
    with RoomSession(90, room, echo_cancel=True) as session:
        # Two replies let the canceller converge, as on a device in use.
        first = [session.run(Trial(room, REPLY, ASK)) for _ in range(2)]
        outcomes = [
            session.run(Trial(room, REPLY, ASK, barge=ASK, barge_after_s=1.5 + 0.25 * i))
            for i in range(3)
        ]
        mic = session.room.mic.copy()
    assert not any(f.interrupted for f in first)
    heard = [o for o in outcomes if o.interrupted]
    assert len(heard) >= 2, f"the wake word over the reply was heard in {len(heard)} of 3"
    outcome = heard[0]
    assert outcome.wakes_during_reply == 1
    assert outcome.streamed is not None and outcome.barge_at is not None
    # What was streamed is the cleaned signal, not the microphone's: the pre-roll
    # (under the reply) is not an exact slice of what the microphone heard...
    assert exact_offset(mic, outcome.streamed[: RATE // 4]) is None
    # ...while its end, captured after the reply's echo died out, is (idle bypass):
    assert exact_offset(mic, outcome.streamed[-RATE // 4 :]) is not None
    # The test can fail: under the reply, the raw microphone signal does not wake
    # an unguarded detector.
    at = outcome.barge_at
    raw = WakeDetector(["hey_jarvis"], thresholds=0.5).process(mic[at - RATE : at + 2 * RATE], 0)
    assert not raw, "the raw echo should drown the wake word"


def test_no_self_trigger_on_a_reply_that_says_the_wake_word() -> None:
    reply = level(
        say("you can say hey jarvis at any time. hey jarvis, hey jarvis", "en-us", 150), -20.0
    )
    room = Acoustics(delay_ms=90, tail_ms=350, echo_gain=echo_level_gain(WAKE, reply, 10.0))
    with RoomSession(40, room, echo_cancel=True) as session:
        warm = session.run(Trial(room, REPLY, ASK))
        start = session.room.now()
        outcome = session.run(Trial(room, reply, ASK))
        end = session.room.now()
        mic = session.room.mic[start:end].copy()
    assert not warm.interrupted
    assert outcome.wakes_during_reply == 0 and not outcome.interrupted
    # The test can fail: the raw microphone signal of that reply wakes the
    # detector at its normal threshold (which applies while speaking with
    # echo cancellation on).
    raw_hits = WakeDetector(["hey_jarvis"], thresholds=0.5).process(mic, 0)
    assert len(raw_hits) >= 2, "the reply's echo alone should wake an unguarded detector"


def test_bypass_is_bit_exact_with_everything_off() -> None:
    room = Acoustics(delay_ms=40, tail_ms=200, echo_gain=echo_level_gain(WAKE, REPLY, 0.0))
    with RoomSession(
        30, room, echo_cancel=False, noise_suppression=False, auto_gain=False
    ) as session:
        assert session.daemon.front.processor is None
        session.run(Trial(room, REPLY, ASK))
        sent = session.gateway.transactions[0].samples.copy()
        mic = session.room.mic.copy()
    # The opening turn (pre-roll included) is exactly what the microphone heard.
    offset = exact_offset(mic, sent)
    assert offset is not None, "streamed audio is not an exact slice of the capture"
    assert offset > 0 and np.any(sent)
