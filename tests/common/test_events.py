"""Event output, logging configuration and the redaction of secrets."""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from agent.common.event_sink import EventSink
from agent.common.logs import JsonLogFormatter, configure_logging
from agent.common.redact import MASK, REDACTOR, Redactor, is_secret_name
from agent.link.protocol import Card

SECRET = "s3cr3t-token-ABCDEF"


@pytest.fixture
def root_logging() -> Iterator[logging.Logger]:
    """The root logger, with its handlers and level restored afterwards."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield root
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


# --------------------------------------------------------------------------
# EventSink


def test_json_event_is_one_line_with_event_ts_and_fields():
    out = io.StringIO()
    before = time.time()
    EventSink("json", stream=out).emit("transcript", id="t1", text="what time is it",
                                       confidence=0.93)
    after = time.time()
    [line] = out.getvalue().splitlines()
    event = json.loads(line)
    assert list(event)[:2] == ["event", "ts"]
    assert event == {"event": "transcript", "ts": event["ts"], "id": "t1",
                     "text": "what time is it", "confidence": 0.93}
    assert isinstance(event["ts"], float) and before - 1 <= event["ts"] <= after + 1


def test_json_events_go_to_the_current_stdout(capsys):
    sink = EventSink("json")
    sink.emit("wake", model="hey_jarvis", score=0.71)
    sink.emit("state", **{"from": "idle", "to": "listening"})
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["event"] for line in lines] == ["wake", "state"]
    assert json.loads(lines[1])["from"] == "idle"


def test_json_values_are_made_json_ready():
    out = io.StringIO()
    EventSink("json", stream=out).emit(
        "response", text="hi", card=Card("volume", "increase"), score=float("nan"),
        audio=b"\x00\x01\x02", ts="ignored", tags=("a", "b"),
    )
    event = json.loads(out.getvalue())
    assert event["card"] == {"feature": "volume", "action": "increase"}
    assert event["score"] is None
    assert event["audio"] == "<3 bytes>"
    assert event["tags"] == ["a", "b"]
    assert isinstance(event["ts"], float)


def test_event_fields_are_scrubbed_at_any_depth():
    out = io.StringIO()
    sink = EventSink("json", stream=out, redactor=Redactor([SECRET]))
    sink.emit("error", message=f"gateway said {SECRET}",
              source="gateway", detail={"nested": [f"x{SECRET}y", {"k": SECRET}]})
    assert SECRET not in out.getvalue()
    event = json.loads(out.getvalue())
    assert event["message"] == f"gateway said {MASK}"
    assert event["detail"] == {"nested": [f"x{MASK}y", {"k": MASK}]}


def test_text_events_are_readable_log_lines(caplog):
    caplog.set_level(logging.INFO, logger="agent.events")
    sink = EventSink("text", redactor=Redactor([SECRET]))
    sink.emit("connected", url="wss://gw.example/audio")
    sink.emit("error", message=f"bad {SECRET}", source="gateway")
    sink.emit("followup")
    messages = [r.getMessage() for r in caplog.records if r.name == "agent.events"]
    assert messages == [
        'connected url="wss://gw.example/audio"',
        f'error message="bad {MASK}" source="gateway"',
        "followup",
    ]


class _SlowStream(io.StringIO):
    """A stream whose writes land in pieces, as a pipe's may: lets threads interleave."""

    def write(self, text: str) -> int:
        for start in range(0, len(text), 16):
            super().write(text[start:start + 16])
            time.sleep(0)  # give other threads the chance to write in between
        return len(text)


def test_emit_from_many_threads_keeps_every_line_whole():
    out = _SlowStream()
    sink = EventSink("json", stream=out)

    def burst(n: int) -> None:
        for i in range(100):
            sink.emit("audio_start", id=f"{n}-{i}", text="x" * 200)

    threads = [threading.Thread(target=burst, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = out.getvalue().splitlines()
    assert len(lines) == 600
    assert {json.loads(line)["id"] for line in lines} == {
        f"{n}-{i}" for n in range(6) for i in range(100)
    }


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match="xml"):
        EventSink("xml")


def test_the_default_sink_scrubs_with_the_process_redactor():
    assert EventSink().redactor is REDACTOR


# --------------------------------------------------------------------------
# Redactor


def test_known_secrets_are_masked_in_every_form():
    redactor = Redactor([SECRET, None, ""])
    redactor.add("tok+en/with=chars")
    text = redactor.scrub(f"a {SECRET} b tok%2Ben%2Fwith%3Dchars c tok+en/with=chars")
    assert text == f"a {MASK} b {MASK} c {MASK}"


def test_a_secret_containing_another_is_masked_whole():
    redactor = Redactor(["abcd", "abcdefgh"])
    assert redactor.scrub("xx abcdefgh yy") == f"xx {MASK} yy"


def test_very_short_secrets_are_not_masked_literally():
    assert Redactor(["ab"]).scrub("a cab ride") == "a cab ride"


def test_a_token_file_read_with_its_newline_is_masked():
    assert Redactor([SECRET + "\n"]).scrub(f"x{SECRET}x") == f"x{MASK}x"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer eyJhbGciOi.J9", "Authorization: Bearer ***"),
        ("authorization: abcdef", "authorization: ***"),
        ("{'Authorization': 'Bearer xyz123'}", "{'Authorization': 'Bearer ***'}"),
        ("Proxy-Authorization: Basic dXNlcjpwdw==", "Proxy-Authorization: Basic ***"),
        ("GET /audio?lang=en&token=abc123&apikey=k9 HTTP/1.1",
         "GET /audio?lang=en&token=***&apikey=*** HTTP/1.1"),
        ("apikey=KEY-1&grant_type=urn:ibm:params:oauth:grant-type:apikey",
         "apikey=***&grant_type=urn:ibm:params:oauth:grant-type:apikey"),
        ('{"access_token": "eyJ.x.y", "expires_in": 3600}',
         '{"access_token": "***", "expires_in": 3600}'),
        ("nothing to hide here", "nothing to hide here"),
    ],
)
def test_secret_looking_values_are_masked_without_being_known(text, expected):
    assert Redactor().scrub(text) == expected


