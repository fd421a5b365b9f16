"""One client connection of the reference gateway: its options and transactions.

The server decodes each frame and hands the message to :meth:`Session.handle`;
the session answers through the ``send`` callback. A transaction
(``audio_start`` ... ``audio_end``) opens one streaming speech-to-text
session (:mod:`agent.gateway.stt.stream`) and feeds it the audio as it
arrives. The engine's end of turn (pocketsphinx: the gateway's own
endpointer) or the end of the audio (the client's ``audio_end``, a limit)
gives the final transcript; then one processing task sends
``stt_transcript`` at once and hands the turn to the pipeline
(:mod:`agent.gateway.pipeline`: the chain of agents, then speech), which
streams the reply. A typed ``text`` goes to the pipeline directly. When the
first agent of the turn's chain hears the audio itself (Diatheke), the
utterance goes to it and it answers the device itself. An engine's failure
is an ``error`` for that transaction only. Every stream is closed when its
transaction is, and all of them when the connection is.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from websockets.exceptions import ConnectionClosed

from agent.gateway.dialog.agent import Peer, Turn
from agent.gateway.dialog.backend import Outbox, Utterance
from agent.gateway.dialog.skills import Skills
from agent.gateway.pipeline import Pipeline
from agent.gateway.records import ConnectionRecord, Recorder
from agent.gateway.reply import LEGACY_LEAD_S, ReplySender
from agent.gateway.settings import GatewaySettings
from agent.gateway.stt.engine import Transcript
from agent.gateway.stt.engines import SpeechEngines
from agent.gateway.stt.stream import Final
from agent.gateway.transaction import Transaction, TransactionListener
from agent.link.protocol import (
    AudioData,
    AudioEnd,
    AudioStart,
    ClientMessage,
    GatewayError,
    GatewayMessage,
    Location,
    ReplyAudioData,
    SttOptions,
    SttTranscript,
    TextInput,
    TtsOptions,
    Unknown,
)

log = logging.getLogger(__name__)

RATE = 16000

Send = Callable[[GatewayMessage, bool], Awaitable[None]]
"""send(message, buffer_form): encode and send one message."""


@dataclass
class Services:
    """What every session shares (one per server)."""

    settings: GatewaySettings
    skills: Skills
    stt: SpeechEngines
    pipeline: Pipeline
    """The agents of the chain and the speaker."""
    recorder: Recorder | None = None


class Session:
    """The gateway side of one connection."""

    def __init__(
        self,
        number: int,
        services: Services,
        send: Send,
        *,
        buffer_form: bool | None = None,
        endpointing: bool | None = None,
        record: ConnectionRecord | None = None,
        device: str | None = None,
    ) -> None:
        s = services.settings
        self.number = number
        self.services = services
        self._send_raw = send
        # auto without a handshake to judge by: the form every client plays.
        self.buffer_form = s.reply.form != "standard" if buffer_form is None else buffer_form
        self.endpointing = s.endpointing.enabled if endpointing is None else endpointing
        self.stt_options: dict[str, Any] = {}
        self.tts_options: dict[str, Any] = {}
        self.errors = 0
        self.last_message = time.monotonic()
        self._record = record
        self._tx: Transaction | None = None
        self._text_task: asyncio.Task[None] | None = None
        self._closers: set[asyncio.Task[None]] = set()
        self._cap_bytes = int(s.limits.max_utterance_s * RATE) * 2
        # The Node form's clients (IBM's) get a silent tail and a bounded lead.
        self.replies = ReplySender(
            self._send, pace=s.reply.pace, chunk_ms=s.reply.chunk_ms, number=number,
            tail_ms=s.reply.legacy_tail_ms if self.buffer_form else 0,
            lead_s=LEGACY_LEAD_S if self.buffer_form else None,
        )
        pool, step = services.stt.pool, max(2, s.reply.chunk_ms * RATE // 1000 * 2)
        outbox = Outbox(number, self._send, lambda pcm: pool.transcribe(pcm), step,
                        not self.buffer_form)
        self.peer = Peer(number, device or f"connection-{number}", outbox=outbox)
        """This device as the agents see it (the server sets its timers)."""
        self.conversation = services.pipeline.connect(self.peer)

    # ------------------------------------------------------------------ input

    async def handle(self, msg: ClientMessage | Unknown) -> None:
        """React to one decoded client message."""
        self.last_message = time.monotonic()
        if isinstance(msg, AudioData):
            await self._audio_data(msg)
        elif isinstance(msg, AudioStart):
            self._audio_start(msg)
        elif isinstance(msg, AudioEnd):
            self._audio_end(msg)
        elif isinstance(msg, SttOptions):
            self.stt_options.update(msg.options)
        elif isinstance(msg, TtsOptions):
            self.tts_options.update(msg.options)
        elif isinstance(msg, Location):
            self.peer.location = (msg.latitude, msg.longitude)
        elif isinstance(msg, TextInput):
            self.replies.hurry()  # a new turn: the reply in flight goes out at once
            self._cancel(self._text_task)
            work = self._reply(Turn(msg.id, msg.text, typed=True), None)
            self._text_task = asyncio.create_task(self._guard(msg.id, work))
        else:
            log.info("connection %d: ignoring unknown action %r", self.number, msg.action)

    async def protocol_error(self, message: str, tid: str = "") -> None:
        """Tell the client its message was bad (counted against ``limits.max_errors``)."""
        self.errors += 1
        log.info("connection %d: %s", self.number, message)
        await self._send(GatewayError(tid, message))

    @property
    def too_many_errors(self) -> bool:
        """True when the connection should be closed for misbehaving."""
        return self.errors > self.services.settings.limits.max_errors

    def _audio_start(self, msg: AudioStart) -> None:
        self.replies.hurry()  # the client has moved on: no more waiting on a reply
        old = self._tx
        if old is not None:
            # The user spoke again: the last utterance wins, the old reply is stale.
            self._cancel(old.task)
            self._cancel(self._text_task)
            if not old.closed:
                if old.end_reason is None:
                    old.end_reason = "replaced"
                old.discarded = True
                self._close(old)
        stt = dict(self.stt_options)
        if isinstance(msg.options, dict) and isinstance(msg.options.get("stt"), dict):
            stt.update(msg.options["stt"])
        tx = Transaction(id=msg.id, options=msg.options, last_audio=time.monotonic())
        word = msg.options.get("wake_word") if isinstance(msg.options, dict) else None
        tx.wake_word = word if isinstance(word, str) and word else None
        self._tx = tx
        engines, talk = self.services.stt, self.conversation
        tx.utterance = talk.hear(msg.id, tx.wake_word)
        # When an agent hears the audio itself (Diatheke), the local engine only
        # finds the end of the utterance: no cloud session.
        tx.engine = "pocketsphinx" if tx.utterance else engines.engine_for(stt.get("engine"))
        settings = self.services.settings
        no_speech = stt.get("inactivity_timeout", settings.stt.no_speech_s)
        context = talk.stream_context(
            f"connection {self.number} {msg.id}",
            tx.wake_word,
            endpointing=self.endpointing,
            no_speech_s=no_speech if self.endpointing else None,
            silence_ms=settings.endpointing.silence_ms,
        )
        listener = TransactionListener(tx, self._stt_final, self._stt_failed)
        tx.stream = engines.open(tx.engine, listener, context)

    async def _audio_data(self, msg: AudioData) -> None:
        tx = self._tx
        if tx is None or tx.id != msg.id or tx.closed:
            await self.protocol_error(f"audio_data for {msg.id!r} without audio_start", msg.id)
            return
        tx.last_audio = time.monotonic()
        room = self._cap_bytes - len(tx.audio)
        chunk = msg.audio[: max(0, room)]
        tx.audio += chunk
        if tx.end_reason is not None:
            return  # already ended (e.g. by the engine): kept for the record only
        if tx.utterance is not None:
            tx.utterance.feed(chunk)
        if tx.stream is not None:
            tx.stream.feed(chunk)
        if len(tx.audio) >= self._cap_bytes:
            self._end(tx, "cap")

    def _audio_end(self, msg: AudioEnd) -> None:
        tx = self._tx
        if tx is None or tx.id != msg.id or tx.closed:
            log.debug("connection %d: audio_end for %r ignored", self.number, msg.id)
            return
        tx.device_reason = msg.reason
        if tx.end_reason is None:
            self._end(tx, "client")
        self._close(tx)

    # ------------------------------------------------------------ processing

    def _end(self, tx: Transaction, reason: str) -> None:
        """The gateway ended the utterance: the engine answers for the audio it has."""
        tx.end_reason, tx.endpoint_sample = reason, len(tx.audio) // 2
        log.debug("connection %d: %s ended (%s) at sample %d", self.number, tx.id, reason,
                  tx.endpoint_sample)
        if tx.stream is not None:
            tx.stream.finish()

    def _stt_final(self, tx: Transaction, result: Final) -> None:
        if tx.discarded or tx.task is not None:
            return
        if result.reason is not None and tx.end_reason is None:
            tx.end_reason, tx.endpoint_sample = result.reason, result.sample
            log.debug("connection %d: %s ended (%s) at sample %d", self.number, tx.id,
                      result.reason, result.sample)
        if tx.utterance is not None:
            end = tx.endpoint_sample if tx.endpoint_sample is not None else len(tx.audio) // 2
            self._start(tx, self._hand_off(tx, tx.utterance, bytes(tx.audio[: 2 * end])))
            return
        self._start(tx, self._process(tx, result.transcript))

    def _stt_failed(self, tx: Transaction, message: str) -> None:
        if tx.discarded or tx.task is not None:
            return
        if tx.end_reason is None:
            tx.end_reason, tx.endpoint_sample = "error", len(tx.audio) // 2
        self._start(tx, self._send(GatewayError(tx.id, message)))

    def _start(self, tx: Transaction, work: Awaitable[None]) -> None:
        tx.task = asyncio.create_task(self._guard(tx.id, work))
        tx.task.add_done_callback(lambda _t: self._publish(tx))

    async def _guard(self, turn: str, work: Awaitable[Any]) -> None:
        """Run one turn's work; a failure ends that turn only."""
        try:
            await work
        except asyncio.CancelledError:
            raise
        except ConnectionClosed:
            pass  # the client left; nothing to tell it
        except Exception as exc:  # a skill bug must not take the connection down
            log.exception("connection %d: turn %s failed", self.number, turn)
            try:
                await self._send(GatewayError(turn, f"internal error: {type(exc).__name__}"))
            except ConnectionClosed:
                pass

    async def _hand_off(self, tx: Transaction, utterance: Utterance, pcm: bytes) -> None:
        heard = await utterance.finish(pcm)  # the back end answers the device itself
        if heard is not None:
            tx.transcript, tx.confidence, tx.source = heard.text, heard.confidence, heard.source

    async def _process(self, tx: Transaction, result: Transcript) -> None:
        tx.transcript, tx.confidence, tx.source = result.text, result.confidence, result.source
        log.info(
            "connection %d: %s heard %r (%s %s, %.2f) in %.0f ms for %.1f s",
            self.number,
            tx.id,
            result.text,
            result.engine,
            result.source,
            result.confidence,
            result.cpu_s * 1000,
            result.audio_s,
        )
        if not result.text and tx.device_reason == "no_speech":
            # The device gave up before anyone spoke and has gone back to idle;
            # nothing was heard here either: the transaction ends quietly
            # (docs/protocol.md), not with "Sorry, I didn't hear anything."
            log.info("connection %d: %s: no speech, as the device said: no reply",
                     self.number, tx.id)
            return
        await self._send(SttTranscript(tx.id, result.text, result.confidence, tx.id))
        tts = tx.options.get("tts") if isinstance(tx.options, dict) else None
        turn = Turn(tx.id, result.text, wake_word=tx.wake_word)
        await self._reply(turn, tts if isinstance(tts, dict) else None, tx)

    async def _reply(
        self, turn: Turn, tts: dict[str, Any] | None, tx: Transaction | None = None
    ) -> None:
        """The pipeline answers: the chain's agents, then the spoken reply."""
        voice = {**self.tts_options, **(tts or {})}.get("voice")
        outcome = await self.conversation.reply(
            turn,
            self._send,
            self.replies,
            voice=voice if isinstance(voice, str) else None,
            # The Node form carries prompt on the text message only (as that gateway did).
            prompt_on_audio_end=not self.buffer_form,
        )
        if tx is not None:
            tx.skill = outcome.skill or outcome.agent

    async def _send(self, msg: GatewayMessage) -> None:
        await self._send_raw(msg, self.buffer_form and isinstance(msg, ReplyAudioData))

    # --------------------------------------------------------------- timers

    def deadline(self) -> float:
        """Monotonic time at which :meth:`tick` has something to do."""
        s = self.services.settings.limits
        when = self.last_message + s.idle_timeout_s
        tx = self._tx
        if tx is not None and not tx.closed:
            when = min(when, tx.last_audio + s.transaction_timeout_s)
        return when

    async def tick(self) -> bool:
        """Handle expired timers; True when the connection should close (idle)."""
        s = self.services.settings.limits
        now = time.monotonic()
        tx = self._tx
        if tx is not None and not tx.closed and now >= tx.last_audio + s.transaction_timeout_s:
            if tx.end_reason is None:
                tx.end_reason = "timeout"
                tx.discarded = True
                await self.protocol_error(
                    f"transaction {tx.id!r}: no audio for {s.transaction_timeout_s:g} s; dropped",
                    tx.id,
                )
            self._close(tx)  # ended earlier (the old client's audio_end never came): quietly
        return now >= self.last_message + s.idle_timeout_s

    # ------------------------------------------------------------- teardown

    async def close(self) -> None:
        """The connection is gone: stop work, publish what is left."""
        tx = self._tx
        tasks = [t for t in (self._text_task, tx.task if tx else None) if t is not None]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        await self.replies.close()
        if tx is not None and not tx.closed:
            if tx.end_reason is None:
                tx.end_reason = "closed"
            tx.discarded = True
            self._close(tx)
        if self._closers:  # every engine session ends before the connection is gone
            await asyncio.gather(*self._closers, return_exceptions=True)
        await self.conversation.close()  # Diatheke: DeleteSession / EndSession

    def _close(self, tx: Transaction) -> None:
        tx.closed = True
        if tx.stream is not None:
            closer = asyncio.create_task(tx.stream.aclose(wanted=not tx.discarded))
            self._closers.add(closer)
            closer.add_done_callback(self._closers.discard)
            closer.add_done_callback(lambda _t: self._closed_stream(tx))
        self._publish(tx)

    def _closed_stream(self, tx: Transaction) -> None:
        if tx.task is None:  # the stream ended without an answer the session took
            tx.discarded = True
            self._publish(tx)

    def _publish(self, tx: Transaction) -> None:
        if tx.published or not tx.finished:
            return
        tx.published = True
        if self.services.recorder is not None:
            self.services.recorder.finished(tx.record(self.number))

    @staticmethod
    def _cancel(task: asyncio.Task[None] | None) -> None:
        if task is not None and not task.done():
            task.cancel()
