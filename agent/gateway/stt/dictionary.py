"""The words pocketsphinx can hear: its pronouncing dictionary, read in the gateway process.

The recogniser runs in worker processes, but phrases built at run time (Home
Assistant's device and area names) are checked here first: a grammar with a
word the dictionary lacks fails to compile, and a name that cannot be spelt
in phones cannot be heard anyway. Reading the file takes about 0.1 s, once.
"""

from __future__ import annotations

import functools
from pathlib import Path

from agent.gateway.grammar import WAKE_PRONUNCIATIONS


@functools.cache
def dictionary_words() -> frozenset[str]:
    """Every word of pocketsphinx's en-US dictionary (alternates folded)."""
    from pocketsphinx import get_model_path  # only the path; no decoder is built

    path = Path(get_model_path("en-us/cmudict-en-us.dict"))
    with path.open(encoding="utf-8", errors="replace") as f:
        words = {line.split(" ", 1)[0].split("(", 1)[0] for line in f if line.strip()}
    return frozenset(words | set(WAKE_PRONUNCIATIONS))


def known_word(word: str, extra: frozenset[str] = frozenset()) -> bool:
    """Whether pocketsphinx can hear ``word`` (lower case)."""
    return word in extra or word in dictionary_words()
