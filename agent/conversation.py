"""The conversation state machine: one thread, one event queue.

idle -> listening (wake word, button or follow-up) -> streaming (speech heard)
-> waiting (for the reply) -> speaking -> followup (listening with no wake
word) -> idle. Every state has a way back to idle: end of speech, timeouts,
errors, a long press. Nothing here touches a socket, PortAudio or a GPIO pin:
it talks to small ports (``Link``, ``Speaker``, ``Indicator``, ...) that the
daemon builds, and it is the only code that changes conversation state.

Audio time, not wall time: end of speech, pre-roll, ``max_utterance_s`` and
the follow-up wait are counted in samples of the capture stream; only network
waits (the reply, a text reply's audio) use the monotonic clock.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field
from typing import Any

from agent import events_queue as ev
from agent import protocol
from agent.audio.sounds import chime_window
from agent.config import Settings
from agent.ports import Endpointer, Ports
from agent.streamer import Streamer

log = logging.getLogger(__name__)

RATE = 16000
TEXT_AUDIO_GRACE_S = 1.5  # after a text reply, how long to wait for its audio


class State(enum.StrEnum):
    """Conversation states, as reported in ``state`` events."""

    IDLE = "idle"
    LISTENING = "listening"
    STREAMING = "streaming"
    WAITING = "waiting"
    SPEAKING = "speaking"
    FOLLOWUP = "followup"


@dataclass
class Turn:
    """What the conversation remembers of the current turn."""

    id: str
    reason: str
    start: int
    speech_started: bool = False
    reply_id: str | None = None
    prompt: protocol.Prompt | None = None
    texts: list[str] = field(default_factory=list)
    fed_bytes: int = 0


class Conversation:
    """The state machine; call :meth:`handle` for each event and :meth:`tick` often."""

    def __init__(self, settings: Settings, ports: Ports) -> None:
        self.settings = settings
        self.p = ports
        self.state = State.IDLE
        self.finished = False
        self.audio_pos = 0  # end of the newest captured frame
        self.source_ended = False
        self.turn: Turn | None = None
        self.endpointer: Endpointer | None = None
        self.followup_options: dict[str, Any] | None = None
        self.deadline: float | None = None
        self.streamer = Streamer(
            ports.ring,
            ports.link.send,
            settings.audio.chunk_ms * RATE // 1000,
            on_audio=self._recorded_audio,
        )

    # ------------------------------------------------------------ dispatch
    def handle(self, event: ev.Event) -> None:
        """Act on one event from the queue."""
        if isinstance(event, ev.AudioFrame):
            self._on_frame(event)
        elif isinstance(event, ev.GatewayMessage):
            self._on_message(event.message)
        elif isinstance(event, ev.ButtonPressed):
            self._on_press()
        elif isinstance(event, ev.ButtonReleased):
            if self.settings.gpio.button_mode == "hold" and self._in_turn_audio():
                self._end_utterance("button")
        elif isinstance(event, ev.ButtonLongPress):
            self._cancel()
        elif isinstance(event, ev.PlaybackStarted):
            if self.turn and event.reply_id == self.turn.reply_id:
                self.p.events.emit("playback_start", id=event.reply_id)
        elif isinstance(event, ev.PlaybackFinished):
            self._on_playback_finished(event)
        elif isinstance(event, ev.Connected):
            self._indicate()
        elif isinstance(event, ev.Disconnected):
            self._on_disconnected(event.reason)
        elif isinstance(event, ev.AudioFault):
            if self.state is State.IDLE:
                # e.g. a microphone unplugged while nobody talks: reported, but no
                # error sound at every reopen attempt.
                self.p.events.emit("error", message=event.message, source="audio")
            else:
                self._fault("audio", event.message, reason="error")
        elif isinstance(event, ev.SourceEnded):
            self.source_ended = True
            self._on_source_ended()
        elif isinstance(event, ev.Shutdown):
            self.shutdown()

    def next_timeout(self) -> float | None:
        """Seconds until the next wall-clock deadline, or None."""
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - self.p.clock())

    def tick(self) -> None:
        """Fire the wall-clock deadline if it has passed."""
        if self.deadline is None or self.p.clock() < self.deadline:
            return
        self.deadline = None
        turn = self.turn
        if self.state is State.WAITING and turn and turn.texts and turn.reply_id is None:
            self._speak_text_or_finish(turn)
        elif self.state in (State.WAITING, State.SPEAKING):
            limit = self.settings.listen.response_timeout_s
            self._fault("gateway", f"no reply within {limit:g} s", reason=None)
        elif self.state in (State.LISTENING, State.STREAMING):
            # Audio stopped arriving (a stalled device): do not wait forever.
            self._fault("audio", "no audio from the input device", reason="error")

    def shutdown(self) -> None:
        """End an open transaction with ``audio_end`` (reason shutdown) and stop."""
        if self.streamer.open:
            self._close_stream("shutdown")
        self.p.speaker.stop()
        self._set_state(State.IDLE)
        self.finished = True

    # ------------------------------------------------------------ audio
    def _on_frame(self, frame: ev.AudioFrame) -> None:
        if frame.position > self.audio_pos and self.streamer.open:
            # Samples were lost (device reopened): the utterance cannot go on
            # as one contiguous stream, so it ends where the audio stopped.
            gap = frame.position - self.audio_pos
            self._fault("audio", f"capture gap of {gap} samples", reason="error")
        self.p.ring.append_samples(frame.samples, frame.position)
        self.audio_pos = frame.position + len(frame.samples)
        if self.state in (State.LISTENING, State.STREAMING, State.FOLLOWUP):
            self._listen(frame)
        if frame.wake and self.state in (State.IDLE, State.WAITING, State.SPEAKING, State.FOLLOWUP):
            hit = max(frame.wake, key=lambda h: h.score)
            self.p.events.emit("wake", model=hit.model, score=round(hit.score, 4))
            self._begin("wake", hit.position)

    def _listen(self, frame: ev.AudioFrame) -> None:
        assert self.endpointer is not None
        if self.streamer.open:
            self.streamer.pump(self.audio_pos)
        result = self.endpointer.process(frame.samples, frame.position)
        turn = self.turn
        if self.state is State.FOLLOWUP:
            if result and result[0] == "speech":
                start = max(result[1] - self._preroll(), self.p.ring.start)
                self._open_turn("followup", start, speech_started=True)
            elif result and result[0] != "speech":
                self._to_idle()
            return
        if turn is None:
            return
        if turn.reason == "button" and self.settings.gpio.button_mode == "hold":
            # Hold to talk: the release ends the utterance, not silence.
            result = result if result and result[0] == "speech" else None
        if result and result[0] == "speech" and not turn.speech_started:
            turn.speech_started = True
            self._set_state(State.STREAMING)
        elif result and result[0] == "end" and self.settings.listen.end_of_speech != "gateway":
            self._end_utterance("vad")
            return
        elif result and result[0] in ("no_speech", "max_length"):
            self._end_utterance(result[0])
            return
        max_samples = int(self.settings.listen.max_utterance_s * RATE)
        if self.audio_pos - turn.start >= max_samples + self._preroll():
            self._end_utterance("max_length")

    def _preroll(self) -> int:
        return self.settings.wake.preroll_ms * RATE // 1000

    # ------------------------------------------------------------ turns
    def _begin(self, reason: str, position: int) -> None:
        """A wake word or button press: barge in if needed, then open a turn."""
        if not self.p.link.connected:
            self.p.speaker.stop()
            self._fault("gateway", "not connected to the gateway", reason=None)
            return
        if self.state in (State.SPEAKING, State.WAITING):
            self._interrupt_reply()  # barge-in: the old reply is dropped from here on
        self.followup_options = None
        skip = None
        listen_from = position
        if reason == "wake":
            # The microphone's copy of the chime is left out of the utterance
            # and out of the VAD (policy: agent.audio.sounds).
            length = self.p.speaker.sound("wake")
            if length > 0:
                skip = chime_window(position, length)
                listen_from = skip[1]
        start = max(position - self._preroll(), self.p.ring.start)
        self._open_turn(reason, start, detection=listen_from, skip=skip)

    def _open_turn(
        self,
        reason: str,
        start: int,
        *,
        detection: int | None = None,
        skip: tuple[int, int] | None = None,
        speech_started: bool = False,
    ) -> None:
        tid = protocol.new_id()
        options = self.settings.gateway.audio_start_options
        if self.followup_options:
            options = {
                **(options or {}),
                "stt": {**((options or {}).get("stt") or {}), **self.followup_options},
            }
        self.turn = Turn(tid, reason, start, speech_started=speech_started)
        if self.p.recorder:
            self.p.recorder.begin(tid, reason)
        if not self.streamer.start(tid, start, options, skip=skip):
            self.turn = None
            self._fault("gateway", "could not send audio_start", reason=None)
            return
        if reason != "followup":  # the follow-up's listening began before speech
            self.p.events.emit("listening", reason=reason)
        self.p.events.emit("audio_start", id=tid)
        if not speech_started:
            listen = self.settings.listen
            self.endpointer = self.p.new_endpointer(
                detection if detection is not None else self.audio_pos,
                listen.no_speech_timeout_s,
                listen.max_utterance_s,
            )
        self._set_state(State.STREAMING if speech_started else State.LISTENING)
        self.streamer.pump(self.audio_pos)
        self.deadline = self.p.clock() + self.settings.listen.max_utterance_s + 5.0

    def _end_utterance(self, reason: str) -> None:
        turn = self.turn
        self._close_stream(reason)
        if turn is None:
            return
        if reason == "no_speech":
            self._to_idle()
            return
        self.p.speaker.sound("done")
        self._set_state(State.WAITING)
        self.deadline = self.p.clock() + self.settings.listen.response_timeout_s

    def _close_stream(self, reason: str) -> None:
        tid = self.streamer.finish(self.audio_pos)
        self.endpointer = None
        if tid:
            self.p.events.emit("audio_end", id=tid, reason=reason)

    def _in_turn_audio(self) -> bool:
        return self.state in (State.LISTENING, State.STREAMING)

    def _on_press(self) -> None:
        if self._in_turn_audio():
            if self.settings.gpio.button_mode == "press":
                self._end_utterance("button")
            return
        self._begin("button", self.audio_pos)

    def _cancel(self) -> None:
        """Long press: drop the current turn, whatever it is doing."""
        if self.state is State.IDLE:
            return
        if self.settings.gpio.button_mode == "hold" and self._in_turn_audio():
            return  # in hold mode holding is talking; release ends the turn
        if self.streamer.open:
            self._close_stream("button")
        self._interrupt_reply()
        self._to_idle()

    def _on_source_ended(self) -> None:
        if self._in_turn_audio():
            self._end_utterance("vad" if self.turn and self.turn.speech_started else "no_speech")
        elif self.state is State.FOLLOWUP:
            self._to_idle()
        if self.state is State.IDLE:
            self.finished = True

    # ------------------------------------------------------------ replies
    def _on_message(self, msg: protocol.GatewayMessage | protocol.Unknown) -> None:
        turn = self.turn
        if self.p.recorder and turn:
            self.p.recorder.message(msg)
        if isinstance(msg, protocol.Unknown):
            log.debug("ignoring unknown gateway action %r", msg.action)
        elif isinstance(msg, protocol.GatewayError):
            if turn is not None or self.state is not State.IDLE:
                self._fault("gateway", msg.message, reason="gateway")
            else:
                self.p.events.emit("error", message=msg.message, source="gateway")
        elif turn is None or self.state in (State.IDLE, State.FOLLOWUP):
            log.info("dropping %s outside a turn", msg.action)
        elif isinstance(msg, protocol.SttTranscript):
            self.p.events.emit(
                "transcript",
                id=msg.transaction_id or msg.id,
                text=msg.transcript,
                confidence=msg.confidence,
            )
            self._show(f"you said: {msg.transcript}")
            if self._in_turn_audio() and self.settings.listen.end_of_speech != "vad":
                self._end_utterance("gateway")
        elif isinstance(msg, protocol.Response):
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
        elif isinstance(msg, protocol.TextReply):
            self.p.events.emit("text", text=msg.text, prompt=msg.prompt)
            if msg.prompt is not None:
                turn.prompt = msg.prompt
            if msg.text not in turn.texts:
                turn.texts.append(msg.text)
                self._show(f"assistant: {msg.text}")
            if turn.reply_id is None and not self._in_turn_audio():
                self.deadline = self.p.clock() + TEXT_AUDIO_GRACE_S
        elif isinstance(msg, protocol.ReplyAudioStart):
            if self._in_turn_audio():
                self._end_utterance("gateway")
            turn.reply_id = msg.id  # the last reply wins
            turn.fed_bytes = 0
            self.p.speaker.start(msg.id)
            self.p.set_speaking(True)
            self._set_state(State.SPEAKING)
            self._reply_activity()
        elif isinstance(msg, protocol.ReplyAudioData):
            if msg.id != turn.reply_id or self.state is not State.SPEAKING:
                log.debug("dropping audio of reply %s (current %s)", msg.id, turn.reply_id)
                return
            turn.fed_bytes += len(msg.audio)
            self.p.speaker.feed(msg.audio)
            if self.p.recorder:
                self.p.recorder.reply_audio(msg.audio)
            self._reply_activity()
        elif isinstance(msg, protocol.ReplyAudioEnd):
            if msg.id != turn.reply_id or self.state is not State.SPEAKING:
                return
            if msg.prompt is not None:
                turn.prompt = msg.prompt
            self.p.speaker.finish()
            self._reply_activity()

    def _reply_activity(self) -> None:
        """Push the reply deadline out: long replies take as long as they play."""
        if self.state not in (State.WAITING, State.SPEAKING) or self.turn is None:
            return
        playing_s = self.turn.fed_bytes / (2 * RATE)
        self.deadline = self.p.clock() + self.settings.listen.response_timeout_s + playing_s

    def _interrupt_reply(self) -> None:
        """Stop the reply now; its ``playback_end`` says it was interrupted."""
        self.p.speaker.stop()
        turn = self.turn
        if turn and turn.reply_id and self.state is State.SPEAKING:
            self.p.events.emit("playback_end", id=turn.reply_id, interrupted=True)
            turn.reply_id = None  # the player's own late report is ignored
        self.p.set_speaking(False)

    def _speak_text_or_finish(self, turn: Turn) -> None:
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
        if not event.interrupted and self.state is State.SPEAKING:
            self._finish_turn()

    def _finish_turn(self) -> None:
        turn = self.turn
        if turn and turn.prompt and not self.source_ended:
            self.p.events.emit("followup", id=turn.id)
            self.followup_options = turn.prompt if isinstance(turn.prompt, dict) else None
            if self.p.recorder:
                self.p.recorder.end()
            self.turn = None
            self.endpointer = self.p.new_endpointer(
                self.audio_pos, self.settings.listen.followup_timeout_s, 1e9
            )
            self.deadline = None
            self.p.events.emit("listening", reason="followup")
            self._set_state(State.FOLLOWUP)
            return
        self._to_idle()

    # ------------------------------------------------------------ faults
    def _on_disconnected(self, reason: str) -> None:
        if self.state is not State.IDLE:
            self.streamer.abandon()
            self._fault("gateway", f"connection lost: {reason}", reason=None)
        self._indicate()

    def _fault(self, source: str, message: str, *, reason: str | None) -> None:
        """Any fault: error event, error sound and LED, back to idle."""
        if self.streamer.open and reason is not None:
            self._close_stream(reason)
        else:
            self.streamer.abandon()
        self.p.events.emit("error", message=message, source=source)
        self._show(f"error: {message}")
        self.p.speaker.stop()
        self.p.speaker.sound("error")
        self._to_idle()
        if self.p.indicator:  # after idle: the error blink returns to the idle pattern
            self.p.indicator.show("error")

    def _to_idle(self) -> None:
        if self.turn and self.p.recorder:
            self.p.recorder.end()
        self.turn = None
        self.endpointer = None
        self.deadline = None
        self.followup_options = None
        self.p.set_speaking(False)
        self._set_state(State.IDLE)
        if self.source_ended:
            self.finished = True

    # ------------------------------------------------------------ output
    def _set_state(self, new: State, *, indicate: bool = True) -> None:
        if new is self.state:
            return
        old, self.state = self.state, new
        self.p.events.emit("state", **{"from": old.value, "to": new.value})
        self.p.on_state(new.value)
        if indicate:
            self._indicate()

    def _indicate(self) -> None:
        if not self.p.indicator:
            return
        if self.state is State.IDLE:
            self.p.indicator.show("idle" if self.p.link.connected else "disconnected")
        elif self.state in (State.LISTENING, State.STREAMING, State.FOLLOWUP):
            self.p.indicator.show("listening")
        else:
            self.p.indicator.show(self.state.value)

    def _show(self, line: str) -> None:
        if self.settings.output.print:
            self.p.show(line)

    def _recorded_audio(self, data: bytes) -> None:
        if self.p.recorder:
            self.p.recorder.sent_audio(data)
