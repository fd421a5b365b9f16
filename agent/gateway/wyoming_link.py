"""What the Wyoming engines share: connect, read and write events, ``describe``.

The framing (a JSON header line, extra data, a binary payload) is the
``wyoming`` library's own (:class:`wyoming.client.AsyncClient`); this module
only turns its outcomes into one exception, :class:`WyomingFault`, with a
sentence a user can act on: the server is down, it closed the connection,
it took too long, it sent something that is not a Wyoming event, or it sent
an ``error`` event. The engines (``stt/wyoming.py``, ``tts/wyoming.py``) and
``voice-agent gateway --check`` use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from wyoming.client import AsyncClient
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe, Info

log = logging.getLogger(__name__)

MAX_SKIPPED = 100
"""Events of other kinds a read skips while it waits for the one it wants."""


class WyomingFault(RuntimeError):
    """The server could not be used for this request (the message says why)."""


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or type(exc).__name__


async def connect(uri: str, timeout: float) -> AsyncClient:
    """A connected client (raises :class:`WyomingFault` when the server cannot be reached)."""
    try:
        client = AsyncClient.from_uri(uri, connect_timeout=timeout)
        await client.connect()
    except TimeoutError:
        raise WyomingFault(f"cannot connect to {uri}: no answer within {timeout:g} s") from None
    except (OSError, ValueError) as exc:
        raise WyomingFault(f"cannot connect to {uri}: {_reason(exc)}") from None
    return client


async def close(client: AsyncClient) -> None:
    """Disconnect, whatever state the connection is in."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(client.disconnect(), 2.0)


async def write(client: AsyncClient, event: Event) -> None:
    """Send one event (raises :class:`WyomingFault` when the connection is gone)."""
    try:
        await client.write_event(event)
    except (OSError, RuntimeError, AssertionError) as exc:
        raise WyomingFault(f"the connection was lost ({_reason(exc)})") from None


async def read(client: AsyncClient, timeout: float | None, waiting_for: str) -> Event:
    """The next event; an ``error`` event, a close, garbage or the timeout raise."""
    try:
        async with asyncio.timeout(timeout):
            event = await client.read_event()
    except TimeoutError:
        raise WyomingFault(f"no {waiting_for} within {timeout:g} s") from None
    except (OSError, EOFError) as exc:  # IncompleteReadError is an EOFError
        raise WyomingFault(f"the connection was lost ({_reason(exc)})") from None
    except (KeyError, TypeError, AttributeError, UnicodeDecodeError):
        raise WyomingFault("the server sent something that is not a Wyoming event") from None
    if event is None:  # the library says None for a close and for a line that is not JSON
        raise WyomingFault(
            "the server closed the connection or sent something that is not a Wyoming event")
    if Error.is_type(event.type):
        text = str(event.data.get("text", ""))[:200]
        code = event.data.get("code")
        raise WyomingFault(f"the server reported an error: {text}"
                           + (f" (code {str(code)[:40]})" if code else ""))
    return event


def parse_info(event: Event) -> Info:
    """An ``info`` event as :class:`~wyoming.info.Info` (WyomingFault when it is not one)."""
    try:
        return Info.from_event(event)
    except (KeyError, TypeError, ValueError, AttributeError, AssertionError):
        raise WyomingFault("the server's info event is not valid") from None


async def describe(uri: str, timeout: float) -> Info:
    """``describe`` -> ``info`` on a connection of its own."""
    client = await connect(uri, timeout)
    try:
        await write(client, Describe().event())
        for _ in range(MAX_SKIPPED):
            event = await read(client, timeout, "info")
            if Info.is_type(event.type):
                return parse_info(event)
        raise WyomingFault("the server did not answer describe with info")
    finally:
        await close(client)


def asr_lines(info: Info) -> list[str]:
    """One line per speech-to-text program: its models, languages and flags."""
    lines = []
    for p in info.asr:
        models = ", ".join(
            f"{m.name} [{', '.join(m.languages[:8])}{', ...' if len(m.languages) > 8 else ''}]"
            for m in p.models if m.installed
        ) or "none installed"
        lines.append(
            f"{p.name}{' ' + p.version if p.version else ''}: models {models}; "
            f"streaming transcripts {'yes' if p.supports_transcript_streaming else 'no'}, "
            f"needs external VAD {'yes' if p.requires_external_vad else 'no'}"
        )
    return lines


def tts_lines(info: Info) -> list[str]:
    """One line per text-to-speech program: its voices, languages and speakers."""
    lines = []
    for p in info.tts:
        voices = []
        for v in p.voices:
            if not v.installed:
                continue
            speakers = f" speakers {', '.join(s.name for s in v.speakers[:5])}" + (
                ", ..." if len(v.speakers) > 5 else "") if v.speakers else ""
            voices.append(f"{v.name} [{', '.join(v.languages)}]{speakers}")
        lines.append(
            f"{p.name}{' ' + p.version if p.version else ''}: voices "
            f"{'; '.join(voices) or 'none installed'}; streaming synthesis "
            f"{'yes' if p.supports_synthesize_streaming else 'no'}"
        )
    return lines
