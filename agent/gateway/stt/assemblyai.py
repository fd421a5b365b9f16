"""AssemblyAI Streaming Speech-to-Text v3, spoken with ``websockets`` (asyncio).

One session per utterance: the WebSocket opens at the device's
``audio_start`` and always ends with ``{"type": "Terminate"}`` and the
service's ``Termination`` (waited for up to 5 s), then the close. The service
bills the time a session is open, and a session kept over a follow-up would be
open through the reply and the device's follow-up wait with nothing to hear.

Why the protocol and not the vendor SDK (``assemblyai`` 1.8.x): its client
runs two threads per session and polls with 1 s timeouts, while the gateway
is one asyncio loop; a refused handshake reaches an error callback instead of
raising, and the SDK pulls pydantic and httpx onto the Pi. The protocol is
small: binary PCM frames out, JSON events in. The tests run the SDK itself
against the same stand-in the gateway is tested with.

Audio goes out in frames of exactly 50 ms (the service closes with 3007 for
a frame outside 50-1000 ms): at most 49 ms waits for the next ``audio_data``,
and the last frame of an utterance is padded with silence to 50 ms.
Audio that arrives before ``Begin`` waits in the queue and follows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any
from urllib.parse import urlencode, urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from agent.common.redact import REDACTOR
from agent.gateway.reach import cannot_reach, key_refused, refused
from agent.gateway.stt.config import AssemblyAISettings
from agent.gateway.stt.engine import Transcript
from agent.gateway.stt.stream import StreamBase, StreamContext, StreamFailure, SttListener

log = logging.getLogger(__name__)

RATE = 16000
FRAME_MS = 50
FRAME_BYTES = RATE * FRAME_MS // 1000 * 2
"""One binary frame: 50 ms of s16le (1,600 bytes)."""
BEGIN_TIMEOUT_S = 5.0
TERMINATION_TIMEOUT_S = 5.0
OPEN_TIMEOUT_S = 5.0
MAX_KEYTERMS = 100  # a short query string; the skills' phrases are far fewer
MAX_KEYTERM_CHARS = 50
TERMINATE = json.dumps({"type": "Terminate"})

CLOSE_REASONS = {
    3005: "the service had an internal error",
    3006: "the service refused the input",
    3007: "an audio frame was outside 50-1000 ms",
    3008: "the session was too long",
    3009: "too many concurrent sessions",
}


def keyterms(phrases: tuple[str, ...]) -> list[str]:
    """The skills' phrases as ``keyterms_prompt`` entries (distinct, short, bounded)."""
    out: list[str] = []
    for p in phrases:
        p = " ".join(p.split())
        if p and len(p) <= MAX_KEYTERM_CHARS and p not in out:
            out.append(p)
    return out[:MAX_KEYTERMS]


def session_url(settings: AssemblyAISettings, phrases: tuple[str, ...]) -> str:
    """The v3 URL with this session's query parameters."""
    query: dict[str, Any] = {
        "sample_rate": RATE,
        "encoding": "pcm_s16le",
        "speech_model": settings.speech_model,
        "format_turns": "true" if settings.format_turns else "false",
    }
    if settings.end_of_turn_confidence_threshold is not None:
        query["end_of_turn_confidence_threshold"] = settings.end_of_turn_confidence_threshold
    if settings.min_turn_silence_ms is not None:
        query["min_turn_silence"] = settings.min_turn_silence_ms
    if settings.max_turn_silence_ms is not None:
        query["max_turn_silence"] = settings.max_turn_silence_ms
    terms = keyterms(phrases) if settings.keyterms else []
    if terms:
        query["keyterms_prompt"] = json.dumps(terms)
    sep = "&" if "?" in settings.url else "?"
    return settings.url + sep + urlencode(query)


