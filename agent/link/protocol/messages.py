"""The audio gateway protocol, sans-I/O.

Turns WebSocket text frames into typed messages and back, in both directions,
and nothing else: no sockets, no threads, no clocks (like h11 and wsproto).
``docs`` for the wire format: ``docs/protocol.md``.

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
    """No more audio for transaction ``id``.

    ``reason``: this project's extension (``docs/protocol.md``), sent only as
    ``no_speech``: the device gave up before anyone spoke, and wants no answer.
    """

    id: str
    reason: str | None = None
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


@dataclass(frozen=True)
class Announce:
    """A request to the gateway: speak ``text`` on device ``device`` (None: on every device).

    Sent by ``voice-agent announce``; the gateway answers with a ``response``
    whose ``data.announced`` lists the devices it spoke on, or an ``error``.
    """

    id: str
    text: str
    device: str | None = None
    action = "announce"


ClientMessage: TypeAlias = (
    AudioStart | AudioData | AudioEnd | SttOptions | TtsOptions | TextInput | Location | Announce
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
