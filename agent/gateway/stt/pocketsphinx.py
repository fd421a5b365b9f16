"""Speech to text: the engine interface and the built-in pocketsphinx engine.

An engine is built once per worker process (:func:`create_engine`) from the
named grammars of the skills, and then turns one utterance of s16le 16 kHz
mono PCM into a :class:`Transcript`. Engines are synchronous and CPU-bound;
:mod:`agent.gateway.stt.pool` runs them off the event loop.

The pocketsphinx engine (its English model ships in the wheel, offline):

1. recognises with the JSGF grammar of the expected phrases;
2. scores that against an unconstrained phone loop over the same audio: the
   difference per speech frame says how well the grammar explains the sound,
   mapped to a 0..1 confidence;
3. falls back to the general language model when the grammar gives no full
   sentence, a low confidence, or explains only a small part of the speech;
4. with ``open_vocabulary`` (an agent of the chain takes free text), the
   general model replaces step 2 as the grammar's competitor: a grammar
   always returns *one of its sentences*, and "why is the sky blue" comes out
   as "what is the time" with a confidence of 0.97, because the phone loop of
   step 2 is a weak competitor. Both word sequences (the grammar's full
   sentence, trusted by step 2 or not, and the model's words) are then
   force-aligned to the same audio, and the language model's words are taken
   only when they explain the sound better by more than
   :data:`OPEN_VOCABULARY_MARGIN`: the bias that keeps the skills' exact
   phrases (see :meth:`PocketsphinxEngine._grammar_wins`). The model listens
   to the speech with :data:`FREE_MARGIN_S` around it, in a single-pass search
   made on first use (:meth:`PocketsphinxEngine._free`). Without
   ``open_vocabulary`` nothing of this runs.

Two details matter for synthetic speech: digital silence (exact zeros)
derails the acoustic model, so a seeded noise floor at about -50 dBFS is
added where the input is quieter than that; and the model's noise
estimate carries over between utterances, so the feature front end is reset
before each one (the same audio then always gives the same result).
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from agent.gateway.grammar import WAKE_PRONUNCIATIONS, strip_wake
from agent.gateway.stt.endpoint import FRAME, frame_levels, speech_mask
from agent.gateway.stt.engine import Transcript

log = logging.getLogger(__name__)

RATE = 16000
NOISE_FLOOR_RMS = 100.0  # about -50 dBFS
MIN_CONFIDENCE = 0.5  # below this the grammar's answer is not trusted
MIN_COVERAGE = 0.5  # share of detected speech the grammar's words must span
_CONF_CENTRE = -30.0  # grammar-minus-phone-loop score per frame at confidence 0.5
_CONF_SCALE = 6.0
_CUT_MARGIN = 1600  # samples kept around the words when scoring them (0.1 s)
OPEN_VOCABULARY_MARGIN = 1000
"""How much better (acoustic log score of a forced alignment, in the decoder's
score units, over the whole utterance) the general model's words must explain an
utterance than the grammar's sentence to be taken over it with ``open_vocabulary``.
Measured on espeak-ng speech in two voices (scripts/benchmarks/openvocab.py):
every skill phrase the grammar heard right was beaten by at most 765, every open
question the grammar forced onto a phrase by 1,297 or more (1,454 or more where the
phone loop doubted the phrase), except where the model heard the question badly too
("tell me a joke" -> "do we all jump": 287)."""
FREE_MARGIN_S = 0.3
"""Audio kept around the detected speech when the general model listens with open
vocabulary: the 1 s margins the grammar is tuned with cost the model CPU and
give it room for extra words (measured on the en-us questions: word error rate
35 % -> 26 %, CPU -22 %)."""
LEAD_S = 1.0  # audio kept before the first detected speech
TRAIL_S = 1.0  # and after the last


def add_noise_floor(pcm: bytes, target_rms: float = NOISE_FLOOR_RMS) -> bytes:
    """``pcm`` with seeded white noise added where its quietest frames are below ``target_rms``."""
    samples = np.frombuffer(pcm, dtype="<i2")
    if len(samples) < FRAME:
        return pcm
    levels = frame_levels(samples)
    floor = 32768.0 * 10 ** (float(np.percentile(levels, 10)) / 20)
    if floor >= target_rms:
        return pcm
    noise = np.random.default_rng(0).standard_normal(len(samples))
    mixed = samples + math.sqrt(target_rms**2 - floor**2) * noise
    return np.clip(np.round(mixed), -32768, 32767).astype("<i2").tobytes()


class _Heard(NamedTuple):
    """A full grammar sentence (trusted or not: ``confidence``) and the audio it was heard in."""

    text: str
    confidence: float
    pcm: bytes
    mask: np.ndarray


def _logistic(score_per_frame: float) -> float:
    return 1.0 / (1.0 + math.exp(-(score_per_frame - _CONF_CENTRE) / _CONF_SCALE))


class PocketsphinxEngine:
    """Grammar first, general language model as the fallback (see the module docs)."""

    name = "pocketsphinx"

    def __init__(self, searches: Mapping[str, str], pronunciations: Mapping[str, str]) -> None:
        from pocketsphinx import Decoder  # heavy: only in the worker that recognises

        started = time.perf_counter()
        # The default configuration loads the en-US acoustic model, dictionary
        # and general language model from the wheel (search "_default").
        self._decoder: Any = Decoder(loglevel="FATAL")
        self._lm_search = self._decoder.current_search()
        self._free_search: str | None = None  # made on first use: ~45 MB
        for word, phones in {**WAKE_PRONUNCIATIONS, **pronunciations}.items():
            if self._decoder.lookup_word(word) is None:
                self._decoder.add_word(word, phones, True)
        self._fsgs: dict[str, Any] = {}
        for search, jsgf in searches.items():
            self.set_search(search, jsgf)
        self._decoder.add_allphone_file("_phones", None)
        self._logmath = self._decoder.get_logmath()
        self._last_score = 0
        log.debug(
            "pocketsphinx ready in %.2f s (pid %d)", time.perf_counter() - started, os.getpid()
        )

    def set_search(self, search: str, jsgf: str) -> None:
        """Add grammar ``search``, or replace it (grammars change at run time: Home
        Assistant's names). Raises ValueError for a word the dictionary lacks."""
        missing = self._missing_words(jsgf)
        if missing:
            raise ValueError(
                f"grammar {search!r}: words not in the dictionary: {', '.join(missing)}"
                " (add pronunciations)"
            )
        # Kept: FsgModel.accept() tells a full sentence from the partial
        # path pocketsphinx returns when no path reaches the final state.
        fsg = self._decoder.parse_jsgf(jsgf)
        self._decoder.add_fsg(search, fsg)  # a search of the same name is replaced
        self._fsgs[search] = fsg

    def _free(self) -> str:
        """The general model's search for open vocabulary, made on first use.

        The same model in one pass: without the flat-lexicon second pass
        (``fwdflat``) it costs ~25 % less CPU for the same word error rate on
        the benchmark's questions; the fallback keeps its own search, unchanged.
        It costs ~45 MB per worker, so a gateway whose chains take no free text
        never makes it."""
        if self._free_search is None:
            d = self._decoder
            d.config["fwdflat"] = False  # read when a search is made
            try:
                d.add_lm("_free", d.get_lm(self._lm_search))
            finally:
                d.config["fwdflat"] = True
            self._free_search = "_free"
        return self._free_search

    def _missing_words(self, jsgf: str) -> list[str]:
        import re

        body = jsgf.split(";", 2)[-1]
        words = set(re.findall(r"(?<![<\w])([a-z][a-z']*)(?![>\w])", body))
        return sorted(w for w in words if self._decoder.lookup_word(w) is None)

    def _decode(self, search: str, pcm: bytes) -> tuple[str | None, list[Any]]:
        """(hypothesis, word segments); the path score is left in ``_last_score``."""
        self._decoder.activate_search(search)
        return self._run(pcm)

    def _align(self, text: str, pcm: bytes) -> int | None:
        """The path score of ``text`` force-aligned to ``pcm`` (None: it cannot be)."""
        try:
            self._decoder.set_align_text(text)  # activates the alignment search
        except RuntimeError:
            return None
        hyp, _ = self._run(pcm)
        return None if hyp is None else self._last_score

    def _run(self, pcm: bytes) -> tuple[str | None, list[Any]]:
        """Decode ``pcm`` with the active search (see :meth:`_decode`)."""
        d = self._decoder
        d.reinit_feat()  # forget the previous utterance's noise estimate
        d.start_utt()
        d.process_raw(pcm, full_utt=True)
        d.end_utt()
        hyp = d.hyp()
        if hyp is None:
            self._last_score = 0
            return None, []
        # hyp.score is exp()'d by the wrapper; log() gives back the path score.
        self._last_score = int(self._logmath.log(hyp.score))
        return hyp.hypstr, list(d.seg())

    def transcribe(
        self, pcm: bytes, search: str | None = None, open_vocabulary: bool = False
    ) -> Transcript:
        """Recognise ``pcm`` (s16le 16 kHz mono) with grammar ``search``, else the LM;
        ``open_vocabulary``: the LM's words win over a grammar sentence they explain
        clearly better (see the module docs)."""
        started = time.perf_counter()
        pcm = pcm[: len(pcm) - len(pcm) % 2]
        audio_s = len(pcm) / (2 * RATE)
        pcm, mask = _trim(pcm)
        pcm = add_noise_floor(pcm)

        def done(text: str, confidence: float, source: str) -> Transcript:
            cpu = time.perf_counter() - started
            text = strip_wake(text)  # the wake word is the device's business, not the answer's
            return Transcript(text, round(min(max(confidence, 0.0), 1.0), 3), source, audio_s, cpu)

        if len(pcm) < FRAME * 2 * 5:
            return done("", 0.0, "none")
        heard = self._grammar_pass(search, pcm, mask)
        if open_vocabulary:
            return done(*self._open_vocabulary(heard, pcm, mask))
        if heard is not None and heard.confidence >= MIN_CONFIDENCE:
            return done(heard.text, heard.confidence, "grammar")
        return done(*self._general(self._lm_search, pcm))

    def _general(self, search: str, pcm: bytes) -> tuple[str, float, str]:
        """(text, confidence, source) from a general-model ``search``."""
        text, _ = self._decode(search, pcm)
        if not text:
            return "", 0.0, "none"
        posterior = float(self._decoder.get_prob())
        return text, posterior if math.isfinite(posterior) else 0.0, "lm"

    def _open_vocabulary(
        self, heard: _Heard | None, pcm: bytes, mask: np.ndarray
    ) -> tuple[str, float, str]:
        """(text, confidence, source): the general model's words, unless the grammar
        heard a full sentence that they do not clearly beat. Here the model is the
        grammar's competitor, in place of the phone loop's confidence: a sentence
        the phone loop doubts may still stand ("hello" against the model's "the
        load"), and one it trusts may fall ("what is the time" for "why is the
        sky blue")."""
        if heard is not None:  # the audio the grammar heard it in (pre-roll cut off)
            pcm, mask = heard.pcm, heard.mask
        pcm, _ = _around_speech(pcm, mask, FREE_MARGIN_S)
        general = self._general(self._free(), pcm)
        if heard is not None and self._grammar_wins(heard.text, general[0], pcm):
            return heard.text, heard.confidence, "grammar"
        return general

    def _grammar_pass(self, search: str | None, pcm: bytes, mask: np.ndarray) -> _Heard | None:
        """The surest full sentence grammar ``search`` hears in ``pcm`` (trusted when
        its confidence is at least :data:`MIN_CONFIDENCE`); None when there is none."""
        if search is None:
            return None
        if search not in self._fsgs:
            log.warning("no grammar named %r; using the general model", search)
            return None
        # A device's pre-roll may open with the tail of its wake word: try the
        # grammar from the first pause on as well, and keep the surer answer
        # ("...vis | turn on the lights" fits "is the ceiling fan on" at 0.67 as a
        # whole, and its true sentence at 0.97 without the fragment).
        best: _Heard | None = None
        for part, part_mask in (pcm, mask), *_after_leading_fragment(pcm, mask):
            text, segs = self._decode(search, part)
            if text and self._fsgs[search].accept(text):
                confidence = self._confidence(search, text, segs, part, part_mask)
                if best is None or confidence > best.confidence:
                    best = _Heard(text, confidence, part, part_mask)
        return best

    def _grammar_wins(self, sentence: str, words: str, pcm: bytes) -> bool:
        """True unless the general model's ``words`` explain ``pcm`` better than the
        grammar's ``sentence`` by more than :data:`OPEN_VOCABULARY_MARGIN`.

        Each is force-aligned to the same audio, so the two scores are acoustic
        only and come from the same kind of search (the decoders' own path
        scores are not comparable: the language model's includes its word
        probabilities, and each search normalises by its own active senones).
        The difference is a log-likelihood ratio: summed over the utterance, not
        averaged per frame (evidence adds up; measured, the total separates the
        two kinds of utterance where the average per frame barely does).
        """
        if not words or strip_wake(words) == strip_wake(sentence):
            return True
        ours, theirs = self._align(sentence, pcm), self._align(words, pcm)
        if ours is None or theirs is None:
            return theirs is None
        return theirs - ours <= OPEN_VOCABULARY_MARGIN

    def _confidence(
        self, search: str, text: str, segs: list[Any], pcm: bytes, mask: np.ndarray
    ) -> float:
        """How much to trust a full grammar sentence (0 when it must not be)."""
        words = [s for s in segs if not s.word.startswith(("<", "[", "+")) and s.word != "SIL"]
        if not words:
            return 0.0
        first, last = words[0].start_frame, words[-1].end_frame  # 10 ms frames
        if mask.any():  # the words must span most of what sounded like speech
            if mask[first // 2 : last // 2 + 1].sum() / mask.sum() < MIN_COVERAGE:
                return 0.0
        # Compare over the words only: around them the phone loop pays for every
        # phone it hears in the noise while the grammar calls it silence, which
        # would make the score depend on how much noise the client sent.
        a = max(0, first * 160 - _CUT_MARGIN)
        b = min(len(pcm) // 2, (last + 1) * 160 + _CUT_MARGIN)
        cut = pcm[2 * a : 2 * b]
        again, _ = self._decode(search, cut)
        if not same_command(again, text):  # unstable: it depends on the surrounding silence
            return 0.0
        grammar_score = self._last_score
        self._decode("_phones", cut)
        per_frame = (grammar_score - self._last_score) / max(1, (b - a) // 160)
        return _logistic(per_frame)


SLIGHT_WORDS = frozenset({"the", "a"})
"""Words a grammar makes optional ("turn on [the] kitchen lights")."""


def same_command(a: str | None, b: str | None) -> bool:
    """Whether two decodes of one utterance say the same thing, up to a dropped "the" or a
    plural "s" (Home Assistant's grammar holds "the kitchen light" beside "kitchen
    lights": a flip between such twins is not an unstable answer)."""
    if a is None or b is None:
        return a == b

    def core(text: str) -> list[str]:
        return [w.removesuffix("s") for w in text.split() if w not in SLIGHT_WORDS]

    return a == b or core(a) == core(b)


LEADING_FRAGMENT_MAX_S = 1.2  # a wake word's tail in the pre-roll is shorter than this
LEADING_PAUSE_MIN_S = 0.12  # and is followed by at least this much near-silence
PAUSE_BELOW_PEAK_DB = 30.0  # "near-silence": this far below the loudest frame


def _after_leading_fragment(pcm: bytes, mask: np.ndarray) -> list[tuple[bytes, np.ndarray]]:
    """``pcm`` from the first pause on, when it opens with a short sound and a
    pause before the rest (e.g. "...vis | set a timer"); else nothing.

    Found from frame levels, not the speech mask: the adaptive detector is
    still learning the noise floor during the first second.
    """
    levels = frame_levels(pcm)
    if not len(levels):
        return []
    quiet = levels < levels.max() - PAUSE_BELOW_PEAK_DB
    loud = np.flatnonzero(~quiet)
    limit = int(LEADING_FRAGMENT_MAX_S * RATE) // FRAME
    need = max(1, int(LEADING_PAUSE_MIN_S * RATE) // FRAME)
    if not len(loud):
        return []
    run = 0
    first = int(loud[0])
    for i in range(first, min(first + limit, len(levels))):
        run = run + 1 if quiet[i] else 0
        if run >= need and (~quiet[i + 1 :]).any():
            cut = i + 1 - need // 2  # keep a little of the pause before the words
            return [(pcm[2 * cut * FRAME :], mask[cut:] if len(mask) > cut else mask)]
    return []


def _trim(pcm: bytes) -> tuple[bytes, np.ndarray]:
    """``pcm`` cut to the detected speech plus margins, and its speech mask."""
    return _around_speech(pcm, speech_mask(pcm), LEAD_S, TRAIL_S)


def _around_speech(
    pcm: bytes, mask: np.ndarray, lead_s: float, trail_s: float | None = None
) -> tuple[bytes, np.ndarray]:
    """``pcm`` cut to the speech of ``mask`` (its frames) with margins, and the mask."""
    if not mask.any():
        return pcm, mask
    frames = np.flatnonzero(mask)
    first = max(0, int(frames[0]) * FRAME - int(lead_s * RATE))
    tail = lead_s if trail_s is None else trail_s
    last = min(len(pcm) // 2, (int(frames[-1]) + 1) * FRAME + int(tail * RATE))
    return pcm[2 * first : 2 * last], mask[first // FRAME : last // FRAME]