class AssemblyAIStream(StreamBase):
    """One v3 session for one utterance (see the module docs)."""

    engine = "assemblyai"

    def __init__(
        self,
        listener: SttListener,
        context: StreamContext,
        settings: AssemblyAISettings,
        api_key: str,
    ) -> None:
        self.settings = settings
        self._key = api_key
        self._turns: list[tuple[str, float]] = []  # finals kept when endpointing is off
        self._last_partial = ""
        self._raw_final = ""
        self._terminate_sent = False
        self._terminated = False  # Termination received
        self.session_id: str | None = None
        super().__init__(listener, context)

    async def _run(self) -> None:
        url = session_url(self.settings, self.context.phrases)
        try:
            ws = await connect(
                url,
                additional_headers={"Authorization": self._key},
                open_timeout=OPEN_TIMEOUT_S,
                close_timeout=2,
                compression=None,
                max_size=1 << 20,
            )
        except InvalidStatus as exc:
            # The words of `gateway --check` (agent.gateway.reach), not the library's.
            status = exc.response.status_code
            why = (key_refused(status, "stt.assemblyai.api_key_file") if status in (401, 403)
                   else refused(status))
            failure = StreamFailure(why)
            failure.code = status
            raise failure from None
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            parts = urlsplit(url)
            secure = parts.scheme == "wss"
            port = parts.port or (443 if secure else 80)
            raise StreamFailure(cannot_reach(exc, parts.hostname or "", port)) from None
        try:
            await self._session(ws)
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd is not None else 1006
            raise StreamFailure(CLOSE_REASONS.get(code, "the connection was lost"), code) from None
        finally:
            if not self._terminate_sent and ws.close_code is None:
                with contextlib.suppress(Exception):  # best effort: never leave it billing
                    await ws.send(TERMINATE)
            await ws.close()

    async def _session(self, ws: ClientConnection) -> None:
        await self._begin(ws)
        reader = asyncio.create_task(self._read(ws))
        sender = asyncio.create_task(self._send(ws))
        try:
            done, _ = await asyncio.wait({reader, sender}, return_when=asyncio.FIRST_COMPLETED)
            if reader in done:  # an error, a close, or a Termination we did not ask for
                sender.cancel()
                await reader
                if not self._terminated:
                    raise StreamFailure("the service ended the session", ws.close_code)
                return
            await sender  # raises if a send failed
            self._terminate_sent = True
            await ws.send(TERMINATE)
            try:
                await asyncio.wait_for(asyncio.shield(reader), TERMINATION_TIMEOUT_S)
            except TimeoutError:
                log.warning("assemblyai %s: no Termination within %g s; closing",
                            self.context.label, TERMINATION_TIMEOUT_S)
        finally:
            for task in (reader, sender):
                task.cancel()
            await asyncio.gather(reader, sender, return_exceptions=True)
        self._answer_after_termination()

    async def _begin(self, ws: ClientConnection) -> None:
        try:
            async with asyncio.timeout(BEGIN_TIMEOUT_S):
                while True:
                    msg = _decode(await ws.recv())
                    if msg is None:
                        continue
                    if msg.get("type") == "Begin":
                        self.session_id = str(msg.get("id", ""))
                        log.debug("assemblyai %s: session %s began", self.context.label,
                                  self.session_id)
                        return
                    self._check_error(msg)
        except TimeoutError:
            raise StreamFailure(f"no Begin from the service within {BEGIN_TIMEOUT_S:g} s") from None

    async def _send(self, ws: ClientConnection) -> None:
        buf = bytearray()
        while (chunk := await self._take()) is not None and not self.answered:
            buf += chunk
            whole = len(buf) - len(buf) % FRAME_BYTES
            for i in range(0, whole, FRAME_BYTES):
                await ws.send(bytes(buf[i : i + FRAME_BYTES]))
            del buf[:whole]
            if self._no_speech_due():
                self._final(self._transcript("", 0.0), "no_speech")
        if buf and not self.answered:
            await ws.send(bytes(buf) + bytes(FRAME_BYTES - len(buf)))

    async def _read(self, ws: ClientConnection) -> None:
        """Events until ``Termination`` (returns) or an error (raises)."""
        async for raw in ws:
            msg = _decode(raw)
            if msg is None:
                continue
            kind = msg.get("type")
            if kind == "Turn":
                self._turn(msg)
            elif kind == "Termination":
                log.debug("assemblyai %s: terminated (%s s of audio)", self.context.label,
                          msg.get("audio_duration_seconds"))
                self._terminated = True
                return
            elif kind == "SpeechStarted":
                self.heard = True
            elif kind == "Warning":
                log.warning("assemblyai %s: warning %s: %s", self.context.label,
                            msg.get("warning_code"), REDACTOR.scrub(str(msg.get("warning"))))
            else:
                self._check_error(msg)
        if not self._terminated:  # a clean close without Termination
            raise StreamFailure("the service closed the session", ws.close_code)

    def _check_error(self, msg: dict[str, Any]) -> None:
        if msg.get("type") == "Error":
            text = REDACTOR.scrub(str(msg.get("error", "")))[:200]
            raise StreamFailure(f"the service reported an error: {text}", msg.get("error_code"))

    def _turn(self, msg: dict[str, Any]) -> None:
        text = str(msg.get("transcript") or "")
        if not msg.get("end_of_turn"):
            self._last_partial = text
            self._partial(text)
            return
        if self.settings.format_turns and not msg.get("turn_is_formatted"):
            self._raw_final = text  # the formatted one follows; one final per turn
            self._partial(text)
            return
        confidence = _confidence(msg)
        self._raw_final = self._last_partial = ""
        if self.context.endpointing and not self.finished:
            self._final(self._transcript(text, confidence), "gateway")
            self._audio.put_nowait(None)  # wakes the sender: this utterance is over
        else:
            self._turns.append((text, confidence))

    def _answer_after_termination(self) -> None:
        if self.answered:
            return
        texts = [t for t, _ in self._turns if t]
        if not texts and (self._raw_final or self._last_partial):
            texts = [self._raw_final or self._last_partial]
        confidences = [c for t, c in self._turns if t] or [0.0]
        self._final(self._transcript(" ".join(texts), min(confidences)), None)

    def _transcript(self, text: str, confidence: float) -> Transcript:
        return Transcript(text, round(confidence, 3), self.engine, self.samples / RATE, 0.0,
                          self.engine)


def _decode(raw: str | bytes) -> dict[str, Any] | None:
    if isinstance(raw, bytes):
        return None
    try:
        msg = json.loads(raw)
    except ValueError:
        log.info("assemblyai: dropping a message that is not JSON")
        return None
    return msg if isinstance(msg, dict) else None


def _confidence(msg: dict[str, Any]) -> float:
    words = msg.get("words")
    values = [w.get("confidence") for w in words if isinstance(w, dict)] if isinstance(
        words, list) else []
    numbers = [float(v) for v in values if isinstance(v, int | float)]
    if numbers:
        return min(max(sum(numbers) / len(numbers), 0.0), 1.0)
    value = msg.get("end_of_turn_confidence")
    return min(max(float(value), 0.0), 1.0) if isinstance(value, int | float) else 0.0
