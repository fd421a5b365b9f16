"""The real daemon in the simulated room, trial by trial (tests and scripts/bench_echo.py).

A :class:`RoomSession` runs one daemon whose microphone and speaker are a
:class:`~simulated_room.SimulatedRoom`, against the scripted gateway (a real
WebSocket server on loopback). Mocked: nothing of the device; the room stands
in for the sound card, speaker and microphone that this machine does not have,
and the scripted gateway for a speech service (it answers each opening turn
with the trial's reply audio when the daemon's VAD ends the turn).

A trial: the user says the wake word; the gateway answers with the reply; the
room plays it (its echo reaches the microphone at the trial's delay, tail and
level); in a barge-in trial the user says the wake word and a question over
the reply. The outcome says whether the reply was interrupted by a wake word,
and keeps the barge-in turn's streamed audio and where it lies in room time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
from daemon_harness import Events
from scripted_gateway import Reply, ScriptedGateway
from simulated_room import Acoustics, SimulatedRoom

from agent.config.load import parse_config
from agent.device.daemon import Daemon

RATE = 16000


@dataclass
class Trial:
    """One reply in the room, with or without the user barging in."""

    acoustics: Acoustics
    reply: np.ndarray  # int16, what the gateway answers
    opening: np.ndarray  # int16, the wake word and a question that open the turn
    barge: np.ndarray | None = None  # int16, said over the reply (wake word + question)
    barge_after_s: float = 1.2  # after the reply starts playing


@dataclass
class Outcome:
    """What happened in one trial."""

    interrupted: bool  # the reply was stopped by a wake word
    wakes_during_reply: int
    streamed: np.ndarray | None = None  # the barge-in turn's audio, as sent
    barge_at: int | None = None  # room sample where the barge-in speech started
    reply_stopped_at: int | None = None  # room sample where the reply was stopped


def room_settings(url: str, **audio: Any) -> Any:
    """Settings for the room: no sounds, one wake model, VAD end of speech."""
    data: dict[str, Any] = {
        "gateway": {"url": url, "reconnect": {"initial_s": 0.1, "max_s": 0.5}},
        "audio": audio,
        "wake": {"models": ["hey_jarvis"]},
        "sounds": {"wake": None, "done": None, "error": None},
        "listen": {"response_timeout_s": 5, "followup_timeout_s": 4, "end_of_speech": "vad"},
    }
    return parse_config(data, "room")


class RoomSession:
    """One daemon in one room for a run of trials; a context manager."""

    def __init__(self, seconds: float, acoustics: Acoustics, **audio: Any) -> None:
        self.room = SimulatedRoom(acoustics, seconds)
        self.gateway = ScriptedGateway([])
        self.events = Events()
        self._audio = audio
        self._result: list[int] = []

    def __enter__(self) -> RoomSession:
        self.gateway.__enter__()
        settings = room_settings(self.gateway.url, **self._audio)
        self.daemon = Daemon(
            settings, events=self.events, source=self.room.source, sink=self.room.sink
        )
        self._thread = threading.Thread(
            target=lambda: self._result.append(self.daemon.run()), daemon=True
        )
        self._thread.start()
        assert self.events.wait_count("connected", 1, timeout=30), "the daemon never connected"
        return self

    def __exit__(self, *exc: object) -> None:
        self.daemon.stop()
        self._thread.join(15)
        self.room.close()
        self.gateway.__exit__(*exc)
        assert not self._thread.is_alive(), "the daemon did not stop"

    def _idle(self) -> bool:
        states = self.events.states()
        return bool(states) and states[-1] == "idle"

    def run(self, trial: Trial) -> Outcome:
        """Play one trial; returns its outcome (asserts only that the daemon kept going)."""
        ev, room = self.events, self.room
        room.set_acoustics(trial.acoustics)
        started = len(ev.of("playback_start"))
        ended = len(ev.of("playback_end"))
        turns = len(self.gateway.transactions)
        self.gateway.script.append(
            Reply("hello", "Here it is.", audio=trial.reply)
        )
        room.say(trial.opening, room.now() + RATE // 4)
        assert ev.wait_count("playback_start", started + 1, timeout=30), "no reply played"
        mark = len(ev.items)
        barge_at = None
        if trial.barge is not None:
            barge_at = room.now() + int(trial.barge_after_s * RATE)
            room.say(trial.barge, barge_at)
        reply_s = len(trial.reply) / RATE
        assert ev.wait_count("playback_end", ended + 1, timeout=reply_s + 30), "reply never ended"
        stopped = room.now()
        end = ev.of("playback_end")[-1]
        during = [n for n, _ in ev.items[mark:]]
        wakes = during[: during.index("playback_end")].count("wake")
        outcome = Outcome(bool(end.get("interrupted")), wakes, barge_at=barge_at)
        if outcome.interrupted:
            outcome.reply_stopped_at = stopped
            # The barge-in turn: streamed until the VAD ends it, then the default reply.
            assert ev.wait(
                lambda e: len(self.gateway.transactions) >= turns + 2
                and self.gateway.transactions[-1].ended
                and self._idle(),
                timeout=40,
            ), "the barge-in turn never ended"
            outcome.streamed = self.gateway.transactions[-1].samples.copy()
        assert ev.wait(lambda e: self._idle(), timeout=30), "the daemon did not return to idle"
        # Let the room's reverberation and the canceller's tail die out between trials.
        quiet = room.now() + RATE * 3 // 2
        ev.wait(lambda e: room.now() >= quiet, timeout=5)
        return outcome
