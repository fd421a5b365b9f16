"""Rows ov1-ov7: open-vocabulary speech with pocketsphinx (``StreamContext.open_vocabulary``).

The engine is the gateway's own (:class:`~agent.gateway.stt.pocketsphinx.PocketsphinxEngine`
with the built-in skills' grammars), run in this process on one thread; a worker of
the gateway's pool runs the very same object. Speech is made here with espeak-ng
and sox (``tests/speech.py``), in two voices, with digital silence around it (the
engine adds its noise floor): nothing is downloaded.

* questions: :data:`QUESTIONS`, none of them a sentence of the grammar;
* phrases: the skills' sentences that need no rule (``Skills.phrases``) and a few
  that do (timers, "say ...").

Each utterance is recognised three ways: with the grammar as today
(``open_vocabulary`` off), with open vocabulary on, and with the general language
model alone (no grammar: the reference for what the model can hear at all). CPU is
this thread's CPU time around ``transcribe`` (``time.thread_time``), so other load
on a shared machine does not count; the real-time factor is CPU seconds per second
of audio given (the padding included, as a device sends it).
"""

from __future__ import annotations

import datetime
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(1, str(REPO / "scripts"))  # when run on its own

from benchmarks.common import Row  # noqa: E402
from benchmarks.report import text_table  # noqa: E402

QUESTIONS = (
    "why is the sky blue",
    "what should i cook with eggs and spinach",
    "how far away is the moon",
    "who wrote romeo and juliet",
    "what is the capital of france",
    "how do i make bread",
    "tell me a joke",
    "what is the weather like tomorrow",
    "how tall is mount everest",
    "what is the meaning of life",
    "can you recommend a good book",
    "how many legs does a spider have",
    "who is the president of the united states",
    "what is the boiling point of water",
    "how do airplanes fly",
    "why do cats purr",
    "what is the population of china",
    "explain how a rainbow forms",
    "how long should i boil an egg",
    "what is the best way to learn a language",
    "who painted the mona lisa",
    "how many days are in a leap year",
    "what does a healthy breakfast look like",
    "why do leaves change color in the fall",
    "how does the internet work",
    "what is the speed of light",
    "when did the second world war end",
    "how can i sleep better at night",
    "what is the difference between a frog and a toad",
    "where do penguins live",
    "how do you say thank you in spanish",
    "what is the largest ocean on earth",
    "why is the ocean salty",
    "how many people live in london",
    "what time does the sun set today",
    "what are the symptoms of a cold",
    "how do i change a flat tire",
    "who invented the telephone",
    "what is a black hole",
    "how much water should i drink every day",
)
"""Questions outside the grammar (none is one of its sentences)."""

RULED_PHRASES = (
    "set a timer for five minutes",
    "start a timer for ten seconds",
    "set a timer for half an hour",
    "cancel the five minute timer",
    "how much time is left on the timer",
    "say hello world",
    "repeat after me good night",
)
"""Sentences of the skills that use a rule (``<duration>`` ...): not in ``Skills.phrases``."""

VOICES = (("en-us", 150), ("en-gb", 140))
"""espeak-ng voice and words per minute (the tests' two)."""

MODES = ("off", "on", "lm")


@dataclass
class Tally:
    """Results of one mode over a set of utterances."""

    exact: int = 0
    grammar: int = 0
    errors: int = 0
    words: int = 0
    cpu_s: float = 0.0
    audio_s: float = 0.0
    worst_cpu_s: float = 0.0
    misses: list[str] = field(default_factory=list)

    def add(
        self, reference: str, text: str, source: str, cpu_s: float, audio_s: float, voice: str
    ) -> None:
        """Count one utterance."""
        self.exact += text == reference
        self.grammar += source == "grammar"
        self.errors += word_errors(reference.split(), text.split())
        self.words += len(reference.split())
        self.cpu_s += cpu_s
        self.audio_s += audio_s
        self.worst_cpu_s = max(self.worst_cpu_s, cpu_s)
        if text != reference:
            self.misses.append(f"{voice}: {reference!r} -> {text!r}")

    @property
    def wer(self) -> float:
        """Word error rate, in percent."""
        return 100.0 * self.errors / max(1, self.words)

    @property
    def rtf(self) -> float:
        """CPU seconds per audio second."""
        return self.cpu_s / max(1e-9, self.audio_s)


