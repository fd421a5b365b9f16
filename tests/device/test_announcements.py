"""Announcements and ringing timers through the real daemon (in a thread), file audio in
real time, against the scripted WebSocket gateway on 127.0.0.1, which sends the
announcement form exactly when a test needs it (mid-turn, when idle). The button
is gpiozero's MockFactory (no GPIO here: the only stand-in)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from daemon_harness import Events, running, settings_for
from gpiozero.pins.mock import MockFactory
from scripted_gateway import Reply, ScriptedGateway
from speech import announcement, compose, tone

from agent.link import protocol as p

BUTTON, LED = 17, 27


def finished(tid: str = "t-1", name: str = "five second") -> dict[str, object]:
    return {"id": tid, "name": name, "event": "finished", "seconds": 5}


@pytest.fixture
def question(tmp_path: Path) -> Path:
    audio, _ = compose(
        tmp_path / "in.wav",
        [("pause", 1.0), ("say", "hey jarvis"), ("pause", 0.2), ("say", "what time is it"),
         ("pause", 12.0)],
    )
    return audio


@pytest.fixture
def quiet(tmp_path: Path) -> Path:
    audio, _ = compose(tmp_path / "quiet.wav", [("pause", 30.0)])
    return audio


def _index(events: Events, name: str, **match: object) -> int:
    for i, (e, f) in enumerate(list(events.items)):
        if e == name and all(f.get(k) == v for k, v in match.items()):
            return i
    raise AssertionError(f"no {name} {match}")


def test_an_announcement_during_a_turn_waits_for_the_turn_to_end(
    question: Path, tmp_path: Path
) -> None:
    ann = announcement("ann-1", "Dinner is ready.", tone(0.3, 330))
    with ScriptedGateway([Reply(audio=tone(1.0), on_start=lambda _tid: ann)]) as gw:
        with running(settings_for(gw.url, str(question), str(tmp_path / "o.wav"))) as (_d, ev):
            assert ev.wait_count("announcement", 1, 40)
            assert ev.wait_count("playback_end", 1, 20, id="ann-1")
    turn_reply_end = _index(ev, "playback_end", interrupted=False)
    assert _index(ev, "announcement", id="ann-1") > turn_reply_end  # after the turn's reply
    assert ev.of("announcement")[0]["text"] == "Dinner is ready."
    assert {"id": "ann-1", "interrupted": False} in ev.of("playback_end")  # it was played
    assert len(gw.transactions) == 1 and ev.of("error") == []


def test_the_queue_keeps_ten_and_drops_the_oldest(
    question: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "agent.device.announcements")
    msgs = [m for i in range(11) for m in announcement(f"a{i}", f"number {i}", tone(0.1, 440))]
    with ScriptedGateway([Reply(audio=tone(0.5), on_start=lambda _tid: msgs)]) as gw:
        with running(settings_for(gw.url, str(question), str(tmp_path / "o.wav"))) as (_d, ev):
            assert ev.wait_count("announcement", 10, 60)
            assert ev.wait_count("playback_end", 1, 20, id="a10")
    assert [a["id"] for a in ev.of("announcement")] == [f"a{i}" for i in range(1, 11)]
    assert any("queue full" in r.getMessage() and "a0" in r.getMessage() for r in caplog.records)
    assert len(gw.transactions) == 1


def test_collision_and_a_bad_timer_card_are_logged_and_dropped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "agent.device.announcements")
    audio, _ = compose(
        tmp_path / "two.wav",
        [("pause", 1.0), ("say", "hey jarvis"), ("pause", 0.2), ("say", "what time is it"),
         ("pause", 7.0), ("say", "hey jarvis"), ("pause", 0.2), ("say", "what time is it"),
         ("pause", 6.0)],
    )

    def collide(tid: str) -> list[p.Message]:
        bad = announcement("bad-1", "Bad card.", tone(0.2), {"id": 7, "event": "exploded"})
        return [*announcement(tid, "Your five second timer is done.", tone(0.2), finished()),
                *bad]

    script = [Reply(audio=tone(0.5), on_start=collide), Reply(audio=tone(0.5))]
    with ScriptedGateway(script) as gw:
        with running(settings_for(gw.url, str(audio), str(tmp_path / "o.wav"))) as (_d, ev):
            assert ev.wait_count("playback_end", 2, 60, interrupted=False)
            assert ev.wait(lambda e: len(gw.transactions) == 2, 30)
            assert ev.wait_count("playback_end", 3, 60, interrupted=False)
            assert ev.wait(lambda e: e.states()[-1] == "idle", 20)
    text = " ".join(r.getMessage() for r in caplog.records)
    assert "open transaction" in text and "dropped" in text
    assert "bad timer card" in text and "bad-1" in text
    assert ev.of("timer") == [] and "ringing" not in ev.states()  # neither rang
    assert [a["id"] for a in ev.of("announcement")] == ["bad-1"]  # played without its card
    assert ev.of("error") == []
    assert len(ev.of("audio_end")) == 2  # the device carried on: a second turn


def test_ringing_stopped_by_the_button_opens_no_turn(
    pins: MockFactory, quiet: Path, tmp_path: Path
) -> None:
    button = pins.pin(BUTTON)
    with ScriptedGateway() as gw:
        settings = settings_for(
            gw.url, str(quiet), str(tmp_path / "o.wav"),
            gpio={"button": BUTTON, "led": LED}, sounds={"alarm": "builtin"},
        )
        with running(settings) as (daemon, ev):
            assert ev.wait_count("connected")
            gw.push(announcement("r-1", "Your five second timer is done.", tone(0.3), finished()))
            assert ev.wait_count("timer", 1, 20, timer_event="ringing")
            assert ev.wait(lambda e: daemon.parts.gpio.led.pattern == "ringing", 10)
            # Rings again and again until stopped: a second round.
            assert ev.wait(lambda e: daemon.conversation.ringing is not None
                           and daemon.conversation.ringing.rounds >= 2, 20)
            button.drive_low()
            assert ev.wait_count("timer", 1, 20, timer_event="stopped")
            button.drive_high()
            assert ev.wait(lambda e: e.states()[-1] == "idle", 10)
            assert ev.wait(lambda e: daemon.parts.gpio.led.pattern == "off", 10)
    stopped = ev.of("timer")[-1]
    assert stopped == {"id": "t-1", "name": "five second", "timer_event": "stopped",
                       "stopped_by": "button"}
    assert [t["timer_event"] for t in ev.of("timer")] == ["finished", "ringing", "stopped"]
    assert ev.of("listening") == [] and gw.transactions == []  # the press opened no turn


def test_ringing_stops_at_the_cap(quiet: Path, tmp_path: Path) -> None:
    with ScriptedGateway() as gw:
        settings = settings_for(gw.url, str(quiet), str(tmp_path / "o.wav"),
                                timers={"max_ring_s": 2})
        with running(settings) as (_daemon, ev):
            assert ev.wait_count("connected")
            gw.push(announcement("r-2", "Your two second timer is done.", tone(0.3),
                                 finished("t-2", "two second")))
            assert ev.wait_count("timer", 1, 30, timer_event="stopped")
            assert ev.wait(lambda e: e.states()[-1] == "idle", 10)
    assert ev.of("timer")[-1]["stopped_by"] == "timeout"
    assert ev.states()[-2:] == ["ringing", "idle"]


def test_ringing_stopped_by_the_control_socket(quiet: Path, tmp_path: Path) -> None:
    # `voice-agent ctl stop` (here: its socket, in-process daemon) silences a
    # ringing timer before anything else, and says what it stopped.
    from operate_support import client

    sock = tmp_path / "ctl.sock"
    with ScriptedGateway() as gw:
        settings = settings_for(
            gw.url, str(quiet), str(tmp_path / "o.wav"),
            sounds={"alarm": "builtin"}, control={"socket": str(sock)},
        )
        with running(settings) as (daemon, ev):
            assert ev.wait_count("connected")
            gw.push(announcement("r-3", "Your five second timer is done.", tone(0.3), finished()))
            assert ev.wait_count("timer", 1, 20, timer_event="ringing")
            with client(sock) as c:
                reply = c.send("stop")
            assert reply == {"ok": True, "stopped": ["ringing"]}
            assert ev.wait_count("timer", 1, 20, timer_event="stopped")
            assert ev.wait(lambda e: e.states()[-1] == "idle", 10)
            assert daemon.conversation.ringing is None
    assert ev.of("timer")[-1]["stopped_by"] == "control"
    assert gw.transactions == []  # stopping opened no turn
