"""The audio gateway protocol, sans-I/O.

Turns WebSocket text frames into typed messages and back, in both directions,
and nothing else: no sockets, no threads, no clocks (like h11 and wsproto).
``docs`` for the wire format: ``shared/docs/gateway-protocol.md``.

Strict in what we send, tolerant in what we accept: every "accept both forms"
rule of the protocol is handled here, so the rest of the code sees one form:

* reply audio as base64 text or as a Node ``{"type": "Buffer", "data": [...]}``;
* ``prompt`` on ``text`` or on ``audio_end``, a boolean or an object of STT
  options (kept as given: ``bool | dict``);
* ``error`` as an object with ``message`` or as a plain string;
* speech text from ``data.speech.text`` or ``data.say``;
* ``text`` or ``speech`` as the field of a text reply.

Anything malformed (bad JSON, wrong types, a frame over the size cap) raises
:class:`ProtocolError` and nothing else; unknown actions decode to
:class:`Unknown` so that callers can log and ignore them.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

MAX_MESSAGE_BYTES = 4 * 1024 * 1024
"""Default cap on one frame; larger frames are refused before parsing."""

Prompt: TypeAlias = bool | dict[str, Any]
"""``True``/``False``, or an object of STT options for the next ``audio_start``."""


class ProtocolError(ValueError):
    """A frame that is not a valid protocol message (the only error raised here)."""


def new_id() -> str:
    """A fresh transaction id: a UUID4 string."""
    return str(uuid.uuid4())


# --------------------------------------------------------------------------
# Client -> gateway


@dataclass(frozen=True)
class AudioStart:
    """A new utterance (transaction ``id``) begins; ``options`` may carry stt/tts overrides."""

    id: str
    options: dict[str, Any] | None = None
    action = "audio_start"


@dataclass(frozen=True)
class AudioData:
    """Raw PCM s16le 16 kHz mono of transaction ``id`` (base64 on the wire)."""

    id: str
    audio: bytes
    action = "audio_data"


@dataclass(frozen=True)
class AudioEnd:
    """No more audio for transaction ``id``."""

    id: str
    action = "audio_end"


@dataclass(frozen=True)
class SttOptions:
    """Session-wide speech-to-text settings."""

    id: str
    options: dict[str, Any]
    action = "stt_options"


@dataclass(frozen=True)
class TtsOptions:
    """Session-wide text-to-speech settings (``audio``: optional URL form)."""

    id: str
    options: dict[str, Any]
    audio: str | None = None
    action = "tts_options"


@dataclass(frozen=True)
class TextInput:
    """Typed input instead of speech."""

    id: str
    text: str
    action = "text"


@dataclass(frozen=True)
class Location:
    """Where the device is."""

    id: str
    latitude: float
    longitude: float
    action = "location"


ClientMessage: TypeAlias = (
    AudioStart | AudioData | AudioEnd | SttOptions | TtsOptions | TextInput | Location
)

# --------------------------------------------------------------------------
# Gateway -> client


@dataclass(frozen=True)
class Card:
    """A command card: ``feature`` volume|playback, ``action`` (lower-cased)."""

    feature: str
    action: str


@dataclass(frozen=True)
class SttTranscript:
    """What the gateway heard; the gateway decided the utterance ended."""

    id: str
    transcript: str
    confidence: float | None = None
    transaction_id: str | None = None
    action = "stt_transcript"


@dataclass(frozen=True)
class Response:
    """A skill's reply object; see :attr:`speech_text` and :attr:`card`."""

    id: str
    data: dict[str, Any] = field(default_factory=dict)
    action = "response"

    @property
    def speech_text(self) -> str | None:
        """The text to say: ``data.speech.text``, or ``data.say`` from older servers."""
        speech = self.data.get("speech")
        if isinstance(speech, Mapping) and isinstance(speech.get("text"), str):
            return str(speech["text"])
        if isinstance(speech, str):
            return speech
        say = self.data.get("say")
        return say if isinstance(say, str) else None

    @property
    def card(self) -> Card | None:
        """The command card, when ``data.card`` is one (matched case-insensitively)."""
        card = self.data.get("card")
        if not isinstance(card, Mapping) or str(card.get("type", "")).lower() != "command":
            return None
        content = card.get("content")
        if not isinstance(content, Mapping):
            return None
        feature, action = content.get("feature"), content.get("action")
        if not isinstance(feature, str) or not isinstance(action, str):
            return None
        return Card(feature.lower(), action.lower())


@dataclass(frozen=True)
class TextReply:
    """A textual reply; ``prompt`` set means the gateway expects an answer."""

    id: str
    text: str
    voice: str | None = None
    prompt: Prompt | None = None
    action = "text"


