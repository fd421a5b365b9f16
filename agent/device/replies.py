"""The conversation's reply path: the gateway's messages for the open turn.

Transcripts end the utterance (``end_of_speech: gateway|both``), responses and
text are shown and remembered, reply audio goes to the speaker from its first
chunk, and the last reply wins. A text reply with no audio is spoken locally
when ``output.speak_text`` is on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from agent.device import events as ev
from agent.device.turn import State, Turn, TurnBase
from agent.link import protocol

log = logging.getLogger(__name__)

TEXT_AUDIO_GRACE_S = 1.5
"""After a text reply, how long to wait for its audio from a gateway that has been seen
to send text with no audio. Any other gateway gets ``listen.response_timeout_s``: its
speech may take seconds to make on a slow board (a fixed 1.5 s of wall time dropped
whole replies there)."""


class Replies(TurnBase):
    """Adds the handling of gateway messages and playback reports."""

    _dropping: tuple[str | None, dict[str, int]] | None = None
    """The reply being dropped outside a turn: its first id, and how many of each message."""

    def _on_message(self, msg: protocol.GatewayMessage | protocol.Unknown) -> None:
        turn = self.turn
        if self.p.recorder and turn:
            self.p.recorder.message(msg)
        if isinstance(msg, protocol.Unknown):
            log.debug("ignoring unknown gateway action %r", msg.action)
        elif isinstance(msg, protocol.GatewayError):
            self._on_error(msg)
        elif turn is None or self.state in (State.IDLE, State.FOLLOWUP):
            self._drop(msg)
        else:
            self._dropped_flush()  # a reply dropped before this turn, never ended
            handler = _HANDLERS.get(type(msg))
            if handler is not None:
                handler(self, msg, turn)

    def _on_error(self, msg: protocol.GatewayError) -> None:
        if self.turn is not None or self.state is not State.IDLE:
            self._fault("gateway", msg.message, reason="gateway")
        else:
            self.p.events.emit("error", message=msg.message, source="gateway")

    def _drop(self, msg: protocol.GatewayMessage) -> None:
        """A message outside a turn: counted, and logged once per dropped reply."""
        if self._dropping is None:
            self._dropping = (getattr(msg, "id", None), {})
        counts = self._dropping[1]
        counts[msg.action] = counts.get(msg.action, 0) + 1
        if isinstance(msg, protocol.ReplyAudioEnd):  # the reply is complete
            self._dropped_flush()

    def _dropped_flush(self) -> None:
        """Log the reply being dropped (if any): one line, with how many of each message."""
        dropping, self._dropping = self._dropping, None
        if dropping is None:
            return
        first_id, counts = dropping
        what = ", ".join(f"{n} {action}" for action, n in counts.items())
        log.info("dropped a reply outside a turn (%s): %d messages: %s",
                 first_id, sum(counts.values()), what)

    def _on_transcript(self, msg: protocol.SttTranscript, turn: Turn) -> None:
        self.p.events.emit(
            "transcript",
            id=msg.transaction_id or msg.id,
            text=msg.transcript,
            confidence=msg.confidence,
        )
        self._show(f"you said: {msg.transcript}")
        if self._in_turn_audio() and self.settings.listen.end_of_speech != "vad":
            self._end_utterance("gateway")

    def _on_response(self, msg: protocol.Response, turn: Turn) -> None:
        text, card = msg.speech_text, msg.card
        fields: dict[str, Any] = {"text": text}
        if card:
            fields["card"] = {"feature": card.feature, "action": card.action}
            if not self.p.speaker.command(card.feature, card.action):
                log.warning("unknown command card %s/%s", card.feature, card.action)
        self.p.events.emit("response", **fields)
        if text and text not in turn.texts:
            turn.texts.append(text)
            self._show(f"assistant: {text}")
        self._reply_activity()

    def _on_text(self, msg: protocol.TextReply, turn: Turn) -> None:
        self.p.events.emit("text", text=msg.text, prompt=msg.prompt)
        if msg.prompt is not None:
            turn.prompt = msg.prompt
        if msg.text not in turn.texts:
            turn.texts.append(msg.text)
            self._show(f"assistant: {msg.text}")
        if turn.reply_id is None and not self._in_turn_audio():
            speaks = self.gateway_speaks is not False
            wait = self.settings.listen.response_timeout_s if speaks else TEXT_AUDIO_GRACE_S
            self.deadline = self.p.clock() + wait

    def _on_audio_start(self, msg: protocol.ReplyAudioStart, turn: Turn) -> None:
        if self._in_turn_audio():
            self._end_utterance("gateway")
        turn.reply_id = msg.id  # the last reply wins
        self.gateway_speaks = True
        turn.fed_bytes = 0
        self.p.speaker.start(msg.id)
        self.p.set_speaking(True)
        self._set_state(State.SPEAKING)
        self._reply_activity()

    def _on_audio_data(self, msg: protocol.ReplyAudioData, turn: Turn) -> None:
        if msg.id != turn.reply_id or self.state is not State.SPEAKING:
            log.debug("dropping audio of reply %s (current %s)", msg.id, turn.reply_id)
            return
        turn.fed_bytes += len(msg.audio)
        self.p.speaker.feed(msg.audio)
        if self.p.recorder:
            self.p.recorder.reply_audio(msg.audio)
        self._reply_activity()

    def _on_audio_end(self, msg: protocol.ReplyAudioEnd, turn: Turn) -> None:
        if msg.id != turn.reply_id or self.state is not State.SPEAKING:
            return
        if msg.prompt is not None:
            turn.prompt = msg.prompt
        self.p.speaker.finish()
        self._reply_activity()

    def _speak_text_or_finish(self, turn: Turn) -> None:
        if self.gateway_speaks is None:
            self.gateway_speaks = False  # text with no audio: this gateway does not speak
        if self.settings.output.speak_text:
            wav = self.p.say(" ".join(turn.texts))
            if wav:
                turn.reply_id = "local-" + turn.id
                turn.fed_bytes = len(wav)
                self.p.speaker.start(turn.reply_id)
                self.p.speaker.feed(wav)
                self.p.speaker.finish()
                self.p.set_speaking(True)
                self._set_state(State.SPEAKING)
                self._reply_activity()
                return
        self._finish_turn()

    def _on_playback_finished(self, event: ev.PlaybackFinished) -> None:
        turn = self.turn
        if turn is None or event.reply_id != turn.reply_id:
            return
        self.p.events.emit("playback_end", id=event.reply_id, interrupted=event.interrupted)
        self.p.set_speaking(False)
        if self.state is not State.SPEAKING:
            return
        if not event.interrupted:
            self._finish_turn()
        else:
            # Stopped from outside (a "playback stop" card): our own barge-in
            # forgets the reply id first, so its late report never gets here.
            # The user asked for silence: no follow-up, no error.
            self._to_idle()


# One handler per message of the open turn (errors and unknown actions are
# handled before a turn is needed).
_HANDLERS: dict[type, Callable[[Replies, Any, Turn], None]] = {
    protocol.SttTranscript: Replies._on_transcript,
    protocol.Response: Replies._on_response,
    protocol.TextReply: Replies._on_text,
    protocol.ReplyAudioStart: Replies._on_audio_start,
    protocol.ReplyAudioData: Replies._on_audio_data,
    protocol.ReplyAudioEnd: Replies._on_audio_end,
}
