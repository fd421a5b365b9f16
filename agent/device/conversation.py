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

The machine is built in three layers, one module each: the state and shared
moves (:mod:`agent.device.turn`), the reply path (:mod:`agent.device.replies`),
and here the events, the audio path and the turns.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from agent.audio.sounds import chime_window
from agent.config.settings import Settings
from agent.device import events as ev
from agent.device.ports import Ports
from agent.device.replies import Replies
from agent.device.turn import RATE, State, Turn
from agent.link import protocol

log = logging.getLogger(__name__)


class Conversation(Replies):
    """The state machine; call :meth:`handle` for each event and :meth:`tick` often."""

    def __init__(self, settings: Settings, ports: Ports) -> None:
        super().__init__(settings, ports)
        #: What ``stop`` (:meth:`stop_sounding`) stops, asked in order.
        self.stoppers: list[Callable[[], str | None]] = [self._stop_reply]

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
        if self.state in (State.LISTENING, State.STREAMING):
            # The stall guard counts from the newest frame: a board that handles audio
            # slower than real time is not a stalled microphone (the utterance's own
            # length is counted in samples, in _listen).
            self.deadline = self.p.clock() + self._stall_s()
        wakeable = (State.IDLE, State.WAITING, State.SPEAKING, State.FOLLOWUP)
        if frame.wake and not self.muted and self.state in wakeable:
            hit = max(frame.wake, key=lambda h: h.score)
            self.p.events.emit("wake", model=hit.model, score=round(hit.score, 4))
            self._begin("wake", hit.position, wake_word=hit.model)

    def _listen(self, frame: ev.AudioFrame) -> None:
        assert self.endpointer is not None
        result = self.endpointer.process(frame.samples, frame.position)
        ends = result is not None and result[0] in ("end", "no_speech", "max_length")
        if self.streamer.open and not ends:
            self.streamer.pump(self.audio_pos)
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
            # The stream ends where the endpointer ended the utterance, not at the end
            # of the 80 ms frame that held that point (audio time, benchmark 4b).
            self._end_utterance("vad", end=result[1])
            return
        elif result and result[0] in ("no_speech", "max_length"):
            self._end_utterance(result[0], end=result[1])
            return
        max_samples = int(self.settings.listen.max_utterance_s * RATE)
        if self.streamer.open and ends:
            self.streamer.pump(self.audio_pos)  # an end ignored here (gateway, hold)
        if self.audio_pos - turn.start >= max_samples + self._preroll():
            self._end_utterance("max_length")

    # ------------------------------------------------------------ turns
    def _begin(self, reason: str, position: int, *, wake_word: str | None = None) -> None:
        """A wake word or button press: barge in if needed, then open a turn.

        ``wake_word`` (the model that fired) goes to the gateway in ``audio_start``'s
        options, so that it can pick an agent chain by it (``dialog.by_wake_word``);
        a button or control-socket turn sends none.
        """
        if not self.p.link.connected:
            self.p.speaker.stop()
            self._fault("gateway", "not connected to the gateway", reason=None)
            return
        if self.state in (State.SPEAKING, State.WAITING):
            self._interrupt_reply()  # barge-in: the old reply is dropped from here on
        self.followup_options = None
        self.followup_wake_word = None
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
        self._open_turn(reason, start, detection=listen_from, skip=skip, wake_word=wake_word)

    def _open_turn(
        self,
        reason: str,
        start: int,
        *,
        detection: int | None = None,
        skip: tuple[int, int] | None = None,
        speech_started: bool = False,
        wake_word: str | None = None,
    ) -> None:
        tid = protocol.new_id()
        options = self.settings.gateway.audio_start_options
        if self.followup_options:
            options = {
                **(options or {}),
                "stt": {**((options or {}).get("stt") or {}), **self.followup_options},
            }
        if reason == "followup":
            wake_word = self.followup_wake_word
        if wake_word is not None:  # an extension: gateways ignore option keys they do not know
            options = {**(options or {}), "wake_word": wake_word}
        self.turn = Turn(tid, reason, start, speech_started=speech_started, wake_word=wake_word)
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
        self.deadline = self.p.clock() + self._stall_s()

    def _stall_s(self) -> float:
        """Wall-clock seconds with no new frame after which the input counts as stalled."""
        return self.settings.listen.max_utterance_s + 5.0

    def _on_press(self) -> None:
        if self.muted:
            log.info("button: the microphone is muted")
            self._indicate()
            return
        if self._in_turn_audio():
            if self.settings.gpio.button_mode == "press":
                self._end_utterance("button")
            return
        self._begin("button", self.audio_pos)

    # ------------------------------------------------------------ control requests
    def listen(self) -> bool:
        """Start a turn as the button does (reason ``control``); False if none could start."""
        if self.muted or self._in_turn_audio():
            return False
        self._begin("control", self.audio_pos)
        return self._in_turn_audio()

    def stop_sounding(self) -> list[str]:
        """Stop what is sounding now; returns what was stopped (``playback``).

        Each of :attr:`stoppers` is asked in turn: a later ringing timer adds
        its own (returning ``"ringing"`` when it silenced one).
        """
        stopped = [name for stop in self.stoppers if (name := stop()) is not None]
        return stopped

    def _stop_reply(self) -> str | None:
        self.p.speaker.stop()  # a chime or anything else the player is playing
        if self.state is not State.SPEAKING:
            return None
        self._interrupt_reply()
        self._to_idle()
        return "playback"

    def set_muted(self, muted: bool) -> bool:
        """Mute or unmute the microphone; False when it already was. Muting ends a turn."""
        if muted == self.muted:
            return False
        self.muted = muted
        if muted and self.state is not State.IDLE:
            if self.streamer.open:
                self._close_stream("muted")
            self._interrupt_reply()
            self._to_idle()
        self.p.events.emit("mute", muted=muted)
        self._indicate()
        return True

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

