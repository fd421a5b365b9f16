"""Announcements and ringing timers: what the gateway says with no question asked.

The gateway sends an announcement as a reply under an id ``A`` the device
never opened (``docs/protocol.md``): ``response{A}``/``text{A}`` and then
``audio_start{A}`` ``audio_data{A}...`` ``audio_end{A}`` (or the audio alone,
outside a turn). :class:`AnnouncingConversation` collects it, whatever the
state, and once its ``audio_end`` is in:

- idle: it plays at once (state ``speaking``; a wake word or press barges in
  as on any reply);
- during a turn (listening, streaming, waiting, speaking, follow-up): it waits
  in order, at most :data:`MAX_WAITING`; an 11th drops the oldest, logged.
  Waiting ones play when the device is idle again.

An announcement whose ``timer`` card says ``finished`` rings instead (state
``ringing``, the LED's ringing pattern): ``sounds.alarm`` then the spoken
announcement, again and again, until a wake word or a button press stops it
(neither opens a turn: the next one does), :meth:`stop_ringing` is called
(the control interface), or ``timers.max_ring_s`` has passed (wall clock:
ringing is a timer). The device's own alarm does not raise the wake word
threshold, so ``wake.speaking_threshold: null`` cannot make it unstoppable by voice.

Everything here runs on the conversation thread, like the rest of the state
machine; the adapters only post events.
"""

from __future__ import annotations

import logging
from collections import OrderedDict, deque
from dataclasses import dataclass, field

from agent.config.settings import Settings
from agent.device import events as ev
from agent.device.conversation import Conversation
from agent.device.ports import Ports
from agent.device.turn import State, Turn
from agent.link import protocol

log = logging.getLogger(__name__)

MAX_WAITING = 10
"""Complete announcements kept while a turn is under way."""
MAX_INCOMING = 10
"""Announcements still arriving (no ``audio_end`` yet)."""
MAX_AUDIO_BYTES = 8 << 20
"""Audio kept per announcement (about 4 minutes of 16 kHz PCM)."""
RING_PAUSE_S = 1.0
"""Silence between two rounds of a ringing timer."""
RECENT_TURNS = 32
LATE_REPLY_S = 5.0
"""Audio with no text of its own this soon after a message of one of our turns is that
turn's (late) reply, not an announcement."""


@dataclass
class Announcement:
    """One announcement, as collected from the gateway's messages."""

    id: str
    text: str | None = None
    timer: protocol.TimerCard | None = None
    content_type: str | None = None
    audio: list[bytes] = field(default_factory=list)
    size: int = 0
    prompt: protocol.Prompt | None = None


@dataclass
class Ringing:
    """A finished timer that is ringing."""

    announcement: Announcement
    until: float
    rounds: int = 0
    reply_id: str | None = None
    next_at: float | None = None


