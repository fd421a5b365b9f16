"""The capture thread says once when this board cannot keep up with the microphone."""

from __future__ import annotations

import logging
import time

import pytest

from agent.device import slowness
from agent.device.slowness import CaptureWatch


class Source:
    overflows = 0


def test_an_overflow_is_said_once_with_what_to_do(caplog: pytest.LogCaptureFixture) -> None:
    source = Source()
    watch = CaptureWatch(source, paced=True)
    with caplog.at_level(logging.WARNING, logger="agent.device.slowness"):
        watch.frame(1280)
        assert not caplog.records
        source.overflows = 3
        watch.frame(1280)
        watch.frame(1280)
    assert len(caplog.records) == 1
    text = caplog.records[0].getMessage()
    assert "too slow" in text and "3 overflow(s)" in text
    assert "wake.engine: micro" in text and "gateway on another machine" in text


def test_a_busy_capture_thread_is_said_before_it_overflows(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(slowness, "WINDOW_S", 0.05)  # 800 samples
    watch = CaptureWatch(Source(), paced=True)
    burn_until = time.thread_time() + 0.1  # more CPU than 80 % of 50 ms of audio
    while time.thread_time() < burn_until:
        pass
    with caplog.at_level(logging.WARNING, logger="agent.device.slowness"):
        watch.frame(800)
    assert len(caplog.records) == 1
    assert "of a core" in caplog.records[0].getMessage()


def test_a_file_read_as_fast_as_it_goes_is_no_test(caplog: pytest.LogCaptureFixture) -> None:
    source = Source()
    source.overflows = 5
    watch = CaptureWatch(source, paced=False)
    with caplog.at_level(logging.WARNING, logger="agent.device.slowness"):
        watch.frame(1280)
    assert not caplog.records and watch.slow is None
