"""The audio gateway protocol, sans I/O: typed messages and their JSON form.

:mod:`agent.link.protocol.messages` holds the message types,
:mod:`agent.link.protocol.codec` turns them into text and back. Everything is
re-exported here: import from ``agent.link.protocol``.

May import: the standard library only. The gateway imports this package, so it
must never import anything else of the project.
"""

from agent.link.protocol.codec import decode_client, decode_gateway, encode
from agent.link.protocol.messages import (
    MAX_MESSAGE_BYTES,
    Announce,
    AudioData,
    AudioEnd,
    AudioStart,
    Card,
    ClientMessage,
    GatewayError,
    GatewayMessage,
    Location,
    Message,
    Prompt,
    ProtocolError,
    ReplyAudioData,
    ReplyAudioEnd,
    ReplyAudioStart,
    Response,
    SttOptions,
    SttTranscript,
    TextInput,
    TextReply,
    TtsOptions,
    Unknown,
    new_id,
)
from agent.link.protocol.timer import TIMER_EVENTS, TimerCard, timer_card

__all__ = [
    "MAX_MESSAGE_BYTES",
    "Announce",
    "AudioData",
    "AudioEnd",
    "AudioStart",
    "Card",
    "ClientMessage",
    "GatewayError",
    "GatewayMessage",
    "Location",
    "Message",
    "Prompt",
    "ProtocolError",
    "ReplyAudioData",
    "ReplyAudioEnd",
    "ReplyAudioStart",
    "Response",
    "SttOptions",
    "SttTranscript",
    "TextInput",
    "TIMER_EVENTS",
    "TextReply",
    "TimerCard",
    "TtsOptions",
    "Unknown",
    "decode_client",
    "decode_gateway",
    "encode",
    "new_id",
    "timer_card",
]
