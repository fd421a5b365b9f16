"""The home_assistant agent against the stand-in: newer HA's answers, and faults a real HA
cannot be made to show (slow answers, bad frames, a dead link).

Newer shapes recorded from HA 2025.4.4: ``conversation_id`` (kept per device
and sent back), ``continue_conversation: true`` (the device listens again),
``data.code: "unknown"`` (passes), ``failed_to_handle`` (HA's sentence).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import trustme
from standins.ha_standin import TOKEN, HaStandIn

from agent.gateway.dialog.agent import AgentFailed, Ask, Pass, Peer, Say, Turn
from agent.gateway.dialog.home_assistant.agent import HomeAssistantAgent
from agent.gateway.dialog.home_assistant.settings import HomeAssistantSettings

CHAIN = ("skills", "home_assistant")


def run(body: Callable[[HaStandIn, HomeAssistantAgent], Awaitable[Any]], mode: str = "normal",
        timeout_s: float = 5.0, ping_interval_s: float | None = None) -> Any:
    async def main() -> Any:
        async with HaStandIn(mode=mode) as standin:
            settings = HomeAssistantSettings(url=standin.url, timeout_s=timeout_s)
            agent = HomeAssistantAgent(settings, TOKEN, lambda _w: CHAIN, grammar=False)
            if ping_interval_s is not None:
                agent.connection.ping_interval_s = ping_interval_s
            agent.start()
            try:
                assert await agent.connection.wait_connected(10)
                return await body(standin, agent)
            finally:
                await agent.aclose()

    return asyncio.run(main())


async def reply(agent: HomeAssistantAgent, text: str, device: str = "kitchen-pi") -> list[Any]:
    session = agent.connect(Peer(number=1, device=device))
    return [part async for part in session.respond(Turn(id="t", text=text))]


def test_conversation_id_is_kept_per_device_and_sent_back() -> None:
    async def body(standin: HaStandIn, agent: HomeAssistantAgent) -> list[Any]:
        await reply(agent, "turn on the kitchen lights", "kitchen-pi")
        await reply(agent, "turn on the kitchen lights", "kitchen-pi")
        await reply(agent, "turn on the kitchen lights", "bedroom-pi")
        return [m.get("conversation_id") for m in standin.processed()]

    first, again, other = run(body)
    assert first is None
    assert again is not None and again.startswith("01JR")  # the ULID HA gave the first turn
    assert other is None  # another device has a conversation of its own


def test_continue_conversation_asks_again() -> None:
    parts = run(lambda _s, agent: reply(agent, "turn on the light"))
    assert parts == [Say("Which light?"), parts[1], Ask()]


def test_newer_unknown_intent_passes_and_failed_to_handle_is_spoken() -> None:
    async def body(_s: HaStandIn, agent: HomeAssistantAgent) -> tuple[str, list[Any]]:
        try:
            await reply(agent, "what's the weather")
            passed = "answered"
        except Pass:
            passed = "passed"
        return passed, await reply(agent, "set a timer for 5 minutes")

    passed, timer = run(body)
    assert passed == "passed"
    assert timer == [Say("Sorry, timers are not supported on this device")]


def test_a_slow_home_assistant_fails_the_turn_after_timeout_s() -> None:
    async def body(standin: HaStandIn, agent: HomeAssistantAgent) -> tuple[str, bool]:
        with pytest.raises(AgentFailed) as failed:
            await reply(agent, "turn on the kitchen lights")
        return failed.value.reason, agent.connection.connected

    reason, still_up = run(body, mode="slow", timeout_s=0.5)
    assert reason == "Home Assistant did not answer within 0.5 s"
    assert still_up  # one slow answer is not a dead link


def test_bad_frames_are_dropped_and_the_answer_still_comes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)

    async def body(standin: HaStandIn, agent: HomeAssistantAgent) -> tuple[list[Any], int]:
        return await reply(agent, "turn on the kitchen lights"), standin.connections

    parts, connections = run(body, mode="bad_frames")
    assert parts[0] == Say("Turned on the light")
    assert connections == 1  # the link was kept
    bad = [r.getMessage() for r in caplog.records if "bad frame" in r.getMessage()]
    assert len(bad) == 3, bad


def test_a_dead_link_is_noticed_by_ping_and_reconnected() -> None:
    async def body(standin: HaStandIn, agent: HomeAssistantAgent) -> int:
        async with asyncio.timeout(20):
            while standin.connections < 2:  # pings unanswered -> closed -> connected again
                await asyncio.sleep(0.05)
        return agent.connection.connects

    assert run(body, mode="deaf", timeout_s=0.3, ping_interval_s=0.2) >= 1


def test_a_refused_token_is_a_clear_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    async def main() -> tuple[bool, bool]:
        async with HaStandIn() as standin:
            settings = HomeAssistantSettings(url=standin.url, timeout_s=2)
            agent = HomeAssistantAgent(settings, "wrong-token-5b2f8e1d", lambda _w: CHAIN,
                                       grammar=False)
            agent.start()
            try:
                async with asyncio.timeout(10):
                    while not agent.connection.refused:
                        await asyncio.sleep(0.05)
                with pytest.raises(AgentFailed) as failed:
                    await reply(agent, "turn on the kitchen lights")
                return agent.connection.refused, failed.value.unreachable
            finally:
                await agent.aclose()

    assert asyncio.run(main()) == (True, True)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any("refused the access token" in e for e in errors), errors
    assert "wrong-token-5b2f8e1d" not in caplog.text


def test_wss_with_ca_file_and_not_without_it(tmp_path: Path) -> None:
    ca = trustme.CA()
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))

    async def main(ca_path: str | None) -> tuple[bool, str | None, list[Any]]:
        async with HaStandIn(ssl=server) as standin:
            settings = HomeAssistantSettings(url=standin.url, timeout_s=2, ca_file=ca_path)
            agent = HomeAssistantAgent(settings, TOKEN, lambda _w: CHAIN, grammar=False)
            agent.start()
            try:
                up = await agent.connection.wait_connected(3 if ca_path is None else 10)
                parts = await reply(agent, "turn on the kitchen lights") if up else []
                return up, agent.connection.last_error, parts
            finally:
                await agent.aclose()

    up, _error, parts = asyncio.run(main(str(ca_file)))
    assert up and parts[0] == Say("Turned on the light")
    untrusted, error, _ = asyncio.run(main(None))  # the system CAs do not know this one
    assert not untrusted
    assert error is not None and "SSL" in error
