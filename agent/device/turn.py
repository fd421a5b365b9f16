"""The conversation's state and the primitives every part of it uses.

:class:`TurnBase` holds what the state machine remembers (the state, the
current :class:`Turn`, the deadline, the endpointer) and the moves that the
audio, reply and fault paths all make: end an utterance, finish a turn, fail
to idle, show a state. :class:`~agent.device.replies.Replies` adds the gateway's
messages and :class:`~agent.device.conversation.Conversation` the events.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field
from typing import Any

from agent.config.settings import Settings
from agent.device.ports import Endpointer, Ports
from agent.device.streamer import Streamer
from agent.link import protocol
from agent.link.reader import lost

log = logging.getLogger(__name__)

RATE = 16000


class State(enum.StrEnum):
    """Conversation states, as reported in ``state`` events."""

    IDLE = "idle"
    LISTENING = "listening"
    STREAMING = "streaming"
    WAITING = "waiting"
    SPEAKING = "speaking"
    FOLLOWUP = "followup"
    RINGING = "ringing"  # a finished timer rings (agent.device.announcements)


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
    wake_word: str | None = None
    """The wake word that opened this turn (a follow-up keeps its turn's); None: a button."""


class TurnBase:
    """The conversation's state; its subclasses add the event handlers."""

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
        self.followup_wake_word: str | None = None
        """The wake word of the turn a follow-up follows (``audio_start``'s ``wake_word``)."""
        self.deadline: float | None = None
        self.muted = False  # the microphone, by the control socket: no wake word, no turns
        self.gateway_speaks: bool | None = None
        """Whether this connection's gateway sends reply audio (None: not seen yet)."""
        self.streamer = Streamer(
            ports.ring,
            ports.link.send,
            settings.audio.chunk_ms * RATE // 1000,
            on_audio=self._recorded_audio,
        )

    def _preroll(self) -> int:
        return self.settings.wake.preroll_ms * RATE // 1000

    def _end_utterance(self, reason: str, end: int | None = None) -> None:
        turn = self.turn
        self._close_stream(reason, end)
        if turn is None:
            return
        if reason == "no_speech":
            self._to_idle()
            return
        self.p.speaker.sound("done")
        self._set_state(State.WAITING)
        self.deadline = self.p.clock() + self.settings.listen.response_timeout_s

    def _close_stream(self, reason: str, end: int | None = None) -> None:
        tid = self.streamer.finish(
            self.audio_pos if end is None else min(end, self.audio_pos), reason
        )
        self.endpointer = None
        if tid:
            self.p.events.emit("audio_end", id=tid, reason=reason)

    def _in_turn_audio(self) -> bool:
        return self.state in (State.LISTENING, State.STREAMING)

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

    def _finish_turn(self) -> None:
        turn = self.turn
        if turn and turn.prompt and not self.source_ended:
            self.p.events.emit("followup", id=turn.id)
            self.followup_options = turn.prompt if isinstance(turn.prompt, dict) else None
            self.followup_wake_word = turn.wake_word
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
        self.gateway_speaks = None  # the next connection may reach another gateway
        if self.state is not State.IDLE:
            self.streamer.abandon()
            self._fault("gateway", lost(reason), reason=None)
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
        self.followup_wake_word = None
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
        if self.state is State.IDLE and self.muted:
            self.p.indicator.show("muted")
        elif self.state is State.IDLE:
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
