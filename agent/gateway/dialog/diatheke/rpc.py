"""The gRPC side: one asyncio channel per gateway, the calls by method path.

No ``*_pb2_grpc.py`` is generated: each call is a multicallable made from the
channel with its full method path (``/cobaltspeech.diatheke.Diatheke/NAME``)
and the generated messages' (de)serialisers, which is all a generated stub does.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import grpc.aio

from agent.gateway.dialog.diatheke.pb import diatheke1_pb2 as pb1
from agent.gateway.dialog.diatheke.pb import diatheke2_pb2 as pb2
from agent.gateway.dialog_settings import DiathekeSettings

log = logging.getLogger(__name__)

SERVICE = "cobaltspeech.diatheke.Diatheke"

RECONNECT_OPTIONS = [
    # gRPC reconnects a dropped channel by itself, with jittered exponential
    # backoff; these bound it (its default maximum is 120 s) so a restarted
    # server is found again within a few seconds.
    ("grpc.initial_reconnect_backoff_ms", 500),
    ("grpc.min_reconnect_backoff_ms", 500),
    ("grpc.max_reconnect_backoff_ms", 4000),
    ("grpc.enable_retries", 0),  # the back end decides what to retry (a session, once)
]


class DialogFault(RuntimeError):
    """A turn cannot be answered (told to the device as an ``error``)."""


def open_channel(s: DiathekeSettings) -> grpc.aio.Channel:
    """A channel to ``s.address`` (TLS with the system CAs or ``ca_file`` when ``s.tls``)."""
    if s.tls:
        roots = Path(s.ca_file).read_bytes() if s.ca_file else None
        creds = grpc.ssl_channel_credentials(root_certificates=roots)
        return grpc.aio.secure_channel(s.address, creds, options=RECONNECT_OPTIONS)
    return grpc.aio.insecure_channel(s.address, options=RECONNECT_OPTIONS)


def describe(exc: grpc.aio.AioRpcError) -> str:
    """``UNAVAILABLE: details`` for log lines and device errors."""
    return f"{exc.code().name}: {exc.details() or 'no details'}"


WRITE_RACE = "Internal error from Core"
"""The details gRPC's asyncio client gives a call whose message write failed in Core."""


def _status_now(call: Any) -> tuple[grpc.StatusCode, str] | None:
    """The status code and details the call holds at this moment (``None`` if gRPC hides it)."""
    status = getattr(getattr(call, "_cython_call", None), "_status", None)
    if status is None:
        return None
    code = next((c for c in grpc.StatusCode if c.value[0] == status.code()), None)
    return None if code is None else (code, status.details())


async def stream_unary(method: Any, requests: AsyncIterator[Any], *, timeout: float) -> Any:
    """``await method(requests)``, keeping the server's status when a write races its end.

    When the server ends a client-streaming call (a ``NOT_FOUND`` for an unknown
    session, say) while a message is still being written, grpcio's asyncio
    client records the failed write as INTERNAL "Internal error from Core",
    *over* the status the server sent: measured here in 41 of 300 such calls.
    The gateway must see the server's code (a ``NOT_FOUND`` means: recreate the
    session), so the first status the call got is taken from its done callback
    (which gRPC runs as the status is first set) and raised in place of the
    write's. gRPC keeps that status on a private attribute: if a later grpcio
    hides it, this is the plain call again.
    """
    call = method(requests, timeout=timeout)
    first: list[tuple[grpc.StatusCode, str] | None] = []
    call.add_done_callback(lambda c: first.append(_status_now(c)))
    try:
        return await call
    except grpc.aio.AioRpcError as exc:
        real = first[0] if first else None
        if (exc.code() != grpc.StatusCode.INTERNAL or exc.details() != WRITE_RACE
                or real is None or real[0] in (grpc.StatusCode.OK, grpc.StatusCode.INTERNAL)):
            raise
        log.debug("a write raced the end of the call: the server said %s", real[0].name)
        raise grpc.aio.AioRpcError(real[0], exc.initial_metadata(), exc.trailing_metadata(),
                                   details=real[1],
                                   debug_error_string=exc.debug_error_string()) from exc


def _call(channel: grpc.aio.Channel, kind: str, name: str, req: Any, resp: Any) -> Any:
    make = getattr(channel, kind)
    return make(
        f"/{SERVICE}/{name}",
        request_serializer=req.SerializeToString,
        response_deserializer=resp.FromString,
    )


class Api2:
    """Diatheke 2.x calls on one channel."""

    def __init__(self, ch: grpc.aio.Channel) -> None:
        self.list_models = _call(ch, "unary_unary", "ListModels", pb2.Empty, pb2.ListModelsResponse)
        self.create_session = _call(
            ch, "unary_unary", "CreateSession", pb2.SessionStart, pb2.SessionOutput
        )
        self.delete_session = _call(ch, "unary_unary", "DeleteSession", pb2.TokenData, pb2.Empty)
        self.update_session = _call(
            ch, "unary_unary", "UpdateSession", pb2.SessionInput, pb2.SessionOutput
        )
        self.stream_asr = _call(ch, "stream_unary", "StreamASR", pb2.ASRInput, pb2.ASRResult)
        self.stream_tts = _call(ch, "unary_stream", "StreamTTS", pb2.ReplyAction, pb2.TTSAudio)


class Api1:
    """Diatheke 1.x calls on one channel."""

    def __init__(self, ch: grpc.aio.Channel) -> None:
        self.models = _call(ch, "unary_unary", "Models", pb1.Empty, pb1.ModelsResponse)
        self.new_session = _call(
            ch, "unary_unary", "NewSession", pb1.NewSessionRequest, pb1.SessionID
        )
        self.start_session = _call(ch, "unary_unary", "StartSession", pb1.SessionID, pb1.Empty)
        self.end_session = _call(ch, "unary_unary", "EndSession", pb1.SessionID, pb1.Empty)
        self.events = _call(
            ch, "unary_stream", "SessionEventStream", pb1.SessionID, pb1.DiathekeEvent
        )
        self.replies = _call(
            ch, "unary_stream", "StreamAudioReplies", pb1.SessionID, pb1.AudioReply
        )
        self.command_finished = _call(
            ch, "unary_unary", "CommandFinished", pb1.CommandStatus, pb1.Empty
        )
        self.audio_input = _call(ch, "stream_unary", "StreamAudioInput", pb1.AudioInput, pb1.Empty)
        self.push_text = _call(ch, "unary_unary", "PushText", pb1.PushTextRequest, pb1.Empty)
