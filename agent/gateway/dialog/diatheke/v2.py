"""Diatheke 2.x: one token session per device connection.

A transaction streams to ``StreamASR`` (the token first, then the audio as it
arrives); the ``ASRResult`` ends the utterance (``stt_transcript``) and goes back
with ``UpdateSession{asr}``. The returned action list is run in order:
``ReplyAction`` -> ``response``/``text`` and its ``StreamTTS`` audio,
``CommandAction`` -> a command card and a ``CommandResult`` back (whose own
action list then goes on), ``WaitForUserAction`` -> the turn's ``prompt``,
``TranscribeAction`` -> logged as not supported. Every ``SessionOutput``'s token
replaces the previous one. An expired or unknown session (NOT_FOUND) is
recreated once per call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from agent.gateway.dialog.backend import Heard, Outbox
from agent.gateway.dialog.diatheke.pb import diatheke2_pb2 as pb
from agent.gateway.dialog.diatheke.reply import Resampler, TurnReply, command_card, speech_data
from agent.gateway.dialog.diatheke.rpc import Api2, DialogFault, stream_unary
from agent.gateway.dialog.diatheke.stream import Turn, is_lost_session
from agent.gateway.dialog_settings import DiathekeSettings
from agent.link.protocol import Response, SttTranscript, TextReply

log = logging.getLogger(__name__)

MAX_STEPS = 16
"""Command results per turn before the turn is given up (a model that loops)."""


def prompt_after(actions: Sequence[pb.ActionData], i: int) -> bool | None:
    """The prompt a reply at ``i`` carries: the wait that follows it in this list, if any."""
    for action in actions[i + 1 :]:
        kind = action.WhichOneof("action")
        if kind == "input":
            return not action.input.requires_wake_word
        if kind == "command":
            return None  # the dialog goes on after the command: not known yet
    return None


class Api2Connection:
    """The Diatheke 2 session of one device connection."""

    def __init__(self, api: Api2, s: DiathekeSettings, out: Outbox, max_stream_s: float) -> None:
        self.api, self.s, self.out = api, s, out
        self.max_stream_s = max_stream_s
        self.token: pb.TokenData | None = None
        self.model: pb.ModelInfo | None = None
        self._lock = asyncio.Lock()  # one UpdateSession at a time: each needs the last token
        self._turn: Turn | None = None
        self.deleted = 0

    # ------------------------------------------------------------- session

    async def _pick_model(self) -> pb.ModelInfo:
        listed = await self.api.list_models(
            pb.Empty(), timeout=self.s.timeout_s, wait_for_ready=True
        )
        models = list(listed.models)
        if self.s.model is None:
            if not models:
                raise DialogFault("the Diatheke server lists no models")
            return models[0]
        for m in models:
            if m.id == self.s.model:
                return m
        names = ", ".join(m.id for m in models) or "none"
        raise DialogFault(f"unknown Diatheke model {self.s.model!r} (the server has: {names})")

    async def _session(self) -> pb.TokenData:
        if self.token is None:
            model = await self._pick_model()
            out = await self.api.create_session(
                pb.SessionStart(model_id=model.id), timeout=self.s.timeout_s, wait_for_ready=True
            )
            self.model, self.token = model, out.token
            log.info("connection %d: Diatheke session %s (model %s)", self.out.number,
                     out.token.id, model.id)
            await self._run_actions(None, out)  # a command at the start still needs its result
        return self.token

    async def _update(self, **given: Any) -> pb.SessionOutput:
        for attempt in (1, 2):
            token = await self._session()
            try:
                out = await self.api.update_session(
                    pb.SessionInput(token=token, **given), timeout=self.s.timeout_s
                )
            except Exception as exc:
                if attempt == 1 and is_lost_session(exc):
                    log.info("connection %d: session %s expired; recreating it",
                             self.out.number, token.id)
                    self.token = None
                    continue
                raise
            self.token = out.token
            return out
        raise AssertionError("unreachable")

    # --------------------------------------------------------------- turns

    def begin(self, tid: str) -> Turn:
        """A transaction: Diatheke's ASR streams at once; the gateway's STT at the end."""
        if self._turn is not None:
            self._turn.cancel()  # the last utterance wins
        stream = self.s.speech == "diatheke"
        self._turn = Turn(self.out, tid, self._asr_turn if stream else self._gateway_turn,
                          stream=stream, address=self.s.address)
        return self._turn

    async def text(self, tid: str, text: str) -> None:
        """Typed text goes as ``TextInput``."""
        async def work(turn: Turn) -> Heard | None:
            async with self._lock:
                out = await self._update(text=pb.TextInput(text=text))
                await self._run_actions(tid, out)
            return None

        await Turn(self.out, tid, work, stream=True, address=self.s.address).finish(b"")

    async def _asr_requests(self, token: pb.TokenData, turn: Turn) -> AsyncIterator[pb.ASRInput]:
        yield pb.ASRInput(token=token)
        assert self.model is not None
        conv = Resampler(16000, self.model.asr_sample_rate or 16000)
        async for chunk in turn.audio.replay():
            yield pb.ASRInput(audio=conv.convert(chunk))
        tail = conv.convert(b"", last=True)
        if tail:
            yield pb.ASRInput(audio=tail)

    async def _asr_turn(self, turn: Turn) -> Heard | None:
        for attempt in (1, 2):
            token = await self._session()
            try:
                result = await stream_unary(
                    self.api.stream_asr, self._asr_requests(token, turn), timeout=self.max_stream_s
                )
                break
            except Exception as exc:
                if attempt == 1 and is_lost_session(exc):
                    log.info("connection %d: session %s expired; recreating it",
                             self.out.number, token.id)
                    self.token = None
                    continue  # the audio so far is replayed to the new session
                raise
        log.info("connection %d: %s: Diatheke heard %r (%.2f%s)", self.out.number, turn.tid,
                 result.text, result.confidence, ", timed out" if result.timedOut else "")
        await self.out.send(SttTranscript(turn.tid, result.text, result.confidence, turn.tid))
        async with self._lock:
            out = await self._update(asr=result)
            await self._run_actions(turn.tid, out)
        return Heard(result.text, result.confidence, "diatheke")

    async def _gateway_turn(self, turn: Turn) -> Heard | None:
        heard = await self.out.transcribe(turn.pcm)
        await self.out.send(SttTranscript(turn.tid, heard.text, heard.confidence, turn.tid))
        async with self._lock:
            out = await self._update(text=pb.TextInput(text=heard.text))
            await self._run_actions(turn.tid, out)
        return Heard(heard.text, heard.confidence, heard.source)

    async def _run_actions(self, tid: str | None, out: pb.SessionOutput) -> None:
        """Run an action list (and those after each command); ``tid`` None: session start."""
        assert self.model is not None
        reply = TurnReply(self.out, self.model.tts_sample_rate)
        prompt = False
        for _ in range(MAX_STEPS):
            actions, nxt = list(out.action_list), None
            for i, action in enumerate(actions):
                kind = action.WhichOneof("action")
                if kind == "reply" and tid is not None:
                    await self._reply(tid, action.reply, prompt_after(actions, i), reply)
                elif kind == "reply":
                    log.info("connection %d: not spoken at session start: %r",
                             self.out.number, action.reply.text)
                elif kind == "command":
                    cmd = action.command
                    log.info("connection %d: command %s %s", self.out.number, cmd.id,
                             dict(cmd.input_parameters))
                    if tid is not None:
                        await self.out.send(Response(tid, command_card(cmd.id,
                                                                       cmd.input_parameters)))
                    # The device runs cards and returns nothing: report success, no outputs.
                    nxt = await self._update(cmd=pb.CommandResult(id=cmd.id))
                    break
                elif kind == "input":
                    prompt = not action.input.requires_wake_word
                elif kind == "transcribe":
                    log.warning("connection %d: TranscribeAction %s is not supported",
                                self.out.number, action.transcribe.id)
            if nxt is None:
                break
            out = nxt
        else:
            raise DialogFault(f"more than {MAX_STEPS} commands in one turn")
        if tid is not None:
            await reply.end(prompt)

    async def _reply(self, tid: str, action: pb.ReplyAction, prompt: bool | None,
                     reply: TurnReply) -> None:
        await self.out.send(Response(tid, speech_data(action.text)))
        await self.out.send(TextReply(tid, action.text, prompt=prompt))
        if not self.model or not self.model.tts_sample_rate:
            return  # the model has no TTS: text only
        conv = Resampler(self.model.tts_sample_rate)
        async for audio in self.api.stream_tts(action, timeout=self.max_stream_s):
            await reply.feed(audio.audio, conv)
        await reply.done(conv)

    async def close(self) -> None:
        """The device left: ``DeleteSession``."""
        if self._turn is not None:
            self._turn.cancel()
        token, self.token = self.token, None
        if token is not None:
            try:
                await self.api.delete_session(token, timeout=self.s.timeout_s)
                self.deleted += 1
                log.info("connection %d: Diatheke session %s deleted", self.out.number, token.id)
            except Exception as exc:  # the server may be gone: nothing left to delete
                log.info("connection %d: DeleteSession failed: %s", self.out.number, exc)