def word_errors(reference: list[str], hypothesis: list[str]) -> int:
    """Substitutions + deletions + insertions (Levenshtein distance over words)."""
    row = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        prev, row[0] = row[0], i
        for j, hyp in enumerate(hypothesis, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ref != hyp))
    return row[-1]


def _audio(text: str, voice: str, wpm: int) -> bytes:
    from speech import say

    pad = np.zeros(8000, dtype=np.int16)  # 0.5 s before, 0.8 s after (tests' spoken())
    tail = np.zeros(12800, dtype=np.int16)
    return np.concatenate([pad, say(text, voice, wpm), tail]).astype("<i2").tobytes()


def make_engine() -> tuple[Any, float]:
    """The gateway's pocketsphinx engine, and the MB its open-vocabulary search adds."""
    from agent.gateway.dialog.builtin import default_skills
    from agent.gateway.stt.pocketsphinx import PocketsphinxEngine

    skills = default_skills()
    engine = PocketsphinxEngine(skills.searches(), skills.pronunciations)
    before = _rss_mb()
    engine._free()  # noqa: SLF001 - what the first open-vocabulary utterance does
    return engine, _rss_mb() - before


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def measure(
    engine: Any,
    sentences: tuple[str, ...],
    voices: tuple[tuple[str, int], ...],
    modes: tuple[str, ...] = MODES,
) -> dict[str, Tally]:
    """Every sentence in every voice, recognised in each of ``modes`` (:data:`MODES`)."""
    from agent.gateway.dialog.skills import MAIN_SEARCH

    tallies = {mode: Tally() for mode in modes}
    tallies.update({f"{m}:{v}": Tally() for m in modes for v, _ in voices})
    for voice, wpm in voices:
        for sentence in sentences:
            pcm = _audio(sentence, voice, wpm)
            for mode in modes:
                search = None if mode == "lm" else MAIN_SEARCH
                started = time.thread_time()
                heard = engine.transcribe(pcm, search, open_vocabulary=mode != "off")
                cpu = time.thread_time() - started
                for key in (mode, f"{mode}:{voice}"):
                    tallies[key].add(sentence, heard.text, heard.source, cpu, heard.audio_s, voice)
    return tallies


