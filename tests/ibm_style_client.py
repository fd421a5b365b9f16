"""A test client that behaves like IBM's Java sample for the Raspberry Pi (v1.5).

Written from what that client was measured doing against this project's
gateway (issue 13, and ``docs/protocol.md``), not from its
source; it parses the gateway's JSON itself, as the Java client does, and
never uses the project's decoder:

* the handshake: ``?engine=null`` in the query (it sent unset values as the
  text ``null``), an empty ``tenantid`` header, and no ``User-Agent`` of this
  project (none at all: what the Java client's library sends is unknown to
  us, and any other value is treated the same by the gateway);
* after connecting: ``stt_options`` and ``tts_options`` as it sent them;
* a turn: ``audio_start``, then 0.5 s of audio per ``audio_data`` (16,000
  bytes), streaming silence after the speech until ``stt_transcript``
  arrives (the gateway ends the utterance), and only then ``audio_end``;
  capture stops after 10 s of audio, as the old client's did;
* reply audio: only the Node Buffer form, ``data`` an object holding a byte
  array; anything else is logged as "No data key in response object." and
  not played;
* the reply text from the ``text`` message's ``speech`` field (an absent one
  is the empty text), and the prompt from the ``text`` message only;
* at ``audio_end`` it flushes its speaker line instead of draining it: the
  last 0.34-0.5 s it was sent is never heard (:attr:`IbmTurn.heard` drops the
  last :data:`FLUSHED` bytes, the worst case).

Mocked: nothing. The microphone is the PCM handed to :meth:`IbmStyleClient.turn`
and the speaker a byte buffer (there is no sound card here).
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from websockets.sync.client import ClientConnection, connect

log = logging.getLogger("ibm_style_client")

RATE = 16000
CHUNK = 16000  # 0.5 s of s16le per audio_data, as the old client sent
MAX_AUDIO_S = 10.0  # the old client's capture cap
NO_DATA_KEY = "No data key in response object."
FLUSHED = RATE  # 0.5 s of s16le: what flush() at audio_end throws away, at worst


@dataclass
class IbmTurn:
    """What the client made of one turn."""

    transcript: str | None = None
    text: str | None = None
    """The reply text as the client shows it (``speech`` of the text message)."""
    prompt: bool = False
    """The prompt as the client reads it (``prompt`` of the text message)."""
    played: bytearray = field(default_factory=bytearray)
    """The reply audio the client took to play (Buffer form only)."""
    audio_messages: int = 0
    errors: list[str] = field(default_factory=list)
    """What the client logged as errors (one per unplayable chunk)."""
    actions: list[str] = field(default_factory=list)

    @property
    def heard(self) -> bytes:
        """What reached the ear: :attr:`played` less what the flush at ``audio_end`` cut."""
        return bytes(self.played[: max(0, len(self.played) - FLUSHED)])

    @property
    def cut(self) -> bytes:
        """The part the flush at ``audio_end`` threw away."""
        return bytes(self.played[len(self.heard) :])


class IbmStyleClient:
    """One connection, as the Java client opens it."""

    def __init__(self, url: str, *, timeout: float = 60.0) -> None:
        sep = "&" if "?" in url else "?"
        self.url = f"{url}{sep}engine=null"
        self.timeout = timeout
        self.ws: ClientConnection = connect(
            self.url,
            additional_headers={"tenantid": ""},
            user_agent_header=None,
            open_timeout=30,
            close_timeout=5,
        ).__enter__()  # closed by close() / this object's own context
        self._send({"action": "stt_options", "options": {
            "engine": "watson",
            "content_type": "audio/l16; rate=16000; channels=1",
            "smart_formatting": True,
        }})
        self._send({"action": "tts_options", "options": {
            "engine": "watson", "accept": "audio/l16; rate=16000; channels=1",
        }})

    def _send(self, message: dict[str, Any]) -> None:
        message.setdefault("id", str(uuid.uuid4()))
        self.ws.send(json.dumps(message))

    def _audio(self, tid: str, pcm: bytes) -> None:
        data = base64.b64encode(pcm).decode("ascii")
        self._send({"id": tid, "action": "audio_data", "encoding": "base64", "data": data})

    def turn(self, speech: bytes) -> IbmTurn:
        """Say ``speech`` (PCM), stream silence until the transcript, then take the reply."""
        tid = str(uuid.uuid4())
        turn = IbmTurn()
        self._send({"id": tid, "action": "audio_start"})
        sent = 0
        for i in range(0, len(speech), CHUNK):
            self._audio(tid, speech[i : i + CHUNK])
            sent += len(speech[i : i + CHUNK])
        quiet = bytes(CHUNK)
        # The microphone keeps going: one more 0.5 s of room per 0.5 s waited,
        # until the gateway says what it heard or the capture cap is reached.
        while turn.transcript is None:
            try:
                frame = self.ws.recv(timeout=0.5)
            except TimeoutError:
                if sent >= MAX_AUDIO_S * RATE * 2:
                    break
                self._audio(tid, quiet)
                sent += CHUNK
                continue
            self._take(json.loads(frame), turn)
        self._send({"id": tid, "action": "audio_end"})
        while "audio_end" not in turn.actions:
            self._take(json.loads(self.ws.recv(timeout=self.timeout)), turn)
        return turn

    def typed(self, text: str) -> IbmTurn:
        """Typed input (``text``), then the reply."""
        turn = IbmTurn()
        self._send({"action": "text", "text": text})
        while "audio_end" not in turn.actions:
            self._take(json.loads(self.ws.recv(timeout=self.timeout)), turn)
        return turn

    def _take(self, msg: dict[str, Any], turn: IbmTurn) -> None:
        action = msg.get("action")
        turn.actions.append(str(action))
        if action == "stt_transcript":
            turn.transcript = str(msg.get("transcript", ""))
        elif action == "text":
            turn.text = str(msg.get("speech", ""))  # the Java client's only field
            turn.prompt = msg.get("prompt") is True
        elif action == "audio_data":
            turn.audio_messages += 1
            data = msg.get("data")
            if isinstance(data, dict) and isinstance(data.get("data"), list):
                turn.played += bytes(data["data"])
            else:
                log.error(NO_DATA_KEY)
                turn.errors.append(NO_DATA_KEY)
        elif action == "error":
            turn.errors.append(json.dumps(msg.get("error")))

    def close(self) -> None:
        """Close the connection."""
        self.ws.__exit__(None, None, None)

    def __enter__(self) -> IbmStyleClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