@dataclass(frozen=True)
class ReplyAudioStart:
    """Spoken reply audio with reply id ``id`` follows."""

    id: str
    content_type: str | None = None
    action = "audio_start"


@dataclass(frozen=True)
class ReplyAudioData:
    """A chunk of spoken reply audio (PCM, WAV or Ogg bytes)."""

    id: str
    audio: bytes
    action = "audio_data"


@dataclass(frozen=True)
class ReplyAudioEnd:
    """End of the spoken reply ``id``; ``prompt`` as on :class:`TextReply`."""

    id: str
    prompt: Prompt | None = None
    action = "audio_end"


@dataclass(frozen=True)
class GatewayError:
    """Something failed at the gateway."""

    id: str
    message: str
    action = "error"


GatewayMessage: TypeAlias = (
    SttTranscript
    | Response
    | TextReply
    | ReplyAudioStart
    | ReplyAudioData
    | ReplyAudioEnd
    | GatewayError
)


@dataclass(frozen=True)
class Unknown:
    """A well-formed message whose action we do not know: log and ignore it."""

    id: str
    action: str
    fields: dict[str, Any] = field(default_factory=dict)


Message: TypeAlias = ClientMessage | GatewayMessage | Unknown

# --------------------------------------------------------------------------
# Encoding


def encode(msg: Message, *, buffer_form: bool = False) -> str:
    """Serialise ``msg`` to the JSON text of one frame.

    ``buffer_form`` sends audio as a Node ``Buffer`` object instead of base64
    (what a Node.js gateway produces; the reference gateway can do this so the
    device is tested against both forms).
    """
    out: dict[str, Any] = {"id": msg.id, "action": msg.action}
    if isinstance(msg, AudioStart | ReplyAudioStart):
        if isinstance(msg, AudioStart) and msg.options is not None:
            out["options"] = msg.options
        if isinstance(msg, ReplyAudioStart) and msg.content_type is not None:
            out["content_type"] = msg.content_type
    elif isinstance(msg, AudioData | ReplyAudioData):
        if buffer_form:
            out["data"] = {"type": "Buffer", "data": list(msg.audio)}
        else:
            out["encoding"] = "base64"
            out["data"] = base64.b64encode(msg.audio).decode("ascii")
    elif isinstance(msg, SttOptions):
        out["options"] = msg.options
    elif isinstance(msg, TtsOptions):
        out["options"] = msg.options
        if msg.audio is not None:
            out["audio"] = msg.audio
    elif isinstance(msg, TextInput):
        out["text"] = msg.text
    elif isinstance(msg, Location):
        out["location"] = {"latitude": msg.latitude, "longitude": msg.longitude}
    elif isinstance(msg, SttTranscript):
        out["transcript"] = msg.transcript
        if msg.confidence is not None:
            out["confidence"] = msg.confidence
        out["transactionId"] = msg.transaction_id if msg.transaction_id else msg.id
    elif isinstance(msg, Response):
        out["data"] = msg.data
    elif isinstance(msg, TextReply):
        out["text"] = msg.text
        if msg.voice is not None:
            out["voice"] = msg.voice
        if msg.prompt is not None:
            out["prompt"] = msg.prompt
    elif isinstance(msg, ReplyAudioEnd):
        if msg.prompt is not None:
            out["prompt"] = msg.prompt
    elif isinstance(msg, GatewayError):
        out["error"] = {"message": msg.message}
    elif isinstance(msg, Unknown):
        out.update(msg.fields)
        out["id"], out["action"] = msg.id, msg.action
    # AudioEnd carries nothing else.
    return json.dumps(out, separators=(",", ":"), allow_nan=False)


# --------------------------------------------------------------------------
# Decoding


def _load(text: str | bytes, max_bytes: int) -> dict[str, Any]:
    size = len(text) if isinstance(text, bytes) else len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise ProtocolError(f"frame of {size} bytes exceeds the cap of {max_bytes}")
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ProtocolError(f"expected a JSON object, got {type(obj).__name__}")
    return obj


def _id(obj: Mapping[str, Any]) -> str:
    # Tolerant: some gateways omit the id on errors, or send numbers.
    value = obj.get("id", "")
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ProtocolError(f"'id' must be a string, got {type(value).__name__}")
    return str(value)


def _str(obj: Mapping[str, Any], key: str, *, required: bool = True) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise ProtocolError(f"missing '{key}'")
        return None
    if not isinstance(value, str):
        raise ProtocolError(f"'{key}' must be a string, got {type(value).__name__}")
    return value