def openvocab_rows(quick: bool, write: bool = False) -> list[Row]:
    """Rows ov1-ov7 (see the module docs); ``write``: also this section of docs/benchmarks.md."""
    from agent.gateway.dialog.builtin import default_skills

    voices = VOICES[:1] if quick else VOICES
    questions = QUESTIONS[:6] if quick else QUESTIONS
    phrases = tuple(default_skills().phrases()) + RULED_PHRASES
    phrases = phrases[:6] if quick else phrases
    engine, memory_mb = make_engine()
    q = measure(engine, questions, voices)
    p = measure(engine, phrases, voices, ("off", "on"))
    nq, np_ = len(questions) * len(voices), len(phrases) * len(voices)
    said = f"{len(voices)} espeak-ng voices"
    rows = [
        Row("ov1", f"word error rate, {len(questions)} questions outside the grammar x {said}",
            f"{q['on'].wer:.1f} % with open vocabulary ({q['on'].errors}/{q['on'].words} words; "
            + ", ".join(f"{v} {q['on:' + v].wer:.1f} %" for v, _ in voices)
            + f"); {q['off'].wer:.1f} % grammar only",
            f"{q['lm'].wer:.1f} % general model alone",
            "<= general model alone + 2 points", q["on"].wer <= q["lm"].wer + 2.0),
        Row("ov2", "questions forced onto a skill's phrase (source grammar)",
            f"{q['on'].grammar}/{nq} with open vocabulary; {q['off'].grammar}/{nq} grammar only",
            "", "<= 5 %", q["on"].grammar <= 0.05 * nq),
        Row("ov3", f"skills' phrases heard exactly, {len(phrases)} sentences x {said}",
            f"{p['on'].exact}/{np_} with open vocabulary",
            f"{p['off'].exact}/{np_} grammar only", ">= grammar only",
            p["on"].exact >= p["off"].exact),
        Row("ov4", "real-time factor, grammar only (CPU s per audio s)",
            f"{_rtf(p['off'])} phrases; {_rtf(q['off'])} questions", "", "", None),
        Row("ov5", "real-time factor with open vocabulary",
            f"{_rtf(p['on'])} phrases; {_rtf(q['on'])} questions",
            f"general model alone: {_rtf(q['lm'])} questions",
            "<= 0.25 (a board 4x slower keeps up)",
            max(p["on"].rtf, q["on"].rtf) <= 0.25),
        Row("ov6", "CPU for the slowest utterance, open vocabulary",
            f"{max(p['on'].worst_cpu_s, q['on'].worst_cpu_s):.2f} s",
            f"grammar only {max(p['off'].worst_cpu_s, q['off'].worst_cpu_s):.2f} s", "", None),
        Row("ov7", "memory the open-vocabulary search adds to a worker (VmRSS)",
            f"{memory_mb:.0f} MB", "made on a worker's first open-vocabulary utterance",
            "", None),
    ]
    if write:
        print(text_table(rows), flush=True)  # kept in the log should the writing fail
        write_section(rows, q["on"].misses, p["on"].misses)
    return rows


def _rtf(t: Tally) -> str:
    return f"{t.rtf:.3f} ({t.cpu_s:.1f} s / {t.audio_s:.0f} s)"


