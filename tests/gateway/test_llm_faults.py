"""The llm agent's faults and its key: each fault fails the turn before anything was said
(the chain moves on) or ends the reply after it; the key is never logged. Driven
directly (``respond()``) against the OpenAI-compatible stand-in."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from llm_support import ask, said, settings
from standins.openai_standin import KEY, MODEL, OpenAIStandIn, Script

from agent.common.redact import REDACTOR
from agent.gateway.dialog.agent import AgentFailed
from agent.gateway.dialog.llm.agent import LlmAgent
from agent.gateway.dialog.llm.settings import LlmSettings


@pytest.fixture(scope="module")
def standin() -> Iterator[OpenAIStandIn]:
    with OpenAIStandIn() as s:
        yield s


@pytest.fixture
def server(standin: OpenAIStandIn) -> OpenAIStandIn:
    standin.reset()
    return standin


@pytest.fixture
def key_file(tmp_path: Path) -> str:
    path = tmp_path / "openai.key"
    path.write_text(KEY + "\n")
    return str(path)


FAULTS = {
    "401": "HTTP 401 (the API key was refused)",
    "404": "HTTP 404 (unknown model or URL)",
    "429": "HTTP 429 (rate limited)",
    "500": "HTTP 500 (server error)",
    "hang": "timed out",
    "cut": "the connection broke",
    "malformed": "a malformed chunk",
    "error": "the server reported an error: model crashed",
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_fault_before_anything_was_said_fails_the_turn(
        server: OpenAIStandIn, key_file: str, fault: str, caplog: pytest.LogCaptureFixture,
) -> None:
    server.next(Script(pieces=["Half a sent", "ence and more."], fault=fault, fault_after=1,
                       hold_s=30))
    agent = LlmAgent(settings(server, key_file, timeout_s=1.0 if fault == "hang" else 10))
    with caplog.at_level(logging.INFO), pytest.raises(AgentFailed) as info:
        ask(agent, "why")
    assert info.value.reason.startswith(FAULTS[fault]), info.value.reason
    assert not info.value.unreachable
    assert FAULTS[fault] in caplog.text  # logged with what happened
    if fault == "hang":
        server.wait(lambda s: s.requests[-1].client_closed)


@pytest.mark.parametrize("fault", ["cut", "malformed", "error"])
def test_a_fault_after_a_sentence_ends_the_reply_with_it(server: OpenAIStandIn, key_file: str,
                                                         fault: str) -> None:
    server.next(Script(pieces=["One whole sentence. ", "And half"], fault=fault,
                       fault_after=1))
    parts = ask(LlmAgent(settings(server, key_file)), "why")
    assert said(parts) == ["One whole sentence."]


def test_an_unknown_model_is_a_404(server: OpenAIStandIn, key_file: str) -> None:
    with pytest.raises(AgentFailed, match="HTTP 404"):
        ask(LlmAgent(settings(server, key_file, model="llama-nonesuch")), "hi")
    assert server.requests[-1].model == "llama-nonesuch"


def test_a_server_that_is_down_is_unreachable(key_file: str) -> None:
    import socket

    with socket.socket() as sock:  # a port that was free a moment ago: nobody listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    down = LlmSettings(base_url=f"http://127.0.0.1:{port}/v1", api_key_file=key_file,
                       model=MODEL)
    with pytest.raises(AgentFailed, match="cannot connect") as info:
        ask(LlmAgent(down), "hi")
    assert info.value.unreachable


def test_the_key_comes_from_the_environment_when_no_file(
        server: OpenAIStandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    parts = ask(LlmAgent(settings(server, None)), "hello")  # type: ignore[arg-type]
    assert said(parts) and server.requests[-1].headers["Authorization"] == f"Bearer {KEY}"
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(AgentFailed, match="HTTP 401"):
        ask(LlmAgent(settings(server, None)), "hello")  # type: ignore[arg-type]
    assert server.requests[-1].headers["Authorization"] == "Bearer no-key"


def test_the_key_is_in_no_log_line_at_debug(server: OpenAIStandIn, key_file: str,
                                            caplog: pytest.LogCaptureFixture) -> None:
    server.next(Script(), Script(fault="401"))
    with caplog.at_level(logging.DEBUG):
        for name in ("openai", "openai._base_client", "httpx", "httpx2", "httpcore",
                     "httpcore2", "agent"):
            logging.getLogger(name).setLevel(logging.DEBUG)
        try:
            agent = LlmAgent(settings(server, key_file))
            ask(agent, "hello")
            with pytest.raises(AgentFailed):
                ask(LlmAgent(settings(server, key_file)), "hello")
            logging.getLogger("agent").debug("the key is %s", KEY)  # the guard itself
        finally:
            for name in ("openai", "openai._base_client", "httpx", "httpx2", "httpcore",
                         "httpcore2", "agent"):
                logging.getLogger(name).setLevel(logging.NOTSET)
    assert server.requests[-2].headers["Authorization"] == f"Bearer {KEY}"
    assert any(r.name.startswith("openai") for r in caplog.records)  # the SDK did log
    assert "the key is ***" in caplog.text
    assert KEY not in caplog.text and KEY[3:15] not in caplog.text
    assert REDACTOR.scrub(KEY) == "***"


def test_the_key_is_the_files_first_line(server: OpenAIStandIn, tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_text(f"  {KEY}  \n# rotated 2026-12-01\n")
    assert said(ask(LlmAgent(settings(server, str(path))), "hello"))
    assert server.requests[-1].headers["Authorization"] == f"Bearer {KEY}"
