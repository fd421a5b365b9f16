"""The protocol's JSON form: :func:`encode` and the two decoders.

Anything malformed raises one :class:`ProtocolError`.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Mapping
from typing import Any

from agent.link.protocol.messages import (
    MAX_MESSAGE_BYTES,
    Announce,
    AudioData,
    AudioEnd,
    AudioStart,
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
)

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
    elif isinstance(msg, Announce):
        out["text"] = msg.text
        if msg.device is not None:
            out["device"] = msg.device
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
        # Both fields: the protocol names either, and IBM's client reads only ``speech``.
        out["text"] = msg.text
        out["speech"] = msg.text
        if msg.voice is not None:
            out["voice"] = msg.voice
        if msg.prompt is not None:
            out["prompt"] = msg.prompt
    elif isinstance(msg, ReplyAudioEnd):
        if msg.prompt is not None:
            out["prompt"] = msg.prompt
    elif isinstance(msg, GatewayError):
        out["error"] = {"message": msg.message}
    elif isinstance(msg, AudioEnd) and msg.reason is not None:
        out["reason"] = msg.reason
    elif isinstance(msg, Unknown):
        out.update(msg.fields)
        out["id"], out["action"] = msg.id, msg.action
    # AudioEnd carries nothing else but its optional reason.
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
        return AudioEnd(mid, _str(obj, "reason", required=False))
    if action == "stt_options":
        return SttOptions(mid, _dict(obj, "options") or {})
    if action == "tts_options":
        return TtsOptions(mid, _dict(obj, "options") or {}, _str(obj, "audio", required=False))
    if action == "text":
        return TextInput(mid, _str(obj, "text") or "")
    if action == "announce":
        text = _str(obj, "text") or ""
        if not text.strip():
            raise ProtocolError("an announce request needs a non-empty 'text'")
        return Announce(mid, text, _str(obj, "device", required=False))
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
