"""A stand-in Cobalt Diatheke server for the tests: both APIs over real loopback gRPC.

Written from Cobalt's published API (the same messages as the gateway's own
``.proto`` files, served by method path with grpcio's generic handlers), with
one scripted dialog, a kitchen timer::

    user: "set a timer"      -> reply "For how long?", wait for the user, no wake word
    user: "five minutes"     -> command set_timer {duration: 300}
    (command result)         -> reply "Okay, a timer for five minutes.", wait with wake word

It cannot recognise speech: its "ASR" answers the next line of the script for
the session's state once it has had audio (and records how much). Faults are
switched on by the tests: ``fail_next_stream`` (UNAVAILABLE in the middle of
an audio stream), :meth:`forget_sessions` (the server restarted: NOT_FOUND),
:meth:`stop` / :meth:`start` (down, and back on the same port).
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
import numpy as np

from agent.gateway.dialog.diatheke.pb import diatheke2_pb2 as pb2

SERVICE = "cobaltspeech.diatheke.Diatheke"
ASK, CONFIRM, SORRY = "For how long?", "Okay, a timer for five minutes.", "Sorry, I only do timers."
SCRIPT = {"start": "set a timer", "duration": "five minutes"}
"""What the stand-in's "ASR" hears in each dialog state."""
REPLY_S = 0.6
"""Seconds of reply audio per reply (a tone)."""


def tone_pcm(rate: int, seconds: float = REPLY_S) -> bytes:
    """A 440 Hz tone at ``rate``: the stand-in's synthesised speech."""
    t = np.arange(int(rate * seconds)) / rate
    return (np.sin(2 * np.pi * 440 * t) * 8000).astype("<i2").tobytes()


@dataclass
class Dialog:
    """The timer script; ``step(text)`` -> (replies, command or None, wait_wake_word)."""

    state: str = "start"
    token: bytes = b""
    """The latest token data handed out (API 2): only that one is accepted."""

    def on_text(self, text: str) -> tuple[list[str], tuple[str, dict[str, str]] | None, bool]:
        if self.state == "start" and "timer" in text:
            self.state = "duration"
            return [ASK], None, False
        if self.state == "duration":
            self.state = "command"
            return [], ("set_timer", {"duration": "300"}), False
        return [SORRY], None, True

    def on_command(self, command: str) -> tuple[list[str], bool]:
        assert self.state == "command", self.state
        self.state = "start"
        return [CONFIRM], True


@dataclass
class Log:
    """What the stand-in was asked, for the tests' asserts."""

    calls: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    command_results: list[Any] = field(default_factory=list)
    audio_bytes: list[int] = field(default_factory=list)
    """Audio received per finished audio stream."""
    stale_tokens: int = 0


