"""Faults with a real Home Assistant, really stopped and restarted, through the gateway.

An HA of this module's own (the shared one stays up for the other modules).
In every case the gateway keeps serving, the chain moves on, nothing hangs:

* HA down when the gateway starts: it starts anyway, HA's turns end in
  "Sorry, I could not reach Home Assistant." with a log line, and the link
  comes up when HA does;
* HA restarts in the middle of a device's connection: the link and the
  grammar come back, the same connection's next spoken turn reaches HA;
* a refused token: a clear error line, the skills still answer;
* HA frozen (SIGSTOP: slower than ``timeout_s``): the turn goes on, HA answers
  again after SIGCONT;
* the token never appears in the logs, at debug level (websockets logs every
  frame there, the ``auth`` frame among them).
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from gateway_support import open_client, spoken, text_turn, utterance
from real_ha import RealHomeAssistant, gateway_settings, ha_agent, start_real_ha, wait_until

from agent.gateway.in_thread import serve_in_thread


@pytest.fixture(scope="module")
def own_ha(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealHomeAssistant]:
    ha = start_real_ha(tmp_path_factory.mktemp("ha-faults"))
    yield ha
    ha.stop()


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every logger at debug, websockets' frame lines included."""
    caplog.set_level(logging.DEBUG)
    names = ("websockets", "websockets.client", "agent")
    levels = [logging.getLogger(n).level for n in names]
    for n in names:
        logging.getLogger(n).setLevel(logging.DEBUG)
    yield caplog
    for n, level in zip(names, levels, strict=True):
        logging.getLogger(n).setLevel(level)


def test_down_at_start_then_up_then_restarted(
    own_ha: RealHomeAssistant, debug_logs: pytest.LogCaptureFixture
) -> None:
    own_ha.stop()
    with serve_in_thread(gateway_settings(own_ha)) as gw:
        agent = ha_agent(gw)
        ws = open_client(gw.url)
        try:
            down = utterance(ws, spoken("turn on the kitchen lights"))
            assert down.text.text == "Sorry, I could not reach Home Assistant."
            assert "home assistant is not connected" in debug_logs.text
            skills = text_turn(ws, "thank you")  # the gateway keeps serving
            assert skills.skill == "thanks"

            own_ha.start()  # back: the link comes up by itself
            wait_until(lambda: agent.connection.connected, 60, "the link to HA")
            wait_until(lambda: agent.builds >= 1 and agent.complete, 60, "the grammar")
            own_ha.set_power("kitchen_lights", False)
            up = utterance(ws, spoken("turn on the kitchen lights"))
            assert up.transcript.transcript == "turn on the kitchen lights"
            assert up.text.text == "Turned on the light"
            own_ha.wait_state("light.kitchen_lights", "on")

            connects, builds = agent.connection.connects, agent.builds
            own_ha.restart()  # in the middle of this device's connection
            wait_until(lambda: agent.connection.connects > connects, 60, "the reconnection")
            wait_until(lambda: agent.builds > builds and agent.complete, 60,
                       "the grammar after the reconnection, HA started")
            again = utterance(ws, spoken("turn off the kitchen lights"))
            assert again.transcript.transcript == "turn off the kitchen lights"
            assert again.text.text == "Turned off the light"
            own_ha.wait_state("light.kitchen_lights", "off")
        finally:
            ws.close()
    assert own_ha.token not in debug_logs.text
    assert "access_token" in debug_logs.text  # the auth frame was logged, scrubbed


def test_a_refused_token_is_a_clear_error(
    own_ha: RealHomeAssistant, debug_logs: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    if own_ha.process is None:
        own_ha.start()
    bad = tmp_path / "token"
    bad.write_text("eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJub2JvZHkifQ.not-a-valid-signature-123\n")
    with serve_in_thread(gateway_settings(own_ha, token_file=bad)) as gw:
        agent = ha_agent(gw)
        wait_until(lambda: agent.connection.refused, 30, "auth_invalid")
        ws = open_client(gw.url)
        try:
            refused = text_turn(ws, "turn on the kitchen lights")
            assert refused.text.text == "Sorry, I could not reach Home Assistant."
            assert text_turn(ws, "thank you").skill == "thanks"
        finally:
            ws.close()
    errors = [r.getMessage() for r in debug_logs.records if r.levelno >= logging.ERROR]
    assert any("refused the access token" in e for e in errors), errors
    assert "not-a-valid-signature-123" not in debug_logs.text


def test_a_frozen_home_assistant_is_a_timeout_then_it_answers_again(
    own_ha: RealHomeAssistant,
) -> None:
    # SIGSTOP: the real HA process stops answering while its socket stays open
    # (slower than timeout_s, for as long as it likes); SIGCONT: it carries on.
    if own_ha.process is None:
        own_ha.start()
    assert own_ha.process is not None
    pid = own_ha.process.pid
    with serve_in_thread(gateway_settings(own_ha, timeout_s=1.0)) as gw:
        agent = ha_agent(gw)
        wait_until(lambda: agent.connection.connected, 60, "the link to HA")
        ws = open_client(gw.url)
        try:
            os.kill(pid, signal.SIGSTOP)
            try:
                frozen = text_turn(ws, "is the bedroom light on")
                assert frozen.text.text == "Sorry, I could not reach Home Assistant."
                assert text_turn(ws, "thank you").skill == "thanks"  # nothing hangs
            finally:
                os.kill(pid, signal.SIGCONT)
            wait_until(lambda: agent.connection.connected, 60, "the link after SIGCONT")
            own_ha.set_power("coffee_maker", False)
            back = text_turn(ws, "turn on the coffee maker")
            assert back.text.text == "Turned on the switch"
            own_ha.wait_state("switch.coffee_maker", "on")
        finally:
            ws.close()