def test_secret_names():
    for name in ("token", "apikey", "api_key", "API-Key", "access_token", "Authorization",
                 "x-api-key", "password"):
        assert is_secret_name(name), name
    for name in ("language", "userID", "tenantid", "skillset", "engine", "tokens_used"):
        assert not is_secret_name(name), name


# --------------------------------------------------------------------------
# Log records


def test_log_records_of_any_logger_are_scrubbed(caplog):
    redactor = Redactor([SECRET])
    redactor.install()
    third_party = logging.getLogger("some.library")
    own = io.StringIO()
    handler = logging.StreamHandler(own)  # a handler of its own, as enableTrace adds
    third_party.addHandler(handler)
    caplog.set_level(logging.DEBUG)
    try:
        third_party.debug("header: %s", f"X-Token: {SECRET}")
        third_party.info("Authorization: Bearer %s", "never-known-before")
        try:
            raise RuntimeError(f"failed with {SECRET}")
        except RuntimeError:
            third_party.exception("it broke")
    finally:
        third_party.removeHandler(handler)
    everything = caplog.text + own.getvalue() + "".join(r.getMessage() for r in caplog.records)
    assert SECRET not in everything
    assert "never-known-before" not in everything
    assert f"X-Token: {MASK}" in own.getvalue()
    assert "RuntimeError: failed with ***" in caplog.text


def test_records_without_secrets_keep_their_arguments(caplog):
    Redactor([SECRET]).install()
    caplog.set_level(logging.INFO)
    logging.getLogger("plain").info("%d frames", 3)
    [record] = [r for r in caplog.records if r.name == "plain"]
    assert record.args == (3,) and record.getMessage() == "3 frames"


# --------------------------------------------------------------------------
# configure_logging


def test_configure_logging_json_to_the_stream(root_logging):
    out = io.StringIO()
    configure_logging("debug", "json", stream=out)
    REDACTOR.add(SECRET)
    logging.getLogger("agent.test").debug("using %s", SECRET)
    [line] = out.getvalue().splitlines()
    record = json.loads(line)
    assert record["level"] == "debug" and record["logger"] == "agent.test"
    assert record["message"] == f"using {MASK}"
    assert isinstance(record["ts"], float)


def test_configure_logging_again_replaces_its_handler(root_logging):
    first, second = io.StringIO(), io.StringIO()
    configure_logging("info", "text", stream=first)
    configure_logging("WARNING", "text", stream=second)
    log = logging.getLogger("agent.test")
    log.info("quiet")
    log.warning("loud")
    assert first.getvalue() == ""
    assert second.getvalue() == "WARNING agent.test: loud\n"
    assert root_logging.level == logging.WARNING


def test_configure_logging_refuses_unknown_values(root_logging):
    with pytest.raises(ValueError, match="chatty"):
        configure_logging("chatty", "text")
    with pytest.raises(ValueError, match="xml"):
        configure_logging("info", "xml")


def test_json_log_formatter_includes_the_traceback():
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    out: dict[str, Any] = json.loads(JsonLogFormatter().format(record))
    assert out["message"] == "failed" and "ValueError: boom" in out["exc"]


def test_a_reply_is_said_once_at_info_when_the_daemon_prints_it(caplog, capsys):
    # The daemon prints "assistant: ..." (output.print); its text-form event log
    # keeps response and text at DEBUG then, so the reply is said once at INFO.
    # The JSON form (the contract on stdout) keeps every event.
    from agent.config.load import parse_config
    from agent.device.daemon import event_sink

    caplog.set_level(logging.DEBUG, logger="agent.events")
    url = {"gateway": {"url": "ws://127.0.0.1:9/"}}
    printing = event_sink(parse_config(url, "t"))
    for name, fields in (("response", {"text": "Hi."}), ("text", {"text": "Hi.", "prompt": False}),
                         ("transcript", {"id": "a", "text": "hello", "confidence": 0.9}),
                         ("wake", {"model": "alexa", "score": 0.9})):
        printing.emit(name, **fields)
    info = [r.getMessage().split()[0] for r in caplog.records if r.levelno >= logging.INFO]
    assert info == ["wake"]
    assert len(caplog.records) == 4  # the rest is still there at DEBUG
    caplog.clear()
    silent = event_sink(parse_config({**url, "output": {"print": False}}, "t"))
    silent.emit("response", text="Hi.")
    assert [r.levelno for r in caplog.records] == [logging.INFO]  # nothing printed it
    as_json = event_sink(parse_config({**url, "log": {"format": "json"}}, "t"))
    as_json.emit("response", text="Hi.")
    assert json.loads(capsys.readouterr().out)["event"] == "response"
