"""API 1 (Diatheke 1.x) of the stand-in server in :mod:`diatheke_standin`.

Events go to the session's ``SessionEventStream`` and reply audio to its
``StreamAudioReplies`` (text, data..., end, by label) as they happen, so a client
must have both streams open before any input, as the vendor's docs say.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import grpc
from diatheke_standin import SCRIPT, _Session1, tone_pcm

from agent.gateway.dialog.diatheke.pb import diatheke1_pb2 as pb

if TYPE_CHECKING:
    from diatheke_standin import StandIn

POLL_S = 0.1
MAX_POLLS = 3000  # a stream lives at most 5 minutes: no thread is left waiting forever


def handlers(si: StandIn) -> dict[str, grpc.RpcMethodHandler]:
    """The method handlers of API 1 for the stand-in ``si``."""

    def session(sid: str, ctx: grpc.ServicerContext) -> _Session1:
        s = si._sessions.get(sid)
        if s is None:
            ctx.abort(grpc.StatusCode.NOT_FOUND, f"session {sid!r} not found")
        return s

    def say(s: _Session1, text: str, label: str) -> None:
        s.events.put(pb.DiathekeEvent(reply=pb.ReplyEvent(text=text, label=label)))
        s.replies.put(pb.AudioReply(label=label, text=text))
        pcm, step = tone_pcm(si.tts_rate), si.tts_rate // 10 * 2
        for i in range(0, len(pcm), step):
            s.replies.put(pb.AudioReply(label=label, data=pcm[i : i + step]))
        s.replies.put(pb.AudioReply(label=label, end=pb.Empty()))

    def heard(s: _Session1, text: str) -> None:
        with si.cond:
            si.log.texts.append(text)
        replies, command, wake = s.dialog.on_text(text)
        s.events.put(pb.DiathekeEvent(recognize=pb.RecognizeEvent(text=text, valid_input=True)))
        for i, r in enumerate(replies):
            say(s, r, f"reply{i}")
        if command is not None:
            s.pending_command = f"state-{si._new_id()}"
            s.events.put(pb.DiathekeEvent(command=pb.CommandEvent(
                command_id=command[0], parameters=command[1],
                command_state_id=s.pending_command)))
        elif wake:
            s.events.put(pb.DiathekeEvent(at_start=pb.AtStartEvent()))
        else:
            s.events.put(pb.DiathekeEvent(input_required=pb.InputRequiredEvent()))

    def models(req: pb.Empty, ctx: grpc.ServicerContext) -> pb.ModelsResponse:
        si._note("Models")
        return pb.ModelsResponse(models=si.models)

    def new_session(req: pb.NewSessionRequest, ctx: grpc.ServicerContext) -> pb.SessionID:
        si._note("NewSession")
        if req.model not in si.models:
            ctx.abort(grpc.StatusCode.NOT_FOUND, f"model {req.model!r} not found")
        sid = si._new_id()
        with si.cond:
            si._sessions[sid] = _Session1()
            si.log.created.append(sid)
        return pb.SessionID(session_id=sid)

    def start_session(req: pb.SessionID, ctx: grpc.ServicerContext) -> pb.Empty:
        si._note("StartSession")
        # The model starts waiting for input: an event no turn asked for.
        session(req.session_id, ctx).events.put(
            pb.DiathekeEvent(input_required=pb.InputRequiredEvent()))
        return pb.Empty()

    def end_session(req: pb.SessionID, ctx: grpc.ServicerContext) -> pb.Empty:
        s = session(req.session_id, ctx)
        with si.cond:
            si._sessions.pop(req.session_id, None)
            si.log.deleted.append(req.session_id)
        s.events.put(None)
        s.replies.put(None)
        si._note("EndSession")
        return pb.Empty()

    def drain(q: Any, ctx: grpc.ServicerContext) -> Iterator[Any]:
        for _ in range(MAX_POLLS):
            if not ctx.is_active():
                return
            try:
                item = q.get(timeout=POLL_S)
            except Exception:  # queue.Empty
                continue
            if item is None:
                return  # EndSession: the stream ends with OK
            if isinstance(item, grpc.StatusCode):
                ctx.abort(item, "session lost")
            yield item

    def events(req: pb.SessionID, ctx: grpc.ServicerContext) -> Iterator[pb.DiathekeEvent]:
        si._note("SessionEventStream")
        yield from drain(session(req.session_id, ctx).events, ctx)

    def replies(req: pb.SessionID, ctx: grpc.ServicerContext) -> Iterator[pb.AudioReply]:
        si._note("StreamAudioReplies")
        yield from drain(session(req.session_id, ctx).replies, ctx)

    def command_finished(req: pb.CommandStatus, ctx: grpc.ServicerContext) -> pb.Empty:
        si._note("CommandFinished")
        s = session(req.session_id, ctx)
        if req.command_state_id != s.pending_command:
            ctx.abort(grpc.StatusCode.INVALID_ARGUMENT, "unknown command_state_id")
        with si.cond:
            si.log.command_results.append(req)
        s.pending_command = None
        texts, wake = s.dialog.on_command(req.command_id)
        for i, r in enumerate(texts):
            say(s, r, f"done{i}")
        s.events.put(pb.DiathekeEvent(at_start=pb.AtStartEvent()) if wake
                     else pb.DiathekeEvent(input_required=pb.InputRequiredEvent()))
        return pb.Empty()

    def audio_input(requests: Iterator[pb.AudioInput], ctx: grpc.ServicerContext) -> pb.Empty:
        si._note("StreamAudioInput")
        s = session(next(requests).session_id, ctx)
        received = 0
        for r in requests:  # until the client finishes the stream
            received += len(r.data)
            if si.fail_next_stream and received:
                si.fail_next_stream = False
                ctx.abort(grpc.StatusCode.UNAVAILABLE, "the ASR engine went away")
        with si.cond:
            si.log.audio_bytes.append(received)
        heard(s, SCRIPT.get(s.dialog.state, "hello"))
        return pb.Empty()

    def push_text(req: pb.PushTextRequest, ctx: grpc.ServicerContext) -> pb.Empty:
        si._note("PushText")
        heard(session(req.session_id, ctx), req.text)
        return pb.Empty()

    def h(kind: Any, fn: Any, req: Any, resp: Any) -> grpc.RpcMethodHandler:
        return kind(fn, request_deserializer=req.FromString,
                    response_serializer=resp.SerializeToString)

    u, su, us = (grpc.unary_unary_rpc_method_handler, grpc.stream_unary_rpc_method_handler,
                 grpc.unary_stream_rpc_method_handler)
    return {
        "Models": h(u, models, pb.Empty, pb.ModelsResponse),
        "NewSession": h(u, new_session, pb.NewSessionRequest, pb.SessionID),
        "StartSession": h(u, start_session, pb.SessionID, pb.Empty),
        "EndSession": h(u, end_session, pb.SessionID, pb.Empty),
        "SessionEventStream": h(us, events, pb.SessionID, pb.DiathekeEvent),
        "StreamAudioReplies": h(us, replies, pb.SessionID, pb.AudioReply),
        "CommandFinished": h(u, command_finished, pb.CommandStatus, pb.Empty),
        "StreamAudioInput": h(su, audio_input, pb.AudioInput, pb.Empty),
        "PushText": h(u, push_text, pb.PushTextRequest, pb.Empty),
    }
