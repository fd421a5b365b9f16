"""The gRPC side: one asyncio channel per gateway, the calls by method path.

No ``*_pb2_grpc.py`` is generated: each call is a multicallable made from the
channel with its full method path (``/cobaltspeech.diatheke.Diatheke/NAME``)
and the generated messages' (de)serialisers, which is all a generated stub does.
"""

from __future__ import annotations

import logging
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
