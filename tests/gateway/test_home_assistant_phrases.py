"""The grammar phrases built from a home: each intent and domain, names, aliases, areas."""

from __future__ import annotations

from pathlib import Path

import pytest
import real_ha

from agent.common.settings_values import ConfigError
from agent.gateway.dialog.home_assistant.home import Area, Entity, Home, build_home
from agent.gateway.dialog.home_assistant.phrases import build_patterns, unheard
from agent.gateway.grammar import Grammar
from agent.gateway.settings import parse_gateway_settings
from agent.gateway.stt.dictionary import known_word

HOME = Home(
    (Area("kitchen", ("Kitchen", "Cooking Area")),),
    (Entity("light.kitchen_lights", ("Kitchen Lights",), "kitchen"),
     Entity("cover.garage_door", ("Garage Door",)),
     Entity("lock.front_door", ("Front Door",)),
     Entity("climate.hallway", ("Hallway Heating",)),
     Entity("media_player.tv", ("TV 2",)),
     Entity("sensor.outside", ("Outside",))),
)


def sentences(home: Home) -> frozenset[str]:
    return Grammar({}, {"ha": build_patterns(home, known_word)}).sentences("ha")


def test_each_intent_and_domain_makes_its_sentences() -> None:
    s = sentences(HOME)
    for expected in (
        "turn on the kitchen lights", "turn off kitchen lights", "turn the kitchen lights off",
        "is the kitchen lights on", "set the kitchen lights to fifty percent",
        "set kitchen lights brightness to one hundred percent",
        "turn off the lights in the kitchen", "turn on the light in the cooking area",
        "turn on the kitchen lights", "turn the kitchen light off",
        "open the garage door", "close garage door", "is the garage door open",
        "lock the front door", "unlock front door", "is the front door locked",
        "turn on the hallway heating", "what is the temperature in the kitchen",
        "turn off the tv two",
    ):
        assert expected in s, expected
    assert not any("outside" in x for x in s)  # a sensor: not a domain with phrases
    assert not any(x.startswith("open the kitchen") for x in s)  # a light does not open


def test_a_name_the_dictionary_lacks_is_left_out_and_named() -> None:
    home = Home((), (Entity("light.x", ("Zigbee Blorp",)), Entity("light.y", ("Desk Lamp",))))
    assert unheard(home, known_word) == ["Zigbee Blorp"]
    s = sentences(home)
    assert "turn on the desk lamp" in s and not any("blorp" in x for x in s)


def test_build_home_keeps_exposed_entities_with_aliases_and_areas() -> None:
    home = build_home(
        [{"area_id": "kitchen", "name": "Kitchen", "aliases": ["Galley"]}],
        {"light.a": {"name": None, "original_name": "A", "aliases": ["Worktop"],
                     "device_id": "d1"},
         "light.hidden": {"name": "Hidden"}},
        [{"id": "d1", "area_id": "kitchen"}],
        {"exposed_entities": {"light.a": {"conversation": True},
                              "light.hidden": {"conversation": False},
                              "switch.no_registry": {"conversation": True}}},
        [{"entity_id": "light.a", "attributes": {"friendly_name": "Pantry Light"}},
         {"entity_id": "switch.no_registry", "attributes": {"friendly_name": "Kettle"}}],
    )
    assert home.areas == (Area("kitchen", ("Kitchen", "Galley")),)
    assert home.entities == (Entity("light.a", ("Pantry Light", "Worktop"), "kitchen"),
                             Entity("switch.no_registry", ("Kettle",)))


def test_real_ha_tests_fail_without_its_venv(monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    monkeypatch.setattr(real_ha, "HA_PYTHON", tmp_path / "no-venv" / "python")
    with pytest.raises(pytest.fail.Exception, match="run scripts/setup.sh --test"):
        real_ha.start_real_ha(tmp_path)


@pytest.mark.parametrize("url, ok", [
    ("http://127.0.0.1:8123", True),
    ("http://192.168.1.20:8123", True),
    ("http://homeassistant.local:8123", True),
    ("https://ha.example.com", True),
    ("http://ha.example.com:8123", False),
    ("ws://127.0.0.1:8123", False),
])
def test_plain_http_only_at_home(url: str, ok: bool) -> None:
    data = {"dialog": {"engine": ["skills", "home_assistant"], "home_assistant": {"url": url}}}
    if ok:
        assert parse_gateway_settings(data, "g.yaml").dialog.home_assistant.url == url
        return
    with pytest.raises(ConfigError) as err:
        parse_gateway_settings(data, "g.yaml")
    assert str(err.value).startswith("g.yaml: dialog.home_assistant.url: ")
    assert err.value.exit_code == 78


def test_free_text_only_with_an_agent_of_the_users_own() -> None:
    from agent.gateway.dialog.home_assistant.agent import HomeAssistantAgent
    from agent.gateway.dialog.home_assistant.settings import HomeAssistantSettings

    def agent(agent_id: str | None) -> HomeAssistantAgent:
        return HomeAssistantAgent(HomeAssistantSettings(agent_id=agent_id), "t" * 20,
                                  lambda _w: (), grammar=False)

    assert not agent(None).free_text
    assert not agent("conversation.home_assistant").free_text
    assert agent("conversation.openai_conversation").free_text


def test_a_big_home_is_one_pattern_per_intent_and_forty_names() -> None:
    from agent.gateway.dialog.home_assistant.phrases import MAX_NAMES

    numbers = "one two three four five six seven eight nine ten eleven twelve".split()
    lamps = [Entity(f"light.l{i}", (f"lamp {w}",)) for i, w in enumerate(numbers)]
    pairs = [(a, b) for a in ("red", "blue", "green", "white", "pink", "grey", "black")
             for b in ("desk", "floor", "wall", "table", "shelf", "bed", "door", "hall")]
    others = [Entity(f"light.x{i}", (f"{a} {b} light",)) for i, (a, b) in enumerate(pairs)]
    home = Home((), tuple(lamps + others))
    assert len(home.entities) == 68  # two chunks of names per intent
    patterns = build_patterns(home, known_word)
    assert sum(p.startswith("turn (on | off) [the] (") for p in patterns) == 2
    assert all(p.count(" | ") < MAX_NAMES + 12 for p in patterns)
    s = Grammar({}, {"ha": patterns}).sentences("ha")
    assert {"turn on the lamp twelve", "set the pink shelf light to ten percent",
            "turn the grey door light off"} <= s
