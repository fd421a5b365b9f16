"""The chain [skills, home_assistant, llm] against a real Home Assistant and the LLM stand-in.

"It's dark in here" is no home command HA knows: it passes HA on to the
language model, whose ``home_assistant`` tool then sends HA a plain command,
and the light really turns on in the real HA (``tests/real_ha.py``). The
model is the OpenAI-compatible stand-in (``tests/standins/openai_standin.py``):
no model can run here, so its tool calls are scripted; HA is real.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import pytest
from gateway_support import open_client, text_turn
from real_ha import RealHomeAssistant, gateway_settings, wait_until
from standins.openai_standin import KEY, MODEL, OpenAIStandIn, Script

from agent.gateway.dialog.llm.settings import LlmSettings
from agent.gateway.in_thread import RunningGateway, serve_in_thread


@pytest.fixture(scope="module")
def standin() -> Iterator[OpenAIStandIn]:
    with OpenAIStandIn() as server:
        yield server


@pytest.fixture(scope="module")
def gateway(real_ha: RealHomeAssistant, standin: OpenAIStandIn,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    key = tmp_path_factory.mktemp("llm") / "key"
    key.write_text(KEY + "\n")
    settings = gateway_settings(real_ha, chain=("skills", "home_assistant", "llm"))
    llm = LlmSettings(base_url=standin.base_url, api_key_file=str(key), model=MODEL,
                      timeout_s=20)
    settings = replace(settings, dialog=replace(settings.dialog, llm=llm))
    with serve_in_thread(settings) as gw:
        wait_until(lambda: gw.gateway.grammar.counts.get("home_assistant", 0) > 0,
                   what="the grammar from Home Assistant")
        yield gw


def tool_results(standin: OpenAIStandIn) -> list[str]:
    """What the model was told its tool calls returned, in order."""
    return [str(m.get("content")) for r in standin.requests for m in r.messages
            if m.get("role") == "tool"]


def test_a_vague_wish_reaches_ha_through_the_model_and_the_light_turns_on(
    real_ha: RealHomeAssistant, gateway: RunningGateway, standin: OpenAIStandIn
) -> None:
    real_ha.set_power("kitchen_lights", False)
    standin.reset()
    standin.next(
        Script(pieces=[], tool_calls=[("home_assistant",
                                       json.dumps({"command": "turn on the kitchen lights"}))]),
        Script(pieces=["There, the kitchen lights are on."]),
    )
    with open_client(gateway.url) as ws:
        turn = text_turn(ws, "it's dark in here")
    assert turn.text is not None and turn.text.text == "There, the kitchen lights are on."
    real_ha.wait_state("light.kitchen_lights", "on")
    # The model asked with the tool, offered because home_assistant is configured,
    # and got HA's own sentence back.
    first = standin.requests[0]
    assert "home_assistant" in first.tools
    assert first.user_texts[-1] == "it's dark in here"
    assert tool_results(standin) == ["Turned on the light"]


def test_an_unknown_device_asked_by_the_model_gets_has_own_sentence(
    gateway: RunningGateway, standin: OpenAIStandIn
) -> None:
    standin.reset()
    standin.next(
        Script(pieces=[], tool_calls=[("home_assistant",
                                       json.dumps({"command": "turn on the garage lights"}))]),
        Script(pieces=["There is no garage light in your home."]),
    )
    with open_client(gateway.url) as ws:
        turn = text_turn(ws, "could you light up the garage for me")
    assert turn.text is not None and turn.text.text == "There is no garage light in your home."
    (result,) = tool_results(standin)
    # Not passed on as "did not understand": the tool session answers with HA's words.
    assert "not aware of any" in result and "garage" in result