class AnnouncingConversation(Conversation):
    """The conversation with announcements and ringing timers (see the module docstring)."""

    def __init__(self, settings: Settings, ports: Ports) -> None:
        super().__init__(settings, ports)
        self._turn_message_at = -1e9  # when a message under an id we opened last came
        self.incoming: OrderedDict[str, Announcement] = OrderedDict()
        self.waiting: deque[Announcement] = deque()
        self.ringing: Ringing | None = None
        self._opened: deque[str] = deque(maxlen=RECENT_TURNS)
        self._bad: deque[str] = deque(maxlen=RECENT_TURNS)
        # The control socket's "stop" silences a ringing timer first.
        self.stoppers.insert(0, lambda: "ringing" if self.stop_ringing("control") else None)

    # ------------------------------------------------------------ dispatch
    def handle(self, event: ev.Event) -> None:
        """As :meth:`Conversation.handle`, with ringing's own rules first."""
        r = self.ringing
        if r is not None and self.state is State.RINGING:
            if isinstance(event, ev.AudioFrame) and event.wake:
                hit = max(event.wake, key=lambda h: h.score)
                self.p.events.emit("wake", model=hit.model, score=round(hit.score, 4))
                super().handle(ev.AudioFrame(event.samples, event.position, ()))  # no turn
                self.stop_ringing("wake")
                return
            if isinstance(event, ev.ButtonPressed):
                self.stop_ringing("button")
                return
            if isinstance(event, ev.ButtonReleased | ev.ButtonLongPress):
                return
            if isinstance(event, ev.Disconnected | ev.Connected):
                return  # ringing is local: a lost gateway does not stop it
            if isinstance(event, ev.AudioFault):
                self.p.events.emit("error", message=event.message, source="audio")
                return
            if isinstance(event, ev.PlaybackStarted):
                return
            if isinstance(event, ev.PlaybackFinished):
                if event.reply_id == r.reply_id and not event.interrupted:
                    r.reply_id = None
                    r.next_at = self.p.clock() + RING_PAUSE_S
                return
        super().handle(event)

    def next_timeout(self) -> float | None:
        """The conversation's deadline, or the ringing's next round or cap if sooner."""
        timeout = super().next_timeout()
        r = self.ringing
        if r is None:
            return timeout if not self.waiting or self.state is not State.IDLE else 0.0
        due = min(r.until, r.next_at if r.next_at is not None else r.until)
        mine = max(0.0, due - self.p.clock())
        return mine if timeout is None else min(timeout, mine)

    def tick(self) -> None:
        """Fire deadlines: the conversation's, ringing rounds and the cap; play what waits."""
        super().tick()
        r = self.ringing
        now = self.p.clock()
        if r is not None:
            if now >= r.until:
                self.stop_ringing("timeout")
            elif r.next_at is not None and now >= r.next_at:
                self._ring_round()
        if self.state is State.IDLE and self.waiting and not self.finished:
            self._play(self.waiting.popleft())

    def _set_state(self, new: State, *, indicate: bool = True) -> None:
        if self.turn is not None and (not self._opened or self._opened[-1] != self.turn.id):
            self._opened.append(self.turn.id)  # the ids this device opened
        super()._set_state(new, indicate=indicate)

    # ------------------------------------------------------------ messages
    def _on_message(self, msg: protocol.GatewayMessage | protocol.Unknown) -> None:
        if isinstance(msg, protocol.GatewayError) and self.state is State.RINGING:
            self.p.events.emit("error", message=msg.message, source="gateway")
            return
        if isinstance(msg, protocol.Unknown | protocol.GatewayError | protocol.SttTranscript):
            super()._on_message(msg)
            return
        if msg.id in self._bad:
            log.debug("dropping %s of the refused announcement %s", msg.action, msg.id)
            return
        card = self._timer_card(msg) if isinstance(msg, protocol.Response) else None
        ann = self.incoming.get(msg.id)
        if ann is None and self._is_opened(msg.id):
            self._turn_message_at = self.p.clock()
            if card is not None and card.event == "finished":
                log.warning(
                    "an announcement (a finished timer) under the id %s of an open transaction:"
                    " dropped", msg.id,
                )
                self._bad.append(msg.id)
                return
            if card is not None:
                self._timer_event(card, card.event)
            super()._on_message(msg)
            return
        if ann is None:
            starts = isinstance(msg, protocol.Response | protocol.TextReply) or (
                isinstance(msg, protocol.ReplyAudioStart)
                and self.turn is None
                and self.p.clock() - self._turn_message_at > LATE_REPLY_S
            )
            if not starts or (self.turn is not None and msg.id == self.turn.reply_id):
                super()._on_message(msg)  # a reply of the turn (the last reply wins)
                return
            ann = self._new_incoming(msg.id)
        self._collect(ann, msg, card)

    def _is_opened(self, mid: str) -> bool:
        return (self.turn is not None and mid == self.turn.id) or mid in self._opened

    def _timer_card(self, msg: protocol.Response) -> protocol.TimerCard | None:
        try:
            return protocol.timer_card(msg.data)
        except protocol.ProtocolError as exc:
            log.warning("dropping a bad timer card in %s: %s", msg.id, exc)
            return None

    def _new_incoming(self, aid: str) -> Announcement:
        if len(self.incoming) >= MAX_INCOMING:
            old, _ = self.incoming.popitem(last=False)
            log.warning("too many unfinished announcements: dropped %s", old)
        ann = self.incoming[aid] = Announcement(aid)
        return ann

    def _collect(
        self, ann: Announcement, msg: protocol.GatewayMessage, card: protocol.TimerCard | None
    ) -> None:
        if isinstance(msg, protocol.Response):
            ann.text = msg.speech_text or ann.text
            ann.timer = card or ann.timer
        elif isinstance(msg, protocol.TextReply):
            ann.text = ann.text or msg.text
            ann.prompt = msg.prompt if msg.prompt is not None else ann.prompt
        elif isinstance(msg, protocol.ReplyAudioStart):
            ann.content_type = msg.content_type
        elif isinstance(msg, protocol.ReplyAudioData):
            ann.size += len(msg.audio)
            if ann.size > MAX_AUDIO_BYTES:
                log.warning("announcement %s is over %d bytes of audio: dropped", ann.id, ann.size)
                del self.incoming[ann.id]
                self._bad.append(ann.id)
                return
            ann.audio.append(msg.audio)
        elif isinstance(msg, protocol.ReplyAudioEnd):
            ann.prompt = msg.prompt if msg.prompt is not None else ann.prompt
            del self.incoming[ann.id]
            self._complete(ann)

    def _complete(self, ann: Announcement) -> None:
        if ann.timer is not None:
            self._timer_event(ann.timer, ann.timer.event)
        if self.state is State.IDLE and not self.waiting:
            self._play(ann)
            return
        if len(self.waiting) >= MAX_WAITING:
            old = self.waiting.popleft()
            log.warning(
                "announcement queue full (%d): dropped the oldest, %s (%r)",
                MAX_WAITING, old.id, old.text,
            )
        self.waiting.append(ann)
        log.info("announcement %s waits (%d waiting)", ann.id, len(self.waiting))

    # ------------------------------------------------------------ playing
    def _play(self, ann: Announcement) -> None:
        self.p.events.emit("announcement", id=ann.id, text=ann.text or "")
        if ann.text:
            self._show(f"announcement: {ann.text}")
        if ann.timer is not None and ann.timer.event == "finished":
            self.ringing = Ringing(ann, self.p.clock() + self.settings.timers.max_ring_s)
            self._timer_event(ann.timer, "ringing")
            self._set_state(State.RINGING)
            self._ring_round()
            return
        # Played as a reply of its own: barge-in, playback events and a prompt work as on any.
        self.turn = Turn(ann.id, "announcement", self.audio_pos, prompt=ann.prompt)
        if not ann.audio:
            self._finish_turn()
            return
        self.turn.reply_id, self.turn.fed_bytes = ann.id, ann.size
        self.p.speaker.start(ann.id)
        for chunk in ann.audio:
            self.p.speaker.feed(chunk)
        self.p.speaker.finish()
        self.p.set_speaking(True)
        self._set_state(State.SPEAKING)
        self._reply_activity()

    def _ring_round(self) -> None:
        r = self.ringing
        assert r is not None
        r.rounds += 1
        r.next_at = None
        alarm = self.p.speaker.sound("alarm")
        ann = r.announcement
        if ann.audio:
            r.reply_id = f"{ann.id}#ring{r.rounds}"
            self.p.speaker.start(r.reply_id)
            for chunk in ann.audio:
                self.p.speaker.feed(chunk)
            self.p.speaker.finish()
        else:  # nothing to wait for but the alarm itself
            r.next_at = self.p.clock() + alarm / 16000 + RING_PAUSE_S

    def stop_ringing(self, by: str) -> bool:
        """Stop a ringing timer (``by``: wake, button, timeout, control); False if none rings."""
        r = self.ringing
        if r is None:
            return False
        self.ringing = None
        self.p.speaker.stop()
        card = r.announcement.timer
        assert card is not None
        self._timer_event(card, "stopped", stopped_by=by)
        self._show(f"timer {card.name}: stopped ({by})")
        self._to_idle()
        return True

    def _timer_event(self, card: protocol.TimerCard, what: str, **extra: str) -> None:
        # The field is timer_event, not event: in the JSON form "event" names the event.
        self.p.events.emit("timer", id=card.id, name=card.name, timer_event=what, **extra)
