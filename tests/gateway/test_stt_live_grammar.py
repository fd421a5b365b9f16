"""Grammars that change at run time: the gateway's LiveGrammar -> the worker pool's processes."""

from __future__ import annotations

import asyncio

from gateway_support import spoken

from agent.gateway.dialog.builtin import default_skills
from agent.gateway.live_grammar import LiveGrammar
from agent.gateway.stt.pool import SttPool


def test_a_new_pattern_is_heard_by_a_running_worker() -> None:
    skills = default_skills()
    pool = SttPool(skills.searches(), skills.pronunciations, workers=1)
    try:
        pool.warm_up()
        live = LiveGrammar(skills, pool)
        pcm = spoken("turn on the reading lamp")

        async def heard() -> tuple[str, str]:
            t = await pool.transcribe(pcm, search="main")
            return t.text, t.source

        before = asyncio.run(heard())
        live.update("home_assistant", ["turn (on | off) [the] reading lamp"])
        after = asyncio.run(heard())
        skill = asyncio.run(pool.transcribe(spoken("what time is it"), search="main"))
    finally:
        pool.close()
    assert before != ("turn on the reading lamp", "grammar")
    assert after == ("turn on the reading lamp", "grammar")
    assert (skill.text, skill.source) == ("what time is it", "grammar")  # the skills' still there
    assert live.counts == {"home_assistant": 4}


def test_twins_that_differ_by_the_or_a_plural_are_one_command() -> None:
    from agent.gateway.stt.pocketsphinx import same_command

    assert same_command("turn off the kitchen lights", "turn off the kitchen light")
    assert same_command("turn off the lights in the living room",
                        "turn off the lights in living room")
    assert not same_command("turn off the kitchen lights", "turn on the kitchen lights")
    assert not same_command("turn off the kitchen lights", None)