def _dict(obj: Mapping[str, Any], key: str, *, required: bool = True) -> dict[str, Any] | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise ProtocolError(f"missing '{key}'")
        return None
    if not isinstance(value, dict):
        raise ProtocolError(f"'{key}' must be an object, got {type(value).__name__}")
    return value


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProtocolError(f"'{key}' must be a number, got {type(value).__name__}")
    try:
        number = float(value)
    except OverflowError:
        raise ProtocolError(f"'{key}' is out of range") from None
    if not math.isfinite(number):
        raise ProtocolError(f"'{key}' must be finite")
    return number


def _audio(obj: Mapping[str, Any]) -> bytes:
    data = obj.get("data")
    if isinstance(data, str):
        try:
            return base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise ProtocolError("'data' is not valid base64") from None
    if isinstance(data, dict) and data.get("type") == "Buffer":
        values = data.get("data")
        if not isinstance(values, list):
            raise ProtocolError("Buffer 'data' must be a list of bytes")
        if not all(type(v) is int and 0 <= v <= 255 for v in values):
            raise ProtocolError("Buffer 'data' must hold integers 0..255")
        return bytes(values)
    raise ProtocolError("'data' must be base64 text or a Buffer object")


def _prompt(obj: Mapping[str, Any]) -> Prompt | None:
    value = obj.get("prompt")
    if value is None or isinstance(value, bool | dict):
        return value
    raise ProtocolError(f"'prompt' must be a boolean or an object, got {type(value).__name__}")


def decode_client(
    text: str | bytes, *, max_bytes: int = MAX_MESSAGE_BYTES
) -> ClientMessage | Unknown:
    """Parse one frame sent by a device (the gateway's side of the protocol)."""
    obj = _load(text, max_bytes)
    action = _str(obj, "action")
    mid = _id(obj)
    if action == "audio_start":
        return AudioStart(mid, _dict(obj, "options", required=False))
    if action == "audio_data":
        return AudioData(mid, _audio(obj))
    if action == "audio_end":
        return AudioEnd(mid)
    if action == "stt_options":
        return SttOptions(mid, _dict(obj, "options") or {})
    if action == "tts_options":
        return TtsOptions(mid, _dict(obj, "options") or {}, _str(obj, "audio", required=False))
    if action == "text":
        return TextInput(mid, _str(obj, "text") or "")
    if action == "location":
        loc = _dict(obj, "location") or {}
        lat = _number(loc.get("latitude"), "latitude")
        lon = _number(loc.get("longitude"), "longitude")
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ProtocolError("location out of range")
        return Location(mid, lat, lon)
    return Unknown(mid, str(action), {k: v for k, v in obj.items() if k not in ("id", "action")})


def decode_gateway(
    text: str | bytes, *, max_bytes: int = MAX_MESSAGE_BYTES
) -> GatewayMessage | Unknown:
    """Parse one frame sent by a gateway (the device's side of the protocol)."""
    obj = _load(text, max_bytes)
    action = _str(obj, "action")
    mid = _id(obj)
    if action == "stt_transcript":
        confidence = obj.get("confidence")
        tid = obj.get("transactionId")
        if tid is not None and (isinstance(tid, bool) or not isinstance(tid, str | int)):
            raise ProtocolError("'transactionId' must be a string")
        return SttTranscript(
            mid,
            _str(obj, "transcript") or "",
            None if confidence is None else _number(confidence, "confidence"),
            None if tid is None else str(tid),
        )
    if action == "response":
        return Response(mid, _dict(obj, "data") or {})
    if action == "text":
        shown = _str(obj, "text", required=False)
        if shown is None:
            shown = _str(obj, "speech", required=False)
        if shown is None:
            raise ProtocolError("a text message needs 'text' or 'speech'")
        return TextReply(mid, shown, _str(obj, "voice", required=False), _prompt(obj))
    if action == "audio_start":
        return ReplyAudioStart(mid, _str(obj, "content_type", required=False))
    if action == "audio_data":
        return ReplyAudioData(mid, _audio(obj))
    if action == "audio_end":
        return ReplyAudioEnd(mid, _prompt(obj))
    if action == "error":
        err = obj.get("error")
        if isinstance(err, str):
            return GatewayError(mid, err)
        if isinstance(err, dict):
            message = err.get("message")
            if isinstance(message, str):
                return GatewayError(mid, message)
            return GatewayError(mid, json.dumps(err, sort_keys=True)[:500])
        raise ProtocolError("'error' must be an object or a string")
    return Unknown(mid, str(action), {k: v for k, v in obj.items() if k not in ("id", "action")})