MARK = "<!-- open vocabulary: scripts/benchmarks/openvocab.py -->"
END = "<!-- /open vocabulary -->"
NOTES = """
### How open vocabulary works

`stt.engine: pocketsphinx` recognises with the skills' JSGF grammar first, as it always
has, and trusts a sentence only when it is a full one, spans most of the speech and beats
a phone loop over the same audio (a confidence from 0 to 1, at least 0.5); otherwise it
falls back to the general English language model that ships with pocketsphinx. That
fallback is not enough for an open question: a grammar can only ever answer with one of
its sentences, and the phone loop (which pays a phone language model's price for every
phone) is a weak competitor, so "why is the sky blue" comes out as "what is the time"
with a confidence of 0.97, and so do "tell me a joke" ("tell me the time") and "what is
the population of china"; the model is never asked.

When `StreamContext.open_vocabulary` is set (an agent of the turn's chain, such as
`llm`, takes free text), the general model is asked every time, and it takes the phone
loop's place as the grammar's competitor. The grammar's full sentence (trusted by the
phone loop or not) and the model's words are force-aligned (`Decoder.set_align_text`) to
the same audio, and the model's words are taken only when their acoustic score beats the
grammar sentence's by more than `OPEN_VOCABULARY_MARGIN` (1,000 in the decoder's score
units, summed over the utterance: a log-likelihood ratio). Alignment puts both in the same
kind of search with no language model, so the two scores compare the sound alone; the
decoders' own path scores do not (the model's includes its word probabilities, each
search normalises by its own active senones). The margin is the bias toward the skills:
measured on both voices, a skill phrase the grammar heard right was beaten by the model's
words by at most 765 (they are often a worse guess: "thank you really much"), while an
open question that the grammar forced onto a phrase was beaten by 1,297 or more, except
where the model misheard it too ("tell me a joke" -> "do we all jump": 287, the grammar's
"tell me the time" stands). The average per frame of speech separated the two far less
well (8.9 against 10.6), so the total is used. When the model hears the grammar's
sentence itself (or nothing), the grammar's answer stands. A sentence the phone loop
doubted competes too: with the grammar's sentence given up at once, the skills lost
"hello" (en-gb) to the model's "the load" (beaten by -30: the grammar's fits better);
every open question whose grammar sentence the phone loop doubted was beaten by 1,454
or more.

The general model listens to the speech with 0.3 s around it (the grammar's 1 s margins
cost CPU and let it invent words in the silence: 35 % -> 26 % word errors) in a second
search over the same model without the flat-lexicon second pass (`fwdflat`), ~25 % less
CPU for the same error rate here. With `open_vocabulary` off nothing changes: same
searches, same audio, same answers.

### How it is measured

`scripts/benchmarks/openvocab.py`: the gateway's engine with the built-in skills, in the
benchmark's process, one thread. Speech is espeak-ng (voices en-us at 150 wpm and en-gb
at 140 wpm) resampled with sox to 16 kHz, with 0.5 s of digital silence before and 0.8 s
after; nothing is downloaded. Each utterance is recognised with the grammar as before
(`open_vocabulary` off), with open vocabulary, and with the general model alone (no
grammar, the same single-pass search: what the model can hear at all, so ov1 shows what
the grammar's challenge costs). Word error rate: word-level Levenshtein
distance over reference words, lower case, no punctuation. CPU: `time.thread_time()`
around `transcribe`, over the audio's length. The questions are not sentences of the
grammar; the phrases are the skills' rule-free sentences plus seven that use rules
(timers, "say ..."). sox dithers when it resamples, with a new seed in each process, so
the audio differs by a bit of noise from run to run and so do the figures: in three
runs the word error rate with open vocabulary was 39.0-40.4 % and the grammar alone's
49.0-50.4 %; the skills' phrases and the questions forced onto them did not move by
more than one.

A cloud or Wyoming engine hears free speech far better: pocketsphinx's English model is
small and old, and espeak-ng's en-gb voice is far from the American speech it was
trained on (compare the two voices' misses below).
"""


def write_section(rows: list[Row], questions: list[str], phrases: list[str]) -> Path:
    """Replace (or append) this benchmark's section at the end of docs/benchmarks.md.

    It sits after the echo section, which ``scripts/bench.py`` keeps when it
    rewrites the file, so a full run keeps it too.
    """
    from benchmarks.report import machine, markdown_table

    out = REPO / "docs" / "benchmarks.md"
    old = out.read_text() if out.exists() else ""
    if MARK in old:
        head, _, rest = old.partition(MARK)
        old = head.rstrip("\n") + "\n" + rest.partition(END)[2].lstrip("\n")
    listed = "\n".join(f"- {m}" for m in questions) or "- none"
    wrong = "\n".join(f"- {m}" for m in phrases) or "- none"
    section = (
        f"{MARK}\n## Open-vocabulary speech (pocketsphinx)\n\n"
        f"Measured on {datetime.date.today().isoformat()} on {machine()} (a machine shared "
        "with other work: CPU is this thread's CPU time), with:\n\n"
        "```\n.venv/bin/python scripts/bench.py --only openvocab\n```\n\n"
        f"{markdown_table(rows)}\n\n{NOTES.strip()}\n\n"
        f"### What open vocabulary heard wrong in the questions\n\n{listed}\n\n"
        f"### Skills' phrases not heard exactly with open vocabulary\n\n{wrong}\n{END}\n"
    )
    out.write_text(old.rstrip("\n") + "\n\n" + section)
    return out


if __name__ == "__main__":  # .venv/bin/python scripts/benchmarks/openvocab.py [--quick]
    sys.path.insert(0, str(REPO))
    quick = "--quick" in sys.argv
    print(text_table(openvocab_rows(quick, write=not quick)))
