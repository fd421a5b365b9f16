"""The reference gateway's timers over real sockets: several at once, time left, cancel,
kept per device, kept across a restart (SIGTERM, start again), and
``voice-agent announce`` to one device and to all."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from gateway_support import open_client, read_reply, text_turn

from agent.gateway.in_thread import RunningGateway, serve_in_thread
from agent.gateway.settings import GatewaySettings, ReplySettings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def gateway() -> Iterator[RunningGateway]:
    # Unpaced replies: the time-left answer is read a few seconds after the timer starts.
    # The standard form for every client: the Node form's replies are bounded to run
    # at most ~1 s ahead of playback, even with pace 0 (issue 24).
    gw = serve_in_thread(GatewaySettings(port=0, reply=ReplySettings(pace=0, form="standard")))
    yield gw
    gw.stop()


def test_several_timers_time_left_and_cancel(gateway: RunningGateway) -> None:
    with open_client(gateway.url + "?userID=pantry") as ws:
        assert text_turn(ws, "how much time is left").text.text == "You have no timers."
        five = text_turn(ws, "set a timer for five minutes").response.data["timer"]
        assert five["name"] == "five-minute" and five["event"] == "started"
        ten = text_turn(ws, "set a timer for ten minutes").response.data["timer"]
        left = text_turn(ws, "how much time is left").text.text
        assert re.fullmatch(
            r"You have 2 timers: the five-minute timer has (5 minutes|4 minutes and 5\d seconds)"
            r" left; the ten-minute timer has (10 minutes|9 minutes and 5\d seconds) left\.",
            left,
        ), left
        which = text_turn(ws, "cancel the timer")  # two running: it asks which
        assert "Say, for example, cancel the five-minute timer" in which.text.text
        gone = text_turn(ws, "cancel the ten minute timer")
        assert gone.skill == "timer_cancel"
        assert gone.text.text == "Okay, the ten-minute timer is cancelled."
        assert gone.response.data["timer"] == {**ten, "event": "cancelled"}
        one = text_turn(ws, "how much time is left on the timer").text.text
        pattern = r"The five-minute timer has (5 minutes|4 minutes and 5\d seconds) left\."
        assert re.fullmatch(pattern, one), one
        assert text_turn(ws, "cancel the timer").response.data["timer"]["id"] == five["id"]
        assert text_turn(ws, "how much time is left").text.text == "You have no timers."
    states = {t.id: t.state for t in gateway.timers()}
    assert states[five["id"]] == "cancelled" and states[ten["id"]] == "cancelled"


def test_timers_are_kept_per_device(gateway: RunningGateway) -> None:
    with open_client(gateway.url + "?userID=attic") as a, open_client(gateway.url) as b:
        text_turn(a, "set a timer for one second")
        assert text_turn(b, "how much time is left").text.text == "You have no timers."
        done = read_reply(a, timeout=20)  # the announcement, to the device that set it
        assert done.text.text == "Your one-second timer is done."
        assert done.response.data["timer"]["event"] == "finished"
        assert {m.id for m in done.messages} == {done.response.id}  # one id, never opened
        assert len(done.reply_audio) > 16000  # spoken
        with pytest.raises(TimeoutError):
            b.recv(timeout=1.5)  # b set nothing: it hears nothing


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(cfg: Path, log: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent.cli", "gateway", "--config", str(cfg)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=log.open("a"), text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # "listening on ..." once it serves
    assert "listening on" in line, log.read_text()
    return proc


def _stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
        raise


def test_a_timer_set_before_a_restart_still_rings(tmp_path: Path) -> None:
    port = _free_port()
    cfg = tmp_path / "gateway.yaml"
    cfg.write_text(yaml.safe_dump({"port": port, "state_dir": str(tmp_path / "state"),
                                   "stt": {"workers": 1}}))
    url = f"ws://127.0.0.1:{port}/?userID=hall"
    proc = _start(cfg, tmp_path / "gw.log")
    try:
        with open_client(url) as ws:
            started = text_turn(ws, "set a timer for five seconds").response.data["timer"]
        assert _stop(proc) == 0
        proc = _start(cfg, tmp_path / "gw.log")  # the same state directory
        with open_client(url) as ws:
            done = read_reply(ws, timeout=40)
    finally:
        if proc.poll() is None:
            _stop(proc)
    assert done.text.text == "Your five-second timer is done."
    assert done.response.data["timer"] == {**started, "event": "finished"}
    assert (tmp_path / "state" / "timers.db").exists()


def _announce(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", "announce", *args, "--url", url],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )


def test_announce_to_one_device_and_to_all(gateway: RunningGateway) -> None:
    with open_client(gateway.url + "?userID=lounge") as a, open_client(
        gateway.url + "?userID=porch"
    ) as b:
        one = _announce(gateway.url, "The post is here.", "--device", "porch")
        assert one.returncode == 0, one.stderr
        assert one.stdout.strip() == "announced on 1 device(s): porch"
        heard = read_reply(b, timeout=20)
        assert heard.text.text == "The post is here." and len(heard.reply_audio) > 0
        with pytest.raises(TimeoutError):
            a.recv(timeout=1.0)  # lounge was not asked
        every = _announce(gateway.url, "Dinner is ready.")
        assert every.returncode == 0, every.stderr
        assert "lounge" in every.stdout and "porch" in every.stdout
        assert read_reply(a, timeout=20).text.text == "Dinner is ready."
        assert read_reply(b, timeout=20).text.text == "Dinner is ready."
    missing = _announce(gateway.url, "Hello?", "--device", "nobody")
    assert missing.returncode == 1 and "'nobody' is not connected" in missing.stderr


def test_an_unusable_state_dir_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    from agent.common.settings_values import ConfigError
    from agent.gateway.server import Gateway

    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(ConfigError) as info:
        Gateway(GatewaySettings(port=0, state_dir=str(blocker / "state")))
    assert info.value.exit_code == 78 and "state_dir" in str(info.value)


def test_the_announce_tool_is_not_logged_or_counted_as_a_device(
    gateway: RunningGateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="agent.gateway")
    with open_client(gateway.url + "?userID=hall") as hall:
        done = _announce(gateway.url, "The bath is full.")
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "announced on 1 device(s): hall"  # not itself
        assert read_reply(hall, timeout=20).text.text == "The bath is full."
    record = next(c for c in gateway.connections
                  if c.user_agent and c.user_agent.startswith("voice-agent-announce/"))
    assert record.reply_form == "standard"
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    # One INFO line for the device's connection, none for the tool's; the request once.
    assert len([m for m in said if " from " in m and "(device " in m]) == 1, said
    assert [m for m in said if m.startswith(f"connection {record.number} ")] == []
    assert len([m for m in said if m.startswith("announced 'The bath is full.'")]) == 1


def test_a_timers_speech_is_made_when_it_is_set_and_used_when_it_rings() -> None:
    # The scheduler with its own clock (so "due" comes when the test says), a
    # speaker that notes when it was asked, and a device that notes what it got.
    from agent.gateway.timers.alarms import Book, TimerService
    from agent.gateway.timers.store import TimerStore

    now = [1000.0]
    asked: list[tuple[str, float]] = []
    got: list[tuple[str, bytes | None]] = []

    async def speak(text: str) -> bytes:
        asked.append((text, now[0]))
        return b"\x01\x00" * 160

    class Device:
        owner = "kitchen"

        async def announce(self, text: str, card: object, speech: bytes | None = None) -> None:
            got.append((text, speech))

        async def answer(self, msg: object) -> None:
            raise AssertionError("no announce request here")

    async def scenario() -> None:
        service = TimerService(TimerStore(None), 900, clock=lambda: now[0], speak=speak)
        stop = asyncio.Event()
        runner = asyncio.create_task(service.run(stop))
        book: Book = service.attach(Device())
        card = book.start(5, "five-second")
        for _ in range(100):  # until the speaker has been asked (a few loop turns)
            if asked:
                break
            await asyncio.sleep(0)
        assert asked == [("Your five-second timer is done.", 1000.0)]  # at set time
        now[0] = 1005.0  # due
        service.changed()
        for _ in range(100):
            if got:
                break
            await asyncio.sleep(0.01)
        stop.set()
        await runner
        assert got == [("Your five-second timer is done.", b"\x01\x00" * 160)]
        assert service.store.get(card["id"]).state == "delivered"
        assert len(asked) == 1  # not made again at the due time

    asyncio.run(scenario())
