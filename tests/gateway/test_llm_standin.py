"""The OpenAI-compatible stand-in speaks what real clients speak: the ``openai`` SDK itself
talks to it (streamed and whole, tool calls, errors, a stream closed early).

The SDK is used here the plain way, not through the gateway's agent, so that a
fault of the stand-in cannot hide behind one of the agent's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import openai
import pytest
from standins.openai_standin import KEY, MODEL, OpenAIStandIn, Script


@pytest.fixture(scope="module")
def standin() -> Iterator[OpenAIStandIn]:
    with OpenAIStandIn() as s:
        yield s


@pytest.fixture
def sdk(standin: OpenAIStandIn) -> Iterator[openai.OpenAI]:
    standin.reset()
    client = openai.OpenAI(base_url=standin.base_url, api_key=KEY, max_retries=0, timeout=20)
    yield client
    client.close()


def test_the_sdk_streams_text_and_the_standin_records_the_request(
        sdk: openai.OpenAI, standin: OpenAIStandIn) -> None:
    standin.next(Script(pieces=["Blue light ", "scatters most. ", "That is why."]))
    stream = sdk.chat.completions.create(
        model=MODEL, stream=True, max_tokens=50, temperature=0.5,
        messages=[{"role": "system", "content": "Be brief."},
                  {"role": "user", "content": "why is the sky blue"}])
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Blue light scatters most. That is why."
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.model == MODEL and c.object == "chat.completion.chunk" for c in chunks)
    req = standin.requests[-1]
    assert req.model == MODEL and req.body["max_tokens"] == 50
    assert req.user_texts == ["why is the sky blue"] and req.finished
    assert not req.client_closed


def test_the_sdk_reads_an_unstreamed_answer_and_the_model_list(
        sdk: openai.OpenAI, standin: OpenAIStandIn) -> None:
    standin.next(Script(pieces=["Hello ", "there."]))
    done = sdk.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert done.choices[0].message.content == "Hello there."
    assert done.choices[0].finish_reason == "stop"
    assert [m.id for m in sdk.models.list()] == [MODEL]


def test_the_sdk_gathers_streamed_tool_calls(sdk: openai.OpenAI, standin: OpenAIStandIn) -> None:
    tools = [{"type": "function", "function": {
        "name": "set_timer", "parameters": {"type": "object", "properties": {
            "seconds": {"type": "integer"}}, "required": ["seconds"]}}}]
    standin.next(Script(pieces=[], tool_calls=[("set_timer", '{"seconds": 300}'),
                                               ("get_time", "{}")]))
    # The SDK's own stream helper accumulates the pieces of each call.
    with sdk.chat.completions.stream(model=MODEL, tools=tools,  # type: ignore[arg-type]
                                     messages=[{"role": "user", "content": "timer"}]) as s:
        final = s.get_final_completion()
    calls = final.choices[0].message.tool_calls or []
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("set_timer", {"seconds": 300}), ("get_time", {})]
    assert final.choices[0].finish_reason == "tool_calls"
    assert standin.requests[-1].tools == ["set_timer"]
    standin.next(Script(pieces=[], tool_calls=[("set_timer", '{"seconds": 5}')]))
    whole = sdk.chat.completions.create(model=MODEL, tools=tools,  # type: ignore[arg-type]
                                        messages=[{"role": "user", "content": "timer"}])
    call = (whole.choices[0].message.tool_calls or [])[0]
    assert call.function.name == "set_timer" and call.function.arguments == '{"seconds": 5}'


@pytest.mark.parametrize(("fault", "error"), [
    ("401", openai.AuthenticationError), ("404", openai.NotFoundError),
    ("429", openai.RateLimitError), ("500", openai.InternalServerError)])
def test_the_sdk_raises_its_own_errors_for_the_standins_faults(
        sdk: openai.OpenAI, standin: OpenAIStandIn, fault: str, error: type) -> None:
    standin.next(Script(fault=fault))
    with pytest.raises(error):
        sdk.chat.completions.create(model=MODEL, stream=True,
                                    messages=[{"role": "user", "content": "hi"}])


def test_a_wrong_key_and_an_unknown_model_are_refused(standin: OpenAIStandIn) -> None:
    standin.reset()
    with openai.OpenAI(base_url=standin.base_url, api_key="sk-wrong", max_retries=0) as bad:
        with pytest.raises(openai.AuthenticationError, match="Incorrect API key"):
            bad.models.list()
    with openai.OpenAI(base_url=standin.base_url, api_key=KEY, max_retries=0) as good:
        with pytest.raises(openai.NotFoundError, match="does not exist"):
            good.chat.completions.create(model="gpt-nonesuch",
                                         messages=[{"role": "user", "content": "hi"}])


def test_the_standin_sees_the_sdk_close_a_stream_early(
        sdk: openai.OpenAI, standin: OpenAIStandIn) -> None:
    import threading

    never = threading.Event()
    standin.next(Script(pieces=["One. ", "Two. ", "Three."], hold=never))
    stream = sdk.chat.completions.create(model=MODEL, stream=True,
                                         messages=[{"role": "user", "content": "count"}])
    first = [next(stream) for _ in range(3)]  # role, "One. ", "Two. "
    assert first[1].choices[0].delta.content == "One. "
    stream.close()
    standin.wait(lambda s: s.requests[-1].client_closed)
    assert not standin.requests[-1].finished
