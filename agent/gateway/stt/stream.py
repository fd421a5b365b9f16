"""The streaming speech-to-text interface: audio in as it arrives, transcripts out, always closed.

One :class:`SttStream` per utterance (a transaction's ``audio_start`` ...).
The gateway drives it from its event loop::

    stream = engines.open(name, listener, context)   # starts at once (a task)
    stream.feed(pcm)        # as each audio_data arrives; never blocks
    stream.finish()         # no more audio will come (audio_end, a limit)
    await stream.aclose()   # on every path, exactly when the gateway is done with it

and the stream calls its :class:`SttListener` back, on the same loop:

* ``partial(text)``: a growing hypothesis (the gateway logs it at debug level);
* ``final(Final)``: once, the engine's end of turn (``reason`` ``"gateway"``;
  ``"no_speech"`` when no speech came in time) or, after :meth:`finish`, its
  answer for the audio it was given (``reason`` None);
* ``failed(message)``: once, instead of ``final``: the transaction gets an
  ``error`` message and the gateway carries on.

The interface knows nothing of skills or replies: what the engine may use as
hints (a grammar name, the phrases the skills expect) comes in
:class:`StreamContext`. :class:`StreamBase` holds the machinery every engine
shares (the audio queue, the one task, the close that always completes);
an engine writes :meth:`StreamBase._run`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Protocol

from agent.gateway.stt.engine import SttError, Transcript

log = logging.getLogger(__name__)

CLOSE_TIMEOUT_S = 10.0
"""How long :meth:`StreamBase.aclose` waits for an engine to end its session
cleanly (v3 waits up to 5 s for ``Termination``) before cutting it off."""


class StreamFailure(SttError):
    """An engine's session failed; ``code`` is the service's (HTTP status, close code ...)."""

    def __init__(self, message: str, code: int | str | None = None) -> None:
        super().__init__(message if code is None else f"{message} (code {code})")
        self.code = code


@dataclass(frozen=True)
class Final:
    """The transcript that ends one utterance."""

    transcript: Transcript
    reason: str | None
    """``gateway`` (the engine's end of turn), ``no_speech``, or None (after ``finish``)."""
    sample: int
    """Samples of the utterance the engine had been given when it ended."""


@dataclass(frozen=True)
class StreamContext:
    """What one utterance's engine may know: hints, and who it is for (logs)."""

    label: str = ""
    """``connection N tid`` for log lines."""
    search: str | None = None
    """The grammar to recognise with (pocketsphinx)."""
    phrases: tuple[str, ...] = ()
    """The chain's expected phrases (cloud engines' keyterms / keywords)."""
    open_vocabulary: bool = False
    """True when an agent of the turn's chain takes free text (``llm``): the engine must
    hear free speech too (pocketsphinx: its language model beside the grammar)."""
    endpointing: bool = True
    """False: only ``finish`` ends the utterance (the engine's end of turn is not final)."""
    no_speech_samples: int | None = None
    """End the utterance when no speech was heard in this many samples (None: never)."""
    silence_ms: int = 700
    """The gateway's own endpointer's trailing silence (batch engines)."""
    extra: dict[str, object] = field(default_factory=dict)
    """Engine-specific options from the client (unused by the built-in engines)."""


class SttListener(Protocol):
    """Who hears what a stream recognises (the gateway's session)."""

    def partial(self, text: str) -> None:
        """A hypothesis that is not final yet."""

    def final(self, result: Final) -> None:
        """The utterance's transcript (called at most once)."""

    def failed(self, message: str) -> None:
        """The engine failed for this utterance (called at most once, instead of final)."""


class SttStream(Protocol):
    """One utterance's recognition (see the module docs)."""

    engine: str

    def feed(self, pcm: bytes) -> None:
        """More s16le 16 kHz mono audio (ignored once finished)."""

    def finish(self) -> None:
        """No more audio will come."""

    async def aclose(self, wanted: bool = False) -> None:
        """End the engine's session on every path (idempotent); ``wanted``: its
        transcript is still awaited, so it is not cut off."""


class StreamBase:
    """The shared machinery: an audio queue, one task running :meth:`_run`, a sure close."""

    engine = "?"

    def __init__(self, listener: SttListener, context: StreamContext) -> None:
        self.listener = listener
        self.context = context
        self.samples = 0
        """Samples taken from the queue by the engine so far."""
        self.heard = False
        """Speech was heard (stops the no-speech timer)."""
        self._audio: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._finished = False
        self._answered = False
        self._task = asyncio.get_running_loop().create_task(self._main(), name=self.engine)

    # ------------------------------------------------------------ the gateway

    def feed(self, pcm: bytes) -> None:
        """Queue audio for the engine (dropped after :meth:`finish` or an answer)."""
        if not self._finished and not self._answered and pcm:
            self._audio.put_nowait(pcm)

    def finish(self) -> None:
        """No more audio: the engine answers for what it was given."""
        if not self._finished:
            self._finished = True
            self._audio.put_nowait(None)

    @property
    def finished(self) -> bool:
        """True once :meth:`finish` was called."""
        return self._finished

    @property
    def answered(self) -> bool:
        """True once the listener got its final or failure."""
        return self._answered

    async def aclose(self, wanted: bool = False) -> None:
        """Finish, let the engine end its session, and cut it off if that takes too long.

        ``wanted``: the transcript is still awaited (the client's ``audio_end``),
        so the engine is given the time it takes (each engine bounds its own
        waits); otherwise it gets :data:`CLOSE_TIMEOUT_S`.
        """
        self.finish()
        task = self._task
        try:
            await asyncio.wait_for(asyncio.shield(task), None if wanted else CLOSE_TIMEOUT_S)
        except TimeoutError:
            log.warning("%s %s: the session did not end in time; closed", self.engine,
                        self.context.label)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        except asyncio.CancelledError:
            task.cancel()  # the gateway itself is being cancelled: the engine's finally closes
            raise
        except Exception:  # noqa: BLE001 - _main catches everything; belt and braces
            pass

    # ------------------------------------------------------------ the engine

    async def _run(self) -> None:
        """The engine's session: read :meth:`_take`, answer with :meth:`_final`."""
        raise NotImplementedError

    async def _take(self, timeout: float | None = None) -> bytes | None:
        """The next chunk of audio, or None once finished (TimeoutError after ``timeout``)."""
        if timeout is None:
            chunk = await self._audio.get()
        else:
            chunk = await asyncio.wait_for(self._audio.get(), timeout)
        if chunk is not None:
            self.samples += len(chunk) // 2
        return chunk

    def _take_nowait(self) -> bytes | None | bool:
        """Like :meth:`_take` without waiting; False when nothing is queued."""
        try:
            chunk = self._audio.get_nowait()
        except asyncio.QueueEmpty:
            return False
        if chunk is not None:
            self.samples += len(chunk) // 2
        return chunk

    def _no_speech_due(self) -> bool:
        """True when no speech was heard within ``context.no_speech_samples``."""
        limit = self.context.no_speech_samples
        return limit is not None and not self.heard and self.samples >= limit

    def _partial(self, text: str) -> None:
        if text:
            self.heard = True
            log.debug("%s %s: partial %r", self.engine, self.context.label, text)
            self.listener.partial(text)

    def _final(self, transcript: Transcript, reason: str | None) -> None:
        if self._answered:
            return
        self._answered = True
        if self._finished and reason == "gateway":
            reason = None  # the client (or a limit) ended the utterance first
        self._finished = True  # later audio is not this utterance's
        self.listener.final(Final(transcript, reason, self.samples))

    def _fail(self, message: str) -> None:
        if self._answered:
            return
        self._answered = True
        self._finished = True
        self.listener.failed(message)

    async def _main(self) -> None:
        try:
            await self._run()
        except asyncio.CancelledError:
            self._fail(f"{self.engine}: the session was cut off")
            raise
        except StreamFailure as exc:
            log.warning("%s %s: %s", self.engine, self.context.label, exc)
            self._fail(f"speech to text ({self.engine}) failed: {exc}")
        except SttError as exc:
            self._fail(str(exc))
        except Exception as exc:  # an engine bug must not take the connection down
            log.exception("%s %s: failed", self.engine, self.context.label)
            self._fail(f"speech to text ({self.engine}) failed: {type(exc).__name__}")
        else:
            if not self._answered:
                self._final(Transcript("", 0.0, "none", self.samples / 16000, 0.0, self.engine),
                            None)
