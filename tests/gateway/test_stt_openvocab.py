"""Open vocabulary with pocketsphinx: free speech heard, the skills' phrases kept.

``StreamContext.open_vocabulary`` (an agent of the chain takes free text) makes
the engine hear free speech with its general language model while a skill's
exact phrase is still taken from the grammar. Speech is espeak-ng's (tests/speech.py);
the engine is the real one, in this process and in a real worker of the pool
behind a real :class:`BatchStream`, and a whole gateway on 127.0.0.1 whose chain
has a free-text agent (a scripted one: the language model is not on main).
Assertions are on key words, not on exact
word error rates (the benchmark measures those: scripts/benchmarks/openvocab.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from gateway_support import open_client, spoken, utterance

from agent.gateway.dialog.agent import Peer, ReplyPart, Say, Turn
from agent.gateway.dialog.backend import Utterance
from agent.gateway.dialog.builtin import default_skills
from agent.gateway.dialog.registry import FACTORIES
from agent.gateway.dialog.skills import MAIN_SEARCH, Dialog
from agent.gateway.dialog_settings import DialogSettings
from agent.gateway.in_thread import serve_in_thread
from agent.gateway.settings import GatewaySettings, SttSettings
from agent.gateway.stt.batch import BatchStream
from agent.gateway.stt.pool import SttPool
from agent.gateway.stt.stream import Final, StreamContext


@pytest.fixture(scope="module")
def engine():  # noqa: ANN201 - a PocketsphinxEngine
    from agent.gateway.stt.factory import create_engine

    skills = default_skills()
    return create_engine("pocketsphinx", skills.searches(), skills.pronunciations)


QUESTIONS = [  # each one the grammar alone forces onto a skill's phrase (it trusts it)
    ("why is the sky blue", "en-gb", {"why", "is", "the", "sky"}),
    ("what is the population of china", "en-us", {"population", "china"}),
    ("what is the largest ocean on earth", "en-us", {"largest", "ocean", "earth"}),
    ("when did the second world war end", "en-us", {"second", "world", "war"}),
]


@pytest.mark.parametrize(("question", "voice", "key_words"), QUESTIONS)
def test_a_free_question_is_heard_with_open_vocabulary(
    engine, question: str, voice: str, key_words: set[str]  # noqa: ANN001
) -> None:
    heard = engine.transcribe(spoken(question, voice), MAIN_SEARCH, open_vocabulary=True)
    assert heard.source == "lm", heard
    assert key_words <= set(heard.text.split()), heard.text
    assert default_skills().classify(heard.text, Dialog())[0] is None  # no skill takes it


@pytest.mark.parametrize(("question", "voice", "key_words"), QUESTIONS)
def test_without_open_vocabulary_the_grammar_still_forces_its_phrase(
    engine, question: str, voice: str, key_words: set[str]  # noqa: ANN001
) -> None:
    # The behaviour as before, and why open vocabulary is needed: a grammar can only
    # answer with one of its sentences, and this one it trusts.
    pcm = spoken(question, voice)
    heard = engine.transcribe(pcm, MAIN_SEARCH)
    assert heard.source == "grammar" and not key_words <= set(heard.text.split()), heard
    assert default_skills().classify(heard.text, Dialog())[0] is not None  # a skill takes it
    again = engine.transcribe(pcm, MAIN_SEARCH, open_vocabulary=False)
    assert (again.text, again.source, again.confidence) == (
        heard.text, heard.source, heard.confidence
    )


@pytest.mark.parametrize(
    "phrase",
    [
        "what time is it",
        "set a timer for five minutes",
        "do you have a pool",
        "stop the music",
        "cancel the five minute timer",
        "what day is it",
    ],
)
def test_a_skill_phrase_is_still_heard_exactly_through_the_grammar(
    engine, phrase: str  # noqa: ANN001
) -> None:
    pcm = spoken(phrase)
    closed = engine.transcribe(pcm, MAIN_SEARCH)
    heard = engine.transcribe(pcm, MAIN_SEARCH, open_vocabulary=True)
    assert (heard.text, heard.source) == (phrase, "grammar"), heard
    assert (heard.text, heard.confidence) == (closed.text, closed.confidence)


def test_open_vocabulary_without_a_grammar_is_the_general_model(engine) -> None:  # noqa: ANN001
    pcm = spoken("what is the population of china")
    heard = engine.transcribe(pcm, None, open_vocabulary=True)
    assert heard.source == "lm" and {"population", "china"} <= set(heard.text.split()), heard


class _Listener:
    def __init__(self) -> None:
        self.done = asyncio.Event()
        self.result: Final | None = None
        self.failure: str | None = None

    def partial(self, text: str) -> None:
        pass

    def final(self, result: Final) -> None:
        self.result = result
        self.done.set()

    def failed(self, message: str) -> None:
        self.failure = message
        self.done.set()


def test_the_stream_context_reaches_the_engine_in_a_pool_worker() -> None:
    skills = default_skills()
    pool = SttPool(skills.searches(), skills.pronunciations, workers=1)
    try:
        pool.warm_up()

        async def hear(open_vocabulary: bool) -> Final:
            listener = _Listener()
            context = StreamContext(
                search=MAIN_SEARCH, open_vocabulary=open_vocabulary, endpointing=False
            )
            stream = BatchStream(listener, context, pool, "pocketsphinx")
            pcm = spoken("what is the population of china")
            for i in range(0, len(pcm), 3200):
                stream.feed(pcm[i : i + 3200])
            stream.finish()
            await asyncio.wait_for(listener.done.wait(), 120)
            await stream.aclose()
            assert listener.failure is None and listener.result is not None
            return listener.result

        free = asyncio.run(hear(True)).transcript
        closed = asyncio.run(hear(False)).transcript
    finally:
        pool.close()
    assert free.source == "lm" and {"population", "china"} <= set(free.text.split()), free
    assert (closed.source, closed.text) == ("grammar", "what is the time"), closed


class Listener:
    """Stands in for the language model (not on main; its own tests are against its
    servers): a free-text agent that notes what it was asked and answers briefly."""

    name = "llm"
    free_text = True
    phrases: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.asked: list[str] = []

    def connect(self, peer: Peer) -> Listener:
        return self

    def hear(self, tid: str) -> Utterance | None:
        return None

    async def respond(self, turn: Turn) -> AsyncIterator[ReplyPart]:
        self.asked.append(turn.text)
        yield Say("A great many people.")

    async def close(self) -> None:
        pass

    async def aclose(self) -> None:
        pass


LISTENER = Listener()


def create(settings: object, env: object) -> Listener:
    """The agent factory the registry calls (FACTORIES["llm"] points here in the test)."""
    return LISTENER


def test_through_the_gateway_the_chain_with_a_free_text_agent_hears_free_speech(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(FACTORIES, "llm", f"{__name__}:create")
    settings = GatewaySettings(
        port=0, stt=SttSettings(workers=1), dialog=DialogSettings(engine=("skills", "llm"))
    )
    LISTENER.asked.clear()
    with serve_in_thread(settings) as gateway, open_client(gateway.url) as ws:
        free = utterance(ws, spoken("what is the population of china"))
        skill = utterance(ws, spoken("what time is it"))
    heard = free.transcript.transcript
    assert {"population", "china"} <= set(heard.split()), heard
    assert LISTENER.asked == [heard]  # the skills passed; the free-text agent was asked
    assert free.text.text == "A great many people."
    assert skill.transcript.transcript == "what time is it" and skill.skill == "time"
