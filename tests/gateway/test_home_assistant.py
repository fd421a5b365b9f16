"""The home_assistant agent against a real Home Assistant 2024.3.3 (a process on 127.0.0.1).

The agent is driven directly (its sessions' ``respond``), as the gateway's
pipeline drives it; the lights are HA template lights whose state is read
back from HA. Also the grammar: built from HA's areas and exposed entities,
compiled by real pocketsphinx, heard from espeak-ng speech, rebuilt when a
device gets a new alias in HA.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from real_ha import RealHomeAssistant
from speech import say

from agent.gateway.dialog.agent import AgentFailed, Data, Pass, Peer, Say, Turn
from agent.gateway.dialog.builtin import default_skills
from agent.gateway.dialog.home_assistant.agent import HomeAssistantAgent
from agent.gateway.dialog.home_assistant.settings import HomeAssistantSettings
from agent.gateway.grammar import Grammar
from agent.gateway.stt.dictionary import known_word
from agent.gateway.stt.pocketsphinx import PocketsphinxEngine

CHAIN = ("skills", "home_assistant")


def make_agent(ha: RealHomeAssistant, chain: tuple[str, ...] = CHAIN, token: str | None = None,
               **kw: Any) -> HomeAssistantAgent:
    settings = HomeAssistantSettings(url=ha.url, timeout_s=kw.pop("timeout_s", 10.0))
    return HomeAssistantAgent(settings, token or ha.token, lambda _w: chain, grammar=True,
                              known_word=known_word, **kw)


def with_agent(ha: RealHomeAssistant, body: Callable[[HomeAssistantAgent], Awaitable[Any]],
               chain: tuple[str, ...] = CHAIN) -> Any:
    async def main() -> Any:
        agent = make_agent(ha, chain)
        agent.start()
        try:
            assert await agent.connection.wait_connected(20), agent.connection.last_error
            return await body(agent)
        finally:
            await agent.aclose()

    return asyncio.run(main())


async def reply(agent: HomeAssistantAgent, text: str, device: str = "kitchen-pi") -> list[Any]:
    session = agent.connect(Peer(number=1, device=device))
    return [part async for part in session.respond(Turn(id="t1", text=text))]


def says(parts: list[Any]) -> str:
    return " ".join(p.text for p in parts if isinstance(p, Say))


def card(parts: list[Any]) -> dict[str, Any]:
    cards = [p.fields["card"] for p in parts if isinstance(p, Data)]
    assert len(cards) == 1, parts
    return cards[0]  # type: ignore[no-any-return]


def test_turn_on_the_kitchen_lights(real_ha: RealHomeAssistant) -> None:
    real_ha.set_power("kitchen_lights", False)
    parts = with_agent(real_ha, lambda a: reply(a, "turn on the kitchen lights"))
    assert says(parts) == "Turned on the light"
    c = card(parts)
    assert c["type"] == "home_assistant"
    assert c["content"]["response_type"] == "action_done"
    assert c["content"]["success"] == [
        {"name": "Kitchen Lights", "type": "entity", "id": "light.kitchen_lights"}]
    real_ha.wait_state("light.kitchen_lights", "on")


def test_area_brightness_and_a_question(real_ha: RealHomeAssistant) -> None:
    real_ha.set_power("living_room_lamp", False)
    real_ha.set_power("bedroom_light", False)

    async def body(agent: HomeAssistantAgent) -> list[list[Any]]:
        return [await reply(agent, t) for t in (
            "turn on the lights in the living room",
            "set the kitchen lights to fifty percent",
            "is the bedroom light on",
        )]

    area, level, question = with_agent(real_ha, body)
    ids = {t["id"] for t in card(area)["content"]["success"]}
    assert ids == {"living_room", "light.living_room_lamp"}
    real_ha.wait_state("light.living_room_lamp", "on")
    assert says(level) == "Brightness set"
    assert real_ha.wait_state("light.kitchen_lights", "on")["attributes"]["brightness"] == 128
    assert says(question) == "No, Off"
    assert card(question)["content"]["response_type"] == "query_answer"


def test_what_ha_does_not_understand_passes(real_ha: RealHomeAssistant) -> None:
    async def body(agent: HomeAssistantAgent) -> list[str]:
        out = []
        for text in ("sing me a song", "what's the weather"):  # no_intent_match; Unknown intent
            try:
                await reply(agent, text)
                out.append("answered")
            except Pass:
                out.append("passed")
        return out

    assert with_agent(real_ha, body) == ["passed", "passed"]


def test_an_unknown_device_gets_has_sentence_unless_an_llm_follows(
    real_ha: RealHomeAssistant,
) -> None:
    parts = with_agent(real_ha, lambda a: reply(a, "turn on the garage door"))
    assert says(parts) == "Sorry, I am not aware of any device called garage door"

    async def body(agent: HomeAssistantAgent) -> str:
        try:
            await reply(agent, "tell me a joke about penguins")
        except Pass:
            return "passed"
        return "answered"

    assert with_agent(real_ha, body, chain=("skills", "home_assistant", "llm")) == "passed"


def test_the_llm_tool_gets_has_answer(real_ha: RealHomeAssistant) -> None:
    real_ha.set_power("coffee_maker", True)
    answer = with_agent(real_ha, lambda a: a.command("turn off the coffee maker"))
    assert answer == "Turned off the switch"
    real_ha.wait_state("switch.coffee_maker", "off")
    unknown = with_agent(real_ha, lambda a: a.command("sing me a song"))
    assert unknown == "Home Assistant did not understand that."
    # An llm after HA in the chain: the tool still gets HA's sentence (the LLM asked).
    garage = with_agent(real_ha, lambda a: a.command("turn on the garage door"),
                        chain=("skills", "home_assistant", "llm"))
    assert garage == "Sorry, I am not aware of any device called garage door"


def test_home_assistant_down_is_a_failed_turn(real_ha: RealHomeAssistant) -> None:
    async def main() -> str:
        settings = HomeAssistantSettings(url="http://127.0.0.1:9", timeout_s=1)
        agent = HomeAssistantAgent(settings, "x" * 20, lambda _w: CHAIN, grammar=False)
        try:
            await reply(agent, "turn on the kitchen lights")
        except AgentFailed as exc:
            assert exc.unreachable
            return exc.reason
        finally:
            await agent.aclose()
        return "answered"

    assert asyncio.run(main()) == "Home Assistant is not reachable"


def test_the_token_is_never_logged_at_debug(real_ha: RealHomeAssistant,
                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("websockets", "websockets.client", "agent"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    parts = with_agent(real_ha, lambda a: reply(a, "is the kitchen lights on"))
    assert parts
    text = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert "auth" in text  # the auth frame was logged (scrubbed), so the check means something
    assert real_ha.token not in text
    assert real_ha.token[:40] not in text


def test_grammar_from_ha_is_heard_and_rebuilt_after_a_new_alias(
    real_ha: RealHomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    skills = default_skills()

    async def body(agent: HomeAssistantAgent) -> tuple[tuple[str, ...], tuple[str, ...]]:
        await _wait(lambda: agent.builds >= 1)
        before = agent.patterns
        builds = agent.builds
        real_ha.command({"type": "config/entity_registry/update",
                         "entity_id": "light.bedroom_light",
                         "aliases": ["reading lamp", "blorptastic lamp"]})
        await _wait(lambda: agent.builds > builds)
        return before, agent.patterns

    before, after = with_agent(real_ha, body)
    try:
        heard_before = Grammar({}, {"ha": before}).sentences("ha")
        heard_after = Grammar({}, {"ha": after}).sentences("ha")
        assert "turn on the kitchen lights" in heard_before
        assert "turn off the reading lamp" not in heard_before
        assert {"turn off the reading lamp", "is the reading lamp on",
                "set reading lamp to fifty percent"} <= heard_after
        assert not any("blorptastic" in p for p in after)  # not in the dictionary: left out
        assert "cannot hear" in caplog.text and "blorptastic lamp" in caplog.text
        engine = PocketsphinxEngine(skills.searches({"home_assistant": before}),
                                    skills.pronunciations)
        heard = engine.transcribe(say("turn on the kitchen lights").tobytes(), "main")
        assert (heard.text, heard.source) == ("turn on the kitchen lights", "grammar")
        engine.set_search("main", skills.searches({"home_assistant": after})["main"])
        heard = engine.transcribe(say("turn off the reading lamp").tobytes(), "main")
        assert (heard.text, heard.source) == ("turn off the reading lamp", "grammar")
    finally:
        real_ha.command({"type": "config/entity_registry/update",
                         "entity_id": "light.bedroom_light", "aliases": []})


async def _wait(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)
