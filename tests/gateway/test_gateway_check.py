"""``gateway --check`` checks every configured service, and says what a turn would say.

Real stand-ins on 127.0.0.1 (the Diatheke gRPC stand-in, AssemblyAI's v3
stand-in), a closed port for a service that is down. One thing cannot run
here: a failing DNS lookup (it would ask the network's resolver), so
``socket.getaddrinfo`` is replaced for one made-up host name only.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from diatheke_standin import StandIn
from gateway_support import open_client, silence, spoken, text_turn, utterance
from standins.v3_standin import V3StandIn

from agent.gateway.check import SERVICES, run_check
from agent.gateway.dialog_settings import DialogSettings, DiathekeSettings
from agent.gateway.in_thread import serve_in_thread
from agent.gateway.settings import GatewaySettings, SttSettings
from agent.gateway.stt.config import AssemblyAISettings
from agent.link.protocol import GatewayError

NOWHERE = "stt.example.invalid"


def lines_of(settings: GatewaySettings, service: str) -> list[tuple[bool | None, str, str]]:
    lines, _ = run_check(settings, "test")
    return [(line.ok, line.name, line.detail) for line in lines if line.service == service]


def diatheke(address: str, api: int = 2, model: str | None = None) -> GatewaySettings:
    d = DiathekeSettings(address=address, api=api, model=model, timeout_s=5.0)  # type: ignore[arg-type]
    return GatewaySettings(port=0, stt=SttSettings(workers=1),
                           dialog=DialogSettings(engine=("diatheke",), diatheke=d))


@pytest.mark.parametrize("api", [2, 1])
def test_diatheke_is_checked_list_models_and_the_model(api: int) -> None:
    with StandIn(api=api, models=("timer", "kitchen")) as si:
        found = lines_of(diatheke(si.address, api), "dialog.diatheke")
        named = lines_of(diatheke(si.address, api, "kitchen"), "dialog.diatheke")
        wrong = lines_of(diatheke(si.address, api, "garage"), "dialog.diatheke")
    assert [(ok, name.split()[0]) for ok, name, _ in found] == [
        (True, "dns"), (True, "tcp"), (True, "ListModels"), (True, "model")
    ]
    assert found[2][2] == "2 model(s): timer, kitchen"
    assert found[3][2].startswith("timer (the first listed")
    assert named[3] == (True, "model", "kitchen (dialog.diatheke.model)")
    assert wrong[3] == (False, "model", "unknown model 'garage' (the server has: timer, kitchen)")


def test_diatheke_with_no_server_fails_and_shows_the_steps_it_could_not_run(
    unused_port: int,
) -> None:
    lines, ok = run_check(diatheke(f"127.0.0.1:{unused_port}"), "test")
    assert not ok
    mine = [(line.ok, line.name, line.detail)
            for line in lines if line.service == "dialog.diatheke"]
    assert mine[1] == (False, f"tcp 127.0.0.1:{unused_port}",
                       f"cannot connect to 127.0.0.1:{unused_port} (connection refused)")
    assert [ok for ok, _, _ in mine[2:]] == [None, None]  # ListModels, model: SKIP
    # Every service has its line: the ones not configured are skipped, and say why.
    assert {line.service for line in lines} == {s.name for s in SERVICES}
    skills = [line for line in lines if line.service == "dialog.skills"]
    assert skills[0].ok is None and "not in dialog.engine" in skills[0].detail


@pytest.fixture
def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def no_dns_for_nowhere(monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo

    def lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == NOWHERE:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", lookup)


@pytest.fixture(scope="module")
def v3() -> Iterator[V3StandIn]:
    with V3StandIn() as s:
        yield s


def assemblyai(url: str, key_file: Path) -> GatewaySettings:
    return GatewaySettings(port=0, stt=SttSettings(
        engine="assemblyai", workers=1,
        assemblyai=AssemblyAISettings(url=url, api_key_file=str(key_file))))


def turn_error(settings: GatewaySettings) -> str:
    with serve_in_thread(settings) as gw, open_client(gw.url) as ws:
        turn = utterance(ws, spoken("what time is it") + silence(0.3))
    return turn.first(GatewayError).message


@pytest.mark.parametrize("case", ["dns", "tcp", "key"])
def test_a_turn_fails_with_the_words_of_the_check(
    case: str, tmp_path: Path, v3: V3StandIn, unused_port: int,
    no_dns_for_nowhere: None,
) -> None:
    key = tmp_path / "key"
    key.write_text((v3.api_key if case != "key" else "wrong-key-0123") + "\n")
    url = {"dns": f"wss://{NOWHERE}/v3/ws", "tcp": f"ws://127.0.0.1:{unused_port}/v3/ws",
           "key": v3.url}[case]
    settings = assemblyai(url, key)
    failed = [line for line in lines_of(settings, "stt.assemblyai") if line[0] is False]
    said = {
        "dns": f"cannot resolve {NOWHERE}",
        "tcp": f"cannot connect to 127.0.0.1:{unused_port} (connection refused)",
        "key": "the key was refused (HTTP 401): check stt.assemblyai.api_key_file",
    }[case]
    assert [detail for _, _, detail in failed] == [said]
    error = turn_error(settings)
    assert "assemblyai" in error and error.endswith(f": {said}"), error


def test_a_diatheke_turn_with_no_server_says_what_the_check_says(unused_port: int) -> None:
    settings = diatheke(f"127.0.0.1:{unused_port}")
    settings = GatewaySettings(port=0, stt=settings.stt, dialog=DialogSettings(
        engine=("diatheke",),
        diatheke=DiathekeSettings(address=f"127.0.0.1:{unused_port}", timeout_s=1.0)))
    said = f"cannot connect to 127.0.0.1:{unused_port} (connection refused)"
    failed = [line for line in lines_of(settings, "dialog.diatheke") if line[0] is False]
    assert [detail for _, _, detail in failed] == [said]
    with serve_in_thread(settings) as gw, open_client(gw.url) as ws:
        turn = text_turn(ws, "set a timer")
    assert turn.first(GatewayError).message == f"dialog server: {said}"
