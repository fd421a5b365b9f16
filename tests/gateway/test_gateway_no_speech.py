"""A transaction the device ended as ``no_speech`` gets no answer when nothing was heard.

The device's ``audio_end`` says ``reason: no_speech`` (this project's
extension, docs/protocol.md); the gateway then ends the transaction quietly
when its transcript is empty. Without the reason (any other client), an empty
transcript is still answered as before. Real gateway on 127.0.0.1, real daemon.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_harness import running, settings_for
from gateway_support import CHUNK, audio_msg, open_client, read_reply, silence, text_turn
from speech import compose

from agent.device.control import request
from agent.gateway.in_thread import RunningGateway, serve_in_thread
from agent.gateway.settings import GatewaySettings, ReplySettings
from agent.link.protocol import AudioEnd, SttTranscript, decode_client, encode


@pytest.fixture(scope="module")
def gateway() -> Iterator[RunningGateway]:
    gw = serve_in_thread(GatewaySettings(port=0, reply=ReplySettings(form="standard", pace=0)))
    yield gw
    gw.stop()


def silent_transaction(ws, reason: str | None) -> str:  # type: ignore[no-untyped-def]  # noqa: ANN001
    tid = str(uuid.uuid4())
    ws.send(json.dumps({"id": tid, "action": "audio_start"}))
    pcm = silence(1.0)
    for i in range(0, len(pcm), CHUNK):
        ws.send(audio_msg(tid, pcm[i : i + CHUNK]))
    end: dict[str, str] = {"id": tid, "action": "audio_end"}
    if reason is not None:
        end["reason"] = reason
    ws.send(json.dumps(end))
    return tid


def test_the_reason_is_on_the_wire_only_when_there_is_one() -> None:
    assert json.loads(encode(AudioEnd("t", "no_speech"))) == {
        "id": "t", "action": "audio_end", "reason": "no_speech"
    }
    assert json.loads(encode(AudioEnd("t"))) == {"id": "t", "action": "audio_end"}
    assert decode_client(encode(AudioEnd("t", "no_speech"))) == AudioEnd("t", "no_speech")
    assert decode_client('{"id":"t","action":"audio_end"}') == AudioEnd("t")


def test_no_speech_with_nothing_heard_ends_quietly(gateway: RunningGateway) -> None:
    with open_client(gateway.url) as ws:
        tid = silent_transaction(ws, "no_speech")
        record = gateway.transaction(tid)  # its work is done: anything to send was sent
        assert record.transcript == ""
        after = text_turn(ws, "what time is it")  # the next thing on the wire is this
    assert [m for m in after.messages if getattr(m, "id", None) == tid] == []
    assert after.skill == "time"


def test_without_the_reason_an_empty_transcript_is_still_answered(
    gateway: RunningGateway,
) -> None:
    with open_client(gateway.url) as ws:
        tid = silent_transaction(ws, None)
        turn = read_reply(ws)
    assert turn.transcript == SttTranscript(tid, "", 0.0, tid)
    assert turn.text.text == "Sorry, I didn't hear anything."


def test_the_daemon_says_no_speech_and_hears_nothing_back(
    gateway: RunningGateway, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "agent.device.replies")
    # `voice-agent ctl listen` in a silent room (the case): nothing to hear.
    audio, _ = compose(tmp_path / "in.wav", [("pause", 20.0)])
    sock = tmp_path / "ctl.sock"
    settings = settings_for(gateway.url, str(audio), str(tmp_path / "o.wav"),
                            listen={"no_speech_timeout_s": 1}, control={"socket": str(sock)})
    with running(settings) as (_d, events):
        assert events.wait_count("connected", 1, 30)
        assert request(str(sock), "listen")["ok"] is True
        assert events.wait_count("audio_end", 1, 30, reason="no_speech")
        tid = events.of("audio_end")[0]["id"]
        assert gateway.transaction(tid).transcript == ""  # done: it sent all it would
    # What the gateway sent on the daemon's connection: nothing for that transaction.
    mine = [c for c in gateway.connections if any(getattr(m, "id", None) == tid
                                                  for m in c.received)]
    assert len(mine) == 1
    assert [m for m in mine[0].sent if getattr(m, "id", None) == tid] == []
    assert any(getattr(m, "reason", None) == "no_speech" for m in mine[0].received)
    assert not [r for r in caplog.records if "outside a turn" in r.getMessage()]
    assert "transcript" not in events.names() and "response" not in events.names()
