"""From a model's tokens to sentences a speaker can read: cut as they come, markdown stripped.

A :class:`SentenceCutter` takes the text deltas of a streamed answer and hands
back each sentence as soon as it is complete (a ``.``, ``!`` or ``?`` followed
by white space, or the end of a line), so that the first sentence is spoken
while the model still writes the rest. What a speaker should not read aloud
is dropped on the way: fenced code blocks, list markers, headings, emphasis
marks, inline code marks, link targets and bare URLs, table rules and emoji
(:func:`speakable`).

Why lines are cut before sentences: models write lists and paragraphs one per
line, and a list item has no full stop ("- two eggs"); a line end is where it
ends. A line that starts like a list marker or a code fence is held until it
is long enough to tell ("1" may become "1. Eggs").
"""

from __future__ import annotations

import re
import unicodedata

_ABBREVIATIONS = frozenset(
    "mr mrs ms dr st prof sr jr vs etc e.g i.e approx no fig mt ft".split()
)
# A sentence end: punctuation, closing quotes/brackets, then white space.
_END = re.compile(r"[.!?…]+[\"'”’)\]]*\s+")
_LIST_MARKER = re.compile(r"^\s*(?:\d{1,3}[.)]|[-*+•])\s+")
_MAYBE_MARKER = re.compile(r"^\s*(?:\d{1,3}[.)]?|[-*+•]|`{1,2})$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^\s*#{1,6}\s+")
_QUOTE = re.compile(r"^\s*>\s?")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?\s*$")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_URL = re.compile(r"(?:https?://|www\.)\S+?(?=[.,!?;:)\]]*(?:\s|$))", re.I)
_EMPHASIS = re.compile(r"(\*{1,3}|_{2,3}|~~)(?=\S)(.+?)(?<=\S)\1")
_SINGLE_UNDERSCORE = re.compile(r"(?<!\w)_(?=\S)(.+?)(?<=\S)_(?!\w)")
_INLINE_CODE = re.compile(r"`+([^`]*)`+")
_SPACES = re.compile(r"\s+")


def speakable(text: str) -> str:
    """``text`` (one line or sentence of markdown) as plain words for a speaker."""
    text = _LINK.sub(r"\1", text)
    text = _URL.sub("", text)
    text = _INLINE_CODE.sub(r"\1", text)
    for _ in range(2):  # nested emphasis: ***bold italic*** or **a _b_**
        text = _EMPHASIS.sub(r"\2", text)
        text = _SINGLE_UNDERSCORE.sub(r"\1", text)
    text = text.replace("|", ", ").replace("*", "").replace("`", "").replace("#", "")
    text = "".join(
        ch for ch in text if unicodedata.category(ch) not in ("So", "Cs", "Co", "Sk")
        and ch not in "\u200d\ufe0f"
    )
    text = _SPACES.sub(" ", text).strip(" ,;")
    text = re.sub(r"\s+([,.!?;:])", r"\1", text)
    return text if any(ch.isalnum() for ch in text) else ""


class SentenceCutter:
    """Feed deltas in, get complete speakable sentences out (see the module docstring)."""

    def __init__(self) -> None:
        self._buffer = ""
        self._line_start = True
        """The buffer begins at the start of a line (markers and fences are looked for)."""
        self._in_code = False
        self.said: list[str] = []
        """Every sentence handed out, in order (the reply's plain text)."""

    def feed(self, delta: str) -> list[str]:
        """The sentences ``delta`` completes (maybe none)."""
        self._buffer += delta
        return self._cut(final=False)

    def flush(self) -> list[str]:
        """The end of the answer: what is left, as sentences."""
        return self._cut(final=True)

    def _cut(self, *, final: bool) -> list[str]:
        out: list[str] = []
        while self._buffer:
            if self._line_start and not self._line_head(final):
                break
            newline = self._buffer.find("\n")
            if self._in_code:
                if newline < 0:
                    if final:
                        self._buffer = ""
                    break
                self._buffer = self._buffer[newline + 1:]
                continue
            end = self._sentence_end(newline)
            if end is None:
                if newline >= 0:
                    piece, self._buffer = self._buffer[:newline], self._buffer[newline + 1:]
                    self._line_start = True
                elif final:
                    piece, self._buffer = self._buffer, ""
                else:
                    break
            else:
                piece, self._buffer = self._buffer[:end], self._buffer[end:]
                self._line_start = False
                if self._buffer.startswith("\n"):
                    self._buffer, self._line_start = self._buffer[1:], True
            sentence = speakable(piece)
            if sentence:
                out.append(sentence)
        self.said.extend(out)
        return out

    def _line_head(self, final: bool) -> bool:
        """Deal with the start of a line; False when more text is needed to tell."""
        if not self._buffer:
            return False  # the next delta starts the line
        line_end = self._buffer.find("\n")
        head = self._buffer if line_end < 0 else self._buffer[:line_end]
        if not final and line_end < 0 and _MAYBE_MARKER.match(head):
            return False  # "1", "-", "``": a list item or a code fence may follow
        fence = _FENCE.match(head)
        if fence:
            if line_end < 0 and not final:
                return False  # the fence line (```python) is dropped whole
            self._in_code = not self._in_code
            self._buffer = "" if line_end < 0 else self._buffer[line_end + 1:]
            return self._line_head(final)  # the next line starts here
        if self._in_code:
            return True
        if line_end >= 0 and _TABLE_RULE.match(head):
            self._buffer = self._buffer[line_end + 1:]
            return self._line_head(final)
        for pattern in (_LIST_MARKER, _HEADING, _QUOTE):
            self._buffer = pattern.sub("", self._buffer, count=1)
        self._line_start = False
        return True

    def _sentence_end(self, newline: int) -> int | None:
        """Where the first complete sentence in the buffer ends (before ``newline``)."""
        limit = len(self._buffer) if newline < 0 else newline
        for m in _END.finditer(self._buffer):
            if m.start() >= limit:
                return None
            words = self._buffer[: m.start()].split()
            last = words[-1].lower().rstrip(".") if words else ""
            if self._buffer[m.start()] == "." and (
                    last in _ABBREVIATIONS or (len(last) == 1 and last.isalpha())
            ):
                continue  # "Dr. Smith", "J. S. Bach": not a sentence end
            return m.end() if m.end() <= limit else limit
        return None
