"""Adapters between the conversation's ports and the device's parts.

Each class is a few lines that translate: the player and sounds into a
``Speaker``, the status LED into an ``Indicator``, the VAD into
``Endpointer`` objects, and the event sink into one that also feeds the debug
recorder.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from agent.audio.sounds import SoundError, load_sound
from agent.hearing.vad import EndOfSpeech, SpeechProbability

if TYPE_CHECKING:  # the adapters only need the shapes, not the modules at run time
    from agent.common.event_sink import EventEmitter
    from agent.config.settings import SoundSettings
    from agent.device.parts import Led, Playback
    from agent.device.recorder import TurnRecorder

log = logging.getLogger(__name__)


class PlayerSpeaker:
    """The ``Speaker`` port on :class:`agent.audio.playback.Player` and the sounds."""

    def __init__(self, player: Playback, sounds: SoundSettings) -> None:
        self.player = player
        self._cache: dict[tuple[str, str | None], np.ndarray | None] = {}
        self.sounds = sounds
        for name in ("wake", "done", "error", "alarm"):  # a bad path fails at start, not at use
            self._samples(name)

    def _samples(self, name: str) -> np.ndarray | None:
        spec = getattr(self.sounds, name)
        key = (name, spec)
        if key not in self._cache:
            try:
                self._cache[key] = load_sound(spec, name)  # type: ignore[arg-type]
            except SoundError as exc:
                log.error("%s; that sound stays silent", exc)
                self._cache[key] = None
        return self._cache[key]

    def start(self, reply_id: str) -> None:
        """Begin a reply."""
        self.player.start(reply_id)

    def feed(self, data: bytes) -> None:
        """Reply audio bytes."""
        self.player.feed(data)

    def finish(self) -> None:
        """The reply is complete."""
        self.player.finish()

    def stop(self) -> None:
        """Barge-in."""
        self.player.stop()

    def sound(self, name: str) -> int:
        """Play a sound; its length in samples (0 when silent)."""
        samples = self._samples(name)
        if samples is None or not len(samples):
            return 0
        self.player.play_sound(samples)
        return len(samples)

    @property
    def volume(self) -> float:
        """The player's volume, 0..1."""
        return self.player.volume

    def set_volume(self, level: float) -> float:
        """Set the player's volume (``voice-agent ctl volume N``); returns it."""
        self.player.volume = level
        return self.player.volume

    def command(self, feature: str, action: str) -> bool:
        """Apply a command card (volume up/down/mute/unmute, playback stop)."""
        p = self.player
        if feature == "volume":
            steps: dict[str, Callable[[], None]] = {
                "increase": lambda: setattr(p, "volume", p.volume + p.volume_step),
                "decrease": lambda: setattr(p, "volume", p.volume - p.volume_step),
                "mute": p.mute,
                "unmute": p.unmute,
            }
            if action in steps:
                steps[action]()
                log.info("volume %s: now %.2f%s", action, p.volume, " (muted)" if p.muted else "")
                return True
        if feature == "playback" and action == "stop":
            p.stop()
            return True
        if feature == "playback" and action == "resume":
            # Stopped reply audio is dropped, not paused: nothing to resume.
            log.info("playback resume: nothing is paused")
            return True
        return False


class LedIndicator:
    """The ``Indicator`` port on :class:`agent.device.gpio.StatusLed`."""

    def __init__(self, led: Led) -> None:
        self.led = led

    def show(self, state: str) -> None:
        """Idle off, listening on, waiting/speaking slow blink, error fast blink,
        muted mostly on (dark 0.5 s every 2 s), ringing a quick steady blink."""
        if state == "idle":
            self.led.off()
        elif state == "listening":
            self.led.on()
        elif state in ("waiting", "speaking"):
            self.led.slow_blink()
        elif state == "error":
            self.led.fast_blink()
        elif state == "disconnected":
            self.led.disconnected()
        elif state == "muted":
            self.led.muted()
        elif state == "ringing":
            self.led.ringing()


class _Endpointer:
    """Maps :class:`agent.hearing.vad.EndOfSpeech` events to the conversation's tuples."""

    def __init__(self, eos: EndOfSpeech) -> None:
        self.eos = eos

    def process(self, samples: np.ndarray, position: int) -> tuple[str, int] | None:
        event = self.eos.process(samples, position)
        if event is None:
            return None
        if event.kind == "speech_started":
            return ("speech", event.position)
        return ("end" if event.reason == "vad" else str(event.reason), event.position)


class EndpointerFactory:
    """Builds an end-of-speech follower per listening period, sharing one VAD model."""

    def __init__(self, listen: Callable[[], Any], vad: SpeechProbability) -> None:
        self._listen = listen  # read at each turn, so a reload applies
        self._vad = vad

    def __call__(self, start: int, no_speech_s: float, max_s: float) -> _Endpointer:
        listen = self._listen()
        eos = EndOfSpeech(
            silence_ms=listen.silence_ms,
            no_speech_timeout_s=no_speech_s,
            max_utterance_s=max_s,
            threshold=listen.vad_threshold,
            vad=self._vad,
        )
        eos.start(start)
        return _Endpointer(eos)


class RecordingEvents:
    """An event sink that also hands each event to the debug recorder."""

    def __init__(self, sink: EventEmitter, recorder: TurnRecorder | None) -> None:
        from agent.common.redact import REDACTOR

        self.sink = sink
        self.recorder = recorder
        # The connection registers the secrets it learns (tokens) here.
        self.redactor = getattr(sink, "redactor", REDACTOR)

    def emit(self, event: str, **fields: Any) -> None:
        """Emit, and record when a turn is being recorded."""
        self.sink.emit(event, **fields)
        if self.recorder is not None:
            self.recorder.event(event, fields)


def espeak_wav(text: str) -> bytes | None:
    """Speak ``text`` with espeak-ng into WAV bytes (``output.speak_text``), or None."""
    exe = shutil.which("espeak-ng")
    if not exe or not text.strip():
        return None
    try:
        done = subprocess.run(
            [exe, "--stdout", "--", text], capture_output=True, timeout=20, check=True
        )
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("espeak-ng failed: %s", exc)
        return None
    return done.stdout