class StandIn:
    """Serves API ``api`` (1 or 2) on 127.0.0.1; use as a context manager."""

    def __init__(self, api: int = 2, *, models: tuple[str, ...] = ("timer",),
                 tts_rate: int = 8000, port: int = 0) -> None:
        self.api = api
        self.models = list(models)
        self.tts_rate = tts_rate
        self.port = port
        self.log = Log()
        self.fail_next_stream = False
        self.cond = threading.Condition()
        self._sessions: dict[str, Any] = {}
        self._ids = iter(range(1, 1_000_000))
        self._server: grpc.Server | None = None

    # ------------------------------------------------------------ running

    def start(self) -> StandIn:
        handlers = self._api2() if self.api == 2 else self._api1()
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
        self.port = server.add_insecure_port(f"127.0.0.1:{self.port}")
        server.start()
        self._server = server
        return self

    def stop(self) -> None:
        """Down: every open stream ends (UNAVAILABLE at the client); sessions are lost."""
        if self._server is not None:
            self.forget_sessions(code=grpc.StatusCode.UNAVAILABLE)
            self._server.stop(grace=0).wait(10)
            self._server = None

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def wait_for(self, predicate: Callable[[Log], bool], timeout: float = 30.0) -> bool:
        """Block until ``predicate(self.log)`` holds (notified on every call)."""
        with self.cond:
            return self.cond.wait_for(lambda: predicate(self.log), timeout)

    def _note(self, call: str) -> None:
        with self.cond:
            self.log.calls.append(call)
            self.cond.notify_all()

    def forget_sessions(self, code: grpc.StatusCode = grpc.StatusCode.NOT_FOUND) -> None:
        """As after a restart: every session is unknown from now on."""
        with self.cond:
            for s in self._sessions.values():
                if isinstance(s, _Session1):
                    s.events.put(code)
                    s.replies.put(code)
            self._sessions.clear()
            self.cond.notify_all()

    def _new_id(self) -> str:
        return f"s{next(self._ids)}"

    # -------------------------------------------------------------- API 2

    def _api2(self) -> dict[str, grpc.RpcMethodHandler]:
        u, su, us = (grpc.unary_unary_rpc_method_handler, grpc.stream_unary_rpc_method_handler,
                     grpc.unary_stream_rpc_method_handler)

        def h(kind: Any, fn: Any, req: Any, resp: Any) -> grpc.RpcMethodHandler:
            return kind(fn, request_deserializer=req.FromString,
                        response_serializer=resp.SerializeToString)

        return {
            "ListModels": h(u, self._list_models, pb2.Empty, pb2.ListModelsResponse),
            "CreateSession": h(u, self._create, pb2.SessionStart, pb2.SessionOutput),
            "DeleteSession": h(u, self._delete, pb2.TokenData, pb2.Empty),
            "UpdateSession": h(u, self._update, pb2.SessionInput, pb2.SessionOutput),
            "StreamASR": h(su, self._asr, pb2.ASRInput, pb2.ASRResult),
            "StreamTTS": h(us, self._tts, pb2.ReplyAction, pb2.TTSAudio),
        }

    def _list_models(self, req: pb2.Empty, ctx: grpc.ServicerContext) -> pb2.ListModelsResponse:
        self._note("ListModels")
        return pb2.ListModelsResponse(models=[
            pb2.ModelInfo(id=m, name=m.title(), language="en_US", asr_sample_rate=16000,
                          tts_sample_rate=self.tts_rate) for m in self.models
        ])

    def _output(self, sid: str, replies: list[str], command: Any, wake: bool) -> pb2.SessionOutput:
        dialog: Dialog = self._sessions[sid]
        # The state travels in the token, as a real server's does; a new token every time.
        data = json.dumps({"state": dialog.state, "n": next(self._ids)}).encode()
        dialog.token = data
        actions = [pb2.ActionData(reply=pb2.ReplyAction(text=t)) for t in replies]
        if command is not None:
            actions.append(pb2.ActionData(command=pb2.CommandAction(
                id=command[0], input_parameters=command[1])))
        else:
            actions.append(pb2.ActionData(input=pb2.WaitForUserAction(requires_wake_word=wake,
                                                                      immediate=not wake)))
        return pb2.SessionOutput(token=pb2.TokenData(id=sid, data=data), action_list=actions)

    def _create(self, req: pb2.SessionStart, ctx: grpc.ServicerContext) -> pb2.SessionOutput:
        self._note("CreateSession")
        if req.model_id not in self.models:
            ctx.abort(grpc.StatusCode.NOT_FOUND, f"model {req.model_id!r} not found")
        sid = self._new_id()
        with self.cond:
            self._sessions[sid] = Dialog()
            self.log.created.append(sid)
        return self._output(sid, [], None, True)

    def _dialog(self, token: pb2.TokenData, ctx: grpc.ServicerContext) -> Dialog:
        dialog = self._sessions.get(token.id)
        if dialog is None:
            ctx.abort(grpc.StatusCode.NOT_FOUND, f"session {token.id!r} not found")
        if token.data != dialog.token:
            self.log.stale_tokens += 1
            ctx.abort(grpc.StatusCode.FAILED_PRECONDITION, "stale session token")
        return dialog

    def _delete(self, req: pb2.TokenData, ctx: grpc.ServicerContext) -> pb2.Empty:
        with self.cond:
            self._sessions.pop(req.id, None)
            self.log.deleted.append(req.id)
        self._note("DeleteSession")
        return pb2.Empty()

    def _update(self, req: pb2.SessionInput, ctx: grpc.ServicerContext) -> pb2.SessionOutput:
        self._note("UpdateSession")
        dialog = self._dialog(req.token, ctx)
        kind = req.WhichOneof("input")
        if dialog.state == "command" and kind != "cmd":
            ctx.abort(grpc.StatusCode.FAILED_PRECONDITION, "a CommandResult is owed")
        if kind == "cmd":
            with self.cond:
                self.log.command_results.append(req.cmd)
            replies, wake = dialog.on_command(req.cmd.id)
            return self._output(req.token.id, replies, None, wake)
        text = req.text.text if kind == "text" else req.asr.text
        with self.cond:
            self.log.texts.append(text)
        replies, command, wake = dialog.on_text(text)
        return self._output(req.token.id, replies, command, wake)

    def _asr(self, requests: Iterator[pb2.ASRInput], ctx: grpc.ServicerContext) -> pb2.ASRResult:
        self._note("StreamASR")
        first = next(requests)
        dialog = self._dialog(first.token, ctx)
        received = 0
        for r in requests:  # ends when the client closes its side (the gateway's endpoint)
            received += len(r.audio)
            if self.fail_next_stream and received:
                self.fail_next_stream = False
                ctx.abort(grpc.StatusCode.UNAVAILABLE, "the ASR engine went away")
        with self.cond:
            self.log.audio_bytes.append(received)
        return pb2.ASRResult(text=SCRIPT.get(dialog.state, "hello"), confidence=0.9)

    def _tts(self, req: pb2.ReplyAction, ctx: grpc.ServicerContext) -> Iterator[pb2.TTSAudio]:
        self._note("StreamTTS")
        pcm, step = tone_pcm(self.tts_rate), self.tts_rate // 10 * 2  # 100 ms chunks
        for i in range(0, len(pcm), step):
            yield pb2.TTSAudio(audio=pcm[i : i + step])

    # -------------------------------------------------------------- API 1

    def _api1(self) -> dict[str, grpc.RpcMethodHandler]:
        from diatheke_standin1 import handlers

        return handlers(self)


class _Session1:
    """A Diatheke 1 session: its dialog and the queues its two streams read."""

    def __init__(self) -> None:
        self.dialog = Dialog()
        self.events: queue.Queue[Any] = queue.Queue()
        self.replies: queue.Queue[Any] = queue.Queue()
        self.pending_command: str | None = None
