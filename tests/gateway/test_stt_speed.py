"""The gateway says once when its speech to text is far slower than real time."""

from __future__ import annotations

import logging

import pytest

from agent.common.slowness import SLOW_STT
from agent.gateway.stt.engine import Transcript
from agent.gateway.stt.speed import SpeedWatch


def heard(cpu_s: float, audio_s: float) -> Transcript:
    return Transcript("do you have a pool", 0.94, "grammar", audio_s, cpu_s)


def test_slow_recognition_is_said_once_with_what_to_do(caplog: pytest.LogCaptureFixture) -> None:
    watch = SpeedWatch(workers=2)
    with caplog.at_level(logging.WARNING, logger="agent.gateway.stt.speed"):
        watch.observe(heard(0.9, 3.2))  # 0.3x: fine
        assert not caplog.records and watch.slow is None
        watch.observe(heard(5.7, 3.2))  # 1.8x: the 12 % board
        watch.observe(heard(9.0, 3.2))
    assert len(caplog.records) == 1
    text = caplog.records[0].getMessage()
    assert SLOW_STT in text and "5.7 s for 3.2 s of audio (1.8x real time)" in text
    assert "stt.workers: 1 (now 2" in text and "faster machine" in text
    assert watch.slow is not None and "1.8x" in watch.slow


def test_one_worker_is_not_told_to_use_one(caplog: pytest.LogCaptureFixture) -> None:
    watch = SpeedWatch(workers=1)
    with caplog.at_level(logging.WARNING, logger="agent.gateway.stt.speed"):
        watch.observe(heard(6.0, 3.0))
    assert "stt.workers" not in caplog.records[0].getMessage()


def test_short_or_untimed_utterances_say_nothing() -> None:
    watch = SpeedWatch(workers=2)
    watch.observe(heard(2.0, 0.5))  # start-up costs dominate a short one
    watch.observe(heard(0.0, 3.0))  # a service reports no time
    assert watch.slow is None


class _Done:
    def __init__(self, pid: int) -> None:
        self.pid = pid

    def result(self, timeout: float | None = None) -> int:
        return self.pid


class _LateSecondWorker:
    """An executor whose second worker answers only from the third round on: the
    first worker, loaded first, takes every call until then (what a slow board
    does to a real ProcessPoolExecutor; its timing cannot be forced in a test)."""

    def __init__(self) -> None:
        self.calls = 0

    def submit(self, _fn: object, *_args: object) -> _Done:
        self.calls += 1
        return _Done(2 if self.calls >= 5 and self.calls % 2 == 0 else 1)


def test_warm_up_waits_until_every_worker_has_answered() -> None:
    from agent.gateway.stt.pool import SttPool

    pool = SttPool.__new__(SttPool)  # no real workers: the rounds are what is tested
    pool.workers = 2
    late = _LateSecondWorker()
    pool._executor = late  # type: ignore[assignment]
    pool.warm_up(timeout=10)
    assert late.calls == 6  # three rounds of two: worker 2 answered in the third
