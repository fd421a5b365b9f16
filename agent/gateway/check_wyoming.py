"""``voice-agent gateway --check`` for the Wyoming servers: what ``describe`` says, or why not.

For each configured server (``stt.engine: wyoming``, ``tts.engine: wyoming``)
one line per program it offers, with its models or voices, their languages
and its streaming flags; or one FAIL line with the fix. A configured model or
voice the server does not list is a FAIL too (the server would not use it).

:func:`check_wyoming` gives the lines of both; :func:`check_stt_wyoming` and
:func:`check_tts_wyoming` (with :func:`stt_unused` / :func:`tts_unused`) are the
same as one service each, for a ``--check`` made of per-service steps.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

from agent.gateway.settings import GatewaySettings
from agent.gateway.wyoming_link import WyomingFault, asr_lines, describe, tts_lines

START = {
    "stt": "is it running? e.g. `wyoming-faster-whisper --uri tcp://0.0.0.0:10300 "
           "--model tiny-int8 --language en --data-dir /data` or its container "
           "(rhasspy/wyoming-whisper); else set stt.wyoming.uri to where it listens",
    "tts": "is it running? e.g. `wyoming-piper --uri tcp://0.0.0.0:10200 "
           "--voice en_US-lessac-medium --data-dir /data` or its container "
           "(rhasspy/wyoming-piper); else set tts.wyoming.uri to where it listens",
}


@dataclass(frozen=True)
class Finding:
    """One line of the check: ``ok``, its name, what was found, the fix when not ok."""

    ok: bool
    name: str
    detail: str
    fix: str | None = None


class StepsLike(Protocol):
    """Where a per-service check writes its lines (``check_steps.Steps`` of ``--check``)."""

    def add(self, name: str, ok: bool, detail: str, fix: str | None = None) -> bool:
        """One step's result."""
        ...


def stt_unused(settings: GatewaySettings) -> str | None:
    """Why ``stt.wyoming`` is not checked (None: ``stt.engine`` is wyoming)."""
    return None if settings.stt.engine == "wyoming" else "stt.engine is not wyoming"


def tts_unused(settings: GatewaySettings) -> str | None:
    """Why ``tts.wyoming`` is not checked (None: ``tts.engine`` is wyoming)."""
    return None if settings.tts.engine == "wyoming" else "tts.engine is not wyoming"


def check_stt_wyoming(settings: GatewaySettings, source: str, steps: StepsLike) -> None:
    """``stt.wyoming`` as one service of ``--check`` (its lines into ``steps``)."""
    s = settings.stt.wyoming
    for f in _describe("stt", s.uri, s.timeout_s, "model", s.model):
        steps.add(_step_name(f.name, "stt"), f.ok, f.detail, f.fix)


def check_tts_wyoming(settings: GatewaySettings, source: str, steps: StepsLike) -> None:
    """``tts.wyoming`` as one service of ``--check`` (its lines into ``steps``)."""
    t = settings.tts.wyoming
    for f in _describe("tts", t.uri, t.timeout_s, "voice", t.voice):
        steps.add(_step_name(f.name, "tts"), f.ok, f.detail, f.fix)


def _step_name(name: str, kind: str) -> str:
    """A finding's name as a step of the ``KIND.wyoming`` service: its URI, or its key."""
    return name.partition(" ")[2] or name.removeprefix(f"{kind}.wyoming").lstrip(".") or name


def check_wyoming(settings: GatewaySettings) -> list[Finding]:
    """Describe each configured Wyoming server (nothing when none is configured)."""
    found: list[Finding] = []
    if settings.stt.engine == "wyoming":
        s = settings.stt.wyoming
        found += _describe("stt", s.uri, s.timeout_s, "model", s.model)
    if settings.tts.engine == "wyoming":
        t = settings.tts.wyoming
        found += _describe("tts", t.uri, t.timeout_s, "voice", t.voice)
    return found


def _describe(kind: str, uri: str, timeout: float, key: str, wanted: str | None) -> list[Finding]:
    name = f"{kind}.wyoming {uri}"
    try:
        info = asyncio.run(describe(uri, timeout))
    except WyomingFault as exc:
        return [Finding(False, name, str(exc), START[kind])]
    programs = info.asr if kind == "stt" else info.tts
    if not programs:
        what = "speech to text" if kind == "stt" else "text to speech"
        return [Finding(False, name, f"it offers no {what}",
                        f"is {kind}.wyoming.uri the right server's port?")]
    lines = asr_lines(info) if kind == "stt" else tts_lines(info)
    found = [Finding(True, name, line) for line in lines]
    names = ({m.name for p in info.asr for m in p.models} if kind == "stt"
             else {v.name for p in info.tts for v in p.voices})
    if wanted is not None and wanted not in names:
        found.append(Finding(False, f"{kind}.wyoming.{key}", f"{wanted!r} is not among its "
                             f"{key}s", f"use one of: {', '.join(sorted(names)[:12])}"))
    return found
