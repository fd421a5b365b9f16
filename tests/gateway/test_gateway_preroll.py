"""A device's pre-roll puts the tail of its wake word in front of the command:
the reference gateway must still recognise the command, and report it without
the wake word."""

from __future__ import annotations

import numpy as np
import pytest
from speech import compose, read_wav

from agent.gateway.dialog.builtin import SKILLS
from agent.gateway.dialog.skills import MAIN_SEARCH
from agent.gateway.grammar import strip_wake
from agent.gateway.stt.factory import create_engine

RATE = 16000


@pytest.fixture(scope="module")
def engine():  # noqa: ANN201 - a PocketsphinxEngine
    return create_engine("pocketsphinx", SKILLS.searches(), SKILLS.pronunciations)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("hey jarvis set a timer", "set a timer"),
        ("jarvis what time is it", "what time is it"),
        ("alexa", ""),
        ("heyjarvis", "heyjarvis"),
        ("set a timer", "set a timer"),
    ],
)
def test_strip_wake(text: str, expected: str) -> None:
    assert strip_wake(text) == expected


@pytest.mark.parametrize("preroll_ms", [0, 125, 250, 375, 500])
def test_command_after_the_wake_words_tail(engine, tmp_path, preroll_ms: int) -> None:  # noqa: ANN001
    path, starts = compose(
        tmp_path / "w.wav",
        [
            ("pause", 0.5),
            ("say", "hey jarvis"),
            ("pause", 0.3),
            ("say", "set a timer"),
            ("pause", 1.0),
        ],
    )
    audio = read_wav(path)
    # What a device streams: from preroll_ms before the end of the wake word on.
    start = starts[2] - preroll_ms * RATE // 1000
    got = engine.transcribe(audio[start:].astype("<i2").tobytes(), MAIN_SEARCH)
    assert got.text == "set a timer", got
    assert got.source == "grammar" and got.confidence > 0.5
    assert np.any(audio[start : starts[2]]) or preroll_ms == 0
