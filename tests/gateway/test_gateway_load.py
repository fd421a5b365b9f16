"""Many clients at once, and a slow transcription next to a quick one."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
from gateway_support import (
    CHUNK,
    Turn,
    audio_msg,
    open_client,
    receive,
    recording,
    spoken,
    utterance,
)

from agent.gateway.in_thread import RunningGateway, serve_in_thread
from agent.gateway.settings import GatewaySettings
from agent.link.protocol import AudioEnd, SttTranscript

PHRASES = [
    ("what time is it", "time"),
    ("do you have a pool", "pool"),
    ("say hello world", "echo"),
    ("what is the date", "date"),
    ("set a timer for ten minutes", "timer"),
]


def wait_until(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def gateway() -> Iterator[RunningGateway]:
    gw = serve_in_thread(GatewaySettings(port=0))
    yield gw
    gw.stop()


def test_twenty_clients_talking_at_once_are_all_answered(gateway: RunningGateway) -> None:
    jobs = [(PHRASES[i % len(PHRASES)], "en-us" if i % 2 else "en-gb") for i in range(20)]
    audio = [spoken(text, voice) for (text, _), voice in jobs]  # made before the rush
    turns: list[Turn | None] = [None] * len(jobs)
    failures: list[BaseException] = []
    start = threading.Barrier(len(jobs))

    def client(i: int) -> None:
        try:
            with open_client(gateway.url) as ws:
                start.wait(timeout=60)
                turns[i] = utterance(ws, audio[i])
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert not any(t.is_alive() for t in threads)
    assert not failures, failures
    for ((text, skill), _voice), turn in zip(jobs, turns, strict=True):
        assert turn is not None
        assert turn.transcript.transcript == text
        assert turn.skill == skill


def test_a_long_transcription_does_not_stall_other_connections(gateway: RunningGateway) -> None:
    """30 s of talk that no grammar fits (seconds of CPU in a worker) beside a quick command."""
    talk = recording("negative_office_talk_34s")[: 30 * 16000 * 2]
    with open_client(gateway.url + "?endpointing=false") as slow, open_client(gateway.url) as quick:
        # Sent, not awaited: its recognition runs while the quick client talks.
        slow.send('{"id": "slow", "action": "audio_start"}')
        for i in range(0, len(talk), CHUNK):
            slow.send(audio_msg("slow", talk[i : i + CHUNK]))
        slow.send('{"id": "slow", "action": "audio_end"}')
        wait_until(
            lambda: any(  # its audio is all in: recognition has started
                isinstance(m, AudioEnd) and m.id == "slow"
                for c in gateway.connections
                for m in c.received
            )
        )
        turn = utterance(quick, spoken("what time is it"))
        assert turn.skill == "time"
        # The quick turn finished while the long one was still being recognised.
        with pytest.raises(TimeoutError):
            slow.recv(timeout=0)
        late = receive(slow, 120)
        assert isinstance(late, SttTranscript) and late.id == "slow"
