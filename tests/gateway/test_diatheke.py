"""The Diatheke dialog back end through the reference gateway, over real sockets.

A protocol client on a real WebSocket talks to a real gateway (its own
thread), which talks real loopback gRPC to the stand-in Diatheke server of
``tests/diatheke_standin.py`` (API 2 and API 1, the scripted timer dialog).
Nothing is mocked; the stand-in replaces the vendor's server, which cannot
run here.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from diatheke_standin import ASK, CONFIRM, REPLY_S, StandIn
from gateway_support import open_client, spoken, text_turn, utterance

from agent.gateway.dialog_settings import DialogSettings, DiathekeSettings
from agent.gateway.in_thread import RunningGateway, serve_in_thread
from agent.gateway.settings import GatewaySettings, ReplySettings, SttSettings
from agent.link.protocol import GatewayError, Response

SPEECH = spoken("set a timer")


def gateway_for(si: StandIn, **diatheke: object) -> RunningGateway:
    d = DiathekeSettings(address=si.address, api=si.api, timeout_s=5.0, **diatheke)  # type: ignore[arg-type]
    # The standard reply form (prompt on audio_end too) and no pacing: these
    # tests are about the dialog's mapping, read as the project's device reads it.
    settings = GatewaySettings(
        port=0, stt=SttSettings(workers=1), dialog=DialogSettings(engine="diatheke", diatheke=d),
        reply=ReplySettings(form="standard", pace=0),
    )
    return serve_in_thread(settings)


@pytest.fixture(params=[2, 1], ids=["api2", "api1"])
def standin(request: pytest.FixtureRequest) -> Iterator[StandIn]:
    with StandIn(api=request.param, tts_rate=8000 if request.param == 2 else 16000) as si:
        yield si


def cards(turn: object) -> list[dict[str, object]]:
    msgs = [m for m in turn.messages if isinstance(m, Response)]  # type: ignore[attr-defined]
    return [m.data["card"]["content"] for m in msgs if "card" in m.data]


def test_the_timer_dialog_two_turns_command_and_session_end(standin: StandIn) -> None:
    with gateway_for(standin) as gw:
        with open_client(gw.url) as ws:
            first = utterance(ws, SPEECH)
            assert first.transcript.transcript == "set a timer"  # Diatheke's ASR, not the gateway's
            assert first.text.text == ASK
            assert first.response.speech_text == ASK
            audio = first.reply_audio
            # 0.6 s of reply at the model's rate, delivered at 16 kHz (API 2's model says 8 kHz).
            assert abs(len(audio) / 2 / 16000 - REPLY_S) < 0.02
            assert first.messages[-1].prompt is True  # WaitForUser without a wake word
            assert first.actions == ["stt_transcript", "response", "text", "audio_start",
                                     "audio_data", "audio_end"]
            second = utterance(ws, spoken("five minutes"))
            assert second.transcript.transcript == "five minutes"
            assert cards(second) == [{"command": "set_timer", "parameters": {"duration": "300"}}]
            assert second.text.text == CONFIRM
            assert second.messages[-1].prompt is False  # back to the wake word
            assert standin.wait_for(lambda log: len(log.command_results) == 1)
            result = standin.log.command_results[0]
            assert (getattr(result, "id", None) or result.command_id) == "set_timer"
            assert standin.log.audio_bytes and all(n > 16000 for n in standin.log.audio_bytes)
            assert standin.log.stale_tokens == 0  # every call carried the latest token
        # The connection is closed: its session is deleted.
        assert standin.wait_for(lambda log: log.deleted == log.created and bool(log.created))
    assert standin.log.created == standin.log.deleted  # one session, deleted at disconnect


def test_typed_text_goes_as_text_input(standin: StandIn) -> None:
    with gateway_for(standin) as gw, open_client(gw.url) as ws:
        turn = text_turn(ws, "set a timer please")
        assert turn.text.text == ASK
        assert standin.log.texts == ["set a timer please"]
        assert "PushText" in standin.log.calls or "UpdateSession" in standin.log.calls


def test_unavailable_mid_stream_is_an_error_then_the_next_turn_works(standin: StandIn) -> None:
    with gateway_for(standin) as gw, open_client(gw.url) as ws:
        standin.fail_next_stream = True
        bad = utterance(ws, SPEECH)
        assert isinstance(bad.messages[-1], GatewayError)
        assert "UNAVAILABLE" in bad.messages[-1].message
        good = utterance(ws, SPEECH)
        assert good.text.text == ASK


def test_expired_session_is_recreated_once(standin: StandIn) -> None:
    with gateway_for(standin) as gw, open_client(gw.url) as ws:
        assert utterance(ws, SPEECH).text.text == ASK
        standin.forget_sessions()  # the server restarted: the session is unknown
        turn = utterance(ws, SPEECH)
        assert not any(isinstance(m, GatewayError) for m in turn.messages), turn.messages
        assert turn.text.text == ASK  # a fresh session starts the script again
        assert len(standin.log.created) == 2


def test_unknown_model_is_an_error_until_the_server_has_it(standin: StandIn) -> None:
    with gateway_for(standin, model="kitchen") as gw, open_client(gw.url) as ws:
        bad = utterance(ws, SPEECH)
        assert isinstance(bad.messages[-1], GatewayError)
        assert "unknown Diatheke model 'kitchen'" in bad.messages[-1].message
        assert not standin.log.created
        standin.models.append("kitchen")  # deployed: the next transaction works
        assert utterance(ws, SPEECH).text.text == ASK


def test_server_down_at_start_errors_until_it_is_back(standin: StandIn) -> None:
    port = standin.port
    standin.stop()
    # The gateway starts anyway.
    with gateway_for(standin) as gw, open_client(gw.url) as ws:
        for _ in range(2):
            bad = utterance(ws, SPEECH)
            assert isinstance(bad.messages[-1], GatewayError)
        standin.port = port
        standin.start()
        good = utterance(ws, SPEECH)
        assert good.text.text == ASK
