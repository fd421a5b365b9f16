"""Diatheke 1.x, the "Audio Input" flow: one session id per device connection.

``NewSession{model}``, then ``SessionEventStream`` and ``StreamAudioReplies`` are
read for the session's life (opened before any input: events are emitted as
they happen), then ``StartSession`` (later 1.x servers; UNIMPLEMENTED is fine).
A transaction is one ``StreamAudioInput`` (the session id first, then the
audio), finished at the device's ``audio_end`` or the gateway's endpoint.
Events of the turn: ``RecognizeEvent`` -> ``stt_transcript``; ``ReplyEvent`` ->
``response``/``text`` with the reply's audio (text, data..., end, matched by
label); ``CommandEvent`` -> a card and ``CommandFinished``. The turn ends at
``InputRequiredEvent`` (``prompt: true``: the model asked and waits) or
``AtStartEvent`` (``prompt: false``). Typed text goes as ``PushText``.
``EndSession`` at disconnect.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import grpc
import grpc.aio

from agent.gateway.dialog.backend import Heard, Outbox
from agent.gateway.dialog.diatheke.pb import diatheke1_pb2 as pb
from agent.gateway.dialog.diatheke.reply import Resampler, TurnReply, command_card, speech_data
from agent.gateway.dialog.diatheke.rpc import Api1, DialogFault, describe, stream_unary
from agent.gateway.dialog.diatheke.stream import LostSession, Turn, is_lost_session
from agent.gateway.dialog_settings import DiathekeSettings
from agent.link.protocol import Response, SttTranscript, TextReply

log = logging.getLogger(__name__)

MAX_EVENTS = 64
"""Events in one turn before it is given up (a model that loops)."""


class _Lost:
    """Put in the queues when a session stream ends: that session is gone."""

    def __init__(self, why: str, code: grpc.StatusCode | None) -> None:
        self.why, self.code = why, code


class _Session:
    """One Diatheke 1 session: its id and the two streams read for its life."""

    def __init__(self, sid: str) -> None:
        self.sid = sid
        self.events: asyncio.Queue[pb.DiathekeEvent | _Lost] = asyncio.Queue()
        self.replies: asyncio.Queue[pb.AudioReply | _Lost] = asyncio.Queue()
        self.tasks: list[asyncio.Task[None]] = []
        self.lost = False


class Api1Connection:
    """The Diatheke 1 session of one device connection."""

    def __init__(self, api: Api1, s: DiathekeSettings, out: Outbox, max_stream_s: float,
                 tts_rate: int = 16000) -> None:
        self.api, self.s, self.out = api, s, out
        self.max_stream_s = max_stream_s
        self.tts_rate = tts_rate  # 1.x does not say; the server's configuration (16 kHz demos)
        self.session: _Session | None = None
        self._lock = asyncio.Lock()  # one turn's events at a time
        self._turn: Turn | None = None

    # ------------------------------------------------------------- session

    async def _model(self) -> str:
        listed = await self.api.models(pb.Empty(), timeout=self.s.timeout_s, wait_for_ready=True)
        models = list(listed.models)
        if self.s.model is None:
            if not models:
                raise DialogFault("the Diatheke server lists no models")
            return models[0]
        if self.s.model not in models:
            names = ", ".join(models) or "none"
            raise DialogFault(f"unknown Diatheke model {self.s.model!r} (the server has: {names})")
        return self.s.model

    async def _session(self) -> _Session:
        if self.session is not None and not self.session.lost:
            return self.session
        if self.session is not None:
            await self._drop(self.session)
        model = await self._model()
        sid = await self.api.new_session(
            pb.NewSessionRequest(model=model), timeout=self.s.timeout_s, wait_for_ready=True
        )
        session = _Session(sid.session_id)
        session.tasks = [
            asyncio.create_task(self._read(self.api.events(sid), session.events, session)),
            asyncio.create_task(self._read(self.api.replies(sid), session.replies, session)),
        ]
        self.session = session
        try:
            await self.api.start_session(sid, timeout=self.s.timeout_s)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.UNIMPLEMENTED:  # early 1.x servers start at once
                raise
        log.info("connection %d: Diatheke 1 session %s (model %s)", self.out.number,
                 session.sid, model)
        return session

    async def _read(self, call: Any, queue: asyncio.Queue[Any], session: _Session) -> None:
        try:
            async for item in call:
                queue.put_nowait(item)
            lost = _Lost("the stream ended", None)
        except asyncio.CancelledError:
            call.cancel()
            raise
        except grpc.aio.AioRpcError as exc:
            lost = _Lost(describe(exc), exc.code())
        session.lost = True
        queue.put_nowait(lost)

    async def _drop(self, session: _Session) -> None:
        for t in session.tasks:
            t.cancel()
        await asyncio.gather(*session.tasks, return_exceptions=True)

    # --------------------------------------------------------------- turns

    def begin(self, tid: str) -> Turn:
        """A transaction: ``StreamAudioInput`` at once, or the gateway's STT at the end."""
        if self._turn is not None:
            self._turn.cancel()  # the last utterance wins
        stream = self.s.speech == "diatheke"
        self._turn = Turn(self.out, tid, self._audio_turn if stream else self._gateway_turn,
                          stream=stream, address=self.s.address)
        return self._turn

    async def text(self, tid: str, text: str) -> None:
        """Typed text goes as ``PushText``."""
        async def work(turn: Turn) -> Heard | None:
            await self._push(tid, text)
            return None

        await Turn(self.out, tid, work, stream=True, address=self.s.address).finish(b"")

    async def _push(self, tid: str, text: str) -> None:
        for attempt in (1, 2):
            session = await self._session()
            try:
                async with self._lock:
                    self._stale(session)
                    await self.api.push_text(pb.PushTextRequest(session_id=session.sid, text=text),
                                             timeout=self.s.timeout_s)
                    await self._events(tid, session, spoken=False)
                return
            except Exception as exc:
                if attempt == 1 and is_lost_session(exc):
                    session.lost = True
                    continue
                raise

    async def _audio(self, sid: str, turn: Turn) -> AsyncIterator[pb.AudioInput]:
        yield pb.AudioInput(session_id=sid)
        async for chunk in turn.audio.replay():
            yield pb.AudioInput(data=chunk)

    async def _audio_turn(self, turn: Turn) -> Heard | None:
        for attempt in (1, 2):
            session = await self._session()
            try:
                async with self._lock:
                    self._stale(session)
                    sending = asyncio.ensure_future(
                        stream_unary(self.api.audio_input, self._audio(session.sid, turn),
                                     timeout=self.max_stream_s)
                    )
                    try:
                        return await self._events(turn.tid, session, spoken=True, sending=sending)
                    finally:
                        turn.audio.close()
                        await asyncio.gather(sending, return_exceptions=True)
            except Exception as exc:
                if attempt == 1 and is_lost_session(exc):
                    log.info("connection %d: session %s expired; recreating it",
                             self.out.number, session.sid)
                    session.lost = True
                    continue  # the audio so far is replayed to the new session
                raise
        raise AssertionError("unreachable")

    async def _gateway_turn(self, turn: Turn) -> Heard | None:
        heard = await self.out.transcribe(turn.pcm)
        await self.out.send(SttTranscript(turn.tid, heard.text, heard.confidence, turn.tid))
        await self._push(turn.tid, heard.text)
        return Heard(heard.text, heard.confidence, heard.source)

    def _stale(self, session: _Session) -> None:
        """Events left from before this turn (e.g. the start's InputRequired) are not its own."""
        while not session.events.empty():
            item = session.events.get_nowait()
            if isinstance(item, _Lost):
                session.events.put_nowait(item)
                return
            log.debug("connection %d: stale event %s", self.out.number, item.WhichOneof("result"))

    async def _next(self, queue: asyncio.Queue[Any], sending: asyncio.Task[Any] | None) -> Any:
        """The next item, or the audio stream's failure, within ``timeout_s``."""
        get = asyncio.ensure_future(queue.get())
        waiting: set[asyncio.Future[Any]] = {get}
        if sending is not None and not sending.done():
            waiting.add(sending)
        done, _ = await asyncio.wait(waiting, timeout=self.s.timeout_s,
                                     return_when=asyncio.FIRST_COMPLETED)
        if get in done:
            return get.result()
        get.cancel()
        if sending is not None and sending in done and sending.exception() is not None:
            raise sending.exception()  # type: ignore[misc]
        if sending is not None and sending in done:
            return await self._next(queue, None)  # audio sent in full: now wait for events
        raise DialogFault(f"no answer from Diatheke within {self.s.timeout_s:g} s")

    async def _events(self, tid: str, session: _Session, *, spoken: bool,
                      sending: asyncio.Task[Any] | None = None) -> Heard | None:
        reply = TurnReply(self.out, self.tts_rate)
        heard: Heard | None = None
        started = False  # events before this input's RecognizeEvent are not its own
        for _ in range(MAX_EVENTS):
            ev = await self._next(session.events, sending)
            if isinstance(ev, _Lost):
                raise _fault(ev)
            kind = ev.WhichOneof("result")
            if kind == "recognize":
                started = True
                if spoken:
                    heard = Heard(ev.recognize.text, 1.0 if ev.recognize.valid_input else 0.0,
                                  "diatheke")
                    await self.out.send(SttTranscript(tid, ev.recognize.text, heard.confidence,
                                                      tid))
                    turn = self._turn
                    if turn is not None:
                        turn.audio.close()  # recognised: the rest of the audio is not needed
            elif kind == "reply":
                await self.out.send(Response(tid, speech_data(ev.reply.text)))
                await self.out.send(TextReply(tid, ev.reply.text))
                await self._reply_audio(session, ev.reply.label, reply, sending)
            elif kind == "command":
                cmd = ev.command
                await self.out.send(Response(tid, command_card(cmd.command_id, cmd.parameters)))
                await self.api.command_finished(
                    pb.CommandStatus(session_id=session.sid, command_id=cmd.command_id,
                                     return_status=pb.CommandStatus.SUCCESS,
                                     command_state_id=cmd.command_state_id),
                    timeout=self.s.timeout_s,
                )
            elif kind in ("input_required", "at_start") and started:
                await reply.end(kind == "input_required")
                return heard
        raise DialogFault(f"more than {MAX_EVENTS} events in one turn")

    async def _reply_audio(self, session: _Session, label: str, reply: TurnReply,
                           sending: asyncio.Task[Any] | None) -> None:
        conv = Resampler(self.tts_rate)
        for _ in range(100_000):  # bounded: about three hours of 100 ms chunks
            item = await self._next(session.replies, sending)
            if isinstance(item, _Lost):
                raise _fault(item)
            if item.label != label:
                log.debug("connection %d: audio of reply %r skipped", self.out.number, item.label)
                continue
            part = item.WhichOneof("output_message")
            if part == "data":
                await reply.feed(item.data, conv)
            elif part == "end":
                await reply.done(conv)
                return

    async def close(self) -> None:
        """The device left: ``EndSession``."""
        if self._turn is not None:
            self._turn.cancel()
        session, self.session = self.session, None
        if session is None:
            return
        try:
            await self.api.end_session(pb.SessionID(session_id=session.sid),
                                       timeout=self.s.timeout_s)
            log.info("connection %d: Diatheke 1 session %s ended", self.out.number, session.sid)
        except Exception as exc:  # the server may be gone
            log.info("connection %d: EndSession failed: %s", self.out.number, exc)
        await self._drop(session)


def _fault(lost: _Lost) -> Exception:
    if lost.code == grpc.StatusCode.NOT_FOUND:
        return LostSession(lost.why)
    return DialogFault(f"the Diatheke session stream ended ({lost.why})")
