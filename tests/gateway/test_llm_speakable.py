"""Tokens to spoken sentences: cut as they arrive, markdown, lists, code and URLs stripped."""

from __future__ import annotations

import pytest

from agent.gateway.dialog.llm.speakable import SentenceCutter, speakable


def cut(text: str, step: int) -> list[tuple[int, str]]:
    """(characters fed when it came out, sentence) for ``text`` fed ``step`` at a time."""
    cutter = SentenceCutter()
    out: list[tuple[int, str]] = []
    for i in range(0, len(text), step):
        out += [(i + step, s) for s in cutter.feed(text[i:i + step])]
    out += [(-1, s) for s in cutter.flush()]
    assert cutter.said == [s for _, s in out]
    return out


@pytest.mark.parametrize("step", [1, 2, 5, 1000])
def test_each_sentence_comes_out_as_soon_as_it_is_complete(step: int) -> None:
    text = "Rayleigh scattering, mostly. Dr. Smith agrees! Is that clear? It costs 3.50 euros"
    out = cut(text, step)
    assert [s for _, s in out] == ["Rayleigh scattering, mostly.", "Dr. Smith agrees!",
                                   "Is that clear?", "It costs 3.50 euros"]
    if step == 1:  # the first one as soon as the space after its full stop arrived
        assert out[0][0] == len("Rayleigh scattering, mostly. ")
        assert out[-1][0] == -1  # no full stop: only at the end


@pytest.mark.parametrize("step", [1, 3, 1000])
def test_lists_code_headings_tables_and_links_are_not_read_aloud(step: int) -> None:
    text = ("## Shopping\nYou need:\n1. **Two** eggs\n2) _fresh_ spinach\n- salt 🧂\n"
            "* `pepper`\n```python\nprint('not this')\n```\n| a | b |\n|---|---|\n"
            "> Quoted wisdom.\nSee [the recipe](https://example.com/r?x=1), or www.x.io. "
            "Enjoy! 😀")
    assert [s for _, s in cut(text, step)] == [
        "Shopping", "You need:", "Two eggs", "fresh spinach", "salt", "pepper", "a, b",
        "Quoted wisdom.", "See the recipe, or.", "Enjoy!"]


def test_a_numbered_item_waits_until_it_can_tell_a_marker_from_a_sentence() -> None:
    cutter = SentenceCutter()
    assert cutter.feed("1") == [] and cutter.feed(".") == []
    assert cutter.feed(" Boil the water. Then") == ["Boil the water."]
    assert cutter.flush() == ["Then"]


def test_an_unclosed_code_block_is_dropped_to_the_end() -> None:
    cutter = SentenceCutter()
    assert cutter.feed("Try this:\n```\nrm -rf /tmp/x\n") == ["Try this:"]
    assert cutter.flush() == []


def test_speakable_keeps_words_and_drops_marks() -> None:
    assert speakable("***Very*** __important__ ~~not~~ `code` #tag") == \
        "Very important not code tag"
    assert speakable("snake_case_name stays") == "snake_case_name stays"
    assert speakable("🎉✨") == "" and speakable(" - ") == ""


def test_a_line_after_a_code_block_or_table_rule_is_still_a_line() -> None:
    cutter = SentenceCutter()
    assert cutter.feed("```\nx\n```\n") == []
    assert cutter.feed("- item one\n|---|\n") == ["item one"]
    assert cutter.feed("> quoted\n") == ["quoted"]
