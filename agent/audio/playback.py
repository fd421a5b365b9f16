"""The reply player: plays reply audio as it arrives, and short sounds.

One playback thread owns the sink. The conversation thread calls
:meth:`Player.start`, :meth:`~Player.feed` (each ``audio_data`` as bytes),
:meth:`~Player.finish` (after ``audio_end``) and :meth:`~Player.stop`
(barge-in); none of them block on audio. Playback begins with the first
decodable bytes (see :mod:`agent.audio.decode`), never waiting for the end.

Callbacks run on the playback thread, never under the player's lock, so
they may call back into the player (they should only post events). For every
``start(reply_id)`` there is exactly one ``on_started(reply_id)`` followed by
exactly one ``on_finished(reply_id, interrupted)``: ``on_started`` when the
first sample goes to the sink (or right before ``on_finished`` if the reply
had no audio), ``on_finished(interrupted=False)`` once all of it has been
heard, ``interrupted=True`` after :meth:`~Player.stop`, a newer
:meth:`~Player.start`, or :meth:`~Player.close`.

Volume is a linear gain 0..1 applied to replies and sounds alike.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Protocol

import numpy as np
import soxr

from agent.audio.decode import DecodeError, ReplyDecoder
from agent.audio.frames import SAMPLE_RATE
from agent.audio.queued import QueuedReply, QueuedSound, SampleBuffer
from agent.audio.sinks import Sink

log = logging.getLogger(__name__)

_BLOCK_MS = 40  # write granularity: bounds how late stop() and volume changes take effect


class PlayerSettings(Protocol):
    """The fields of the configuration's ``audio.output`` the player uses."""

    @property
    def device(self) -> str | int: ...

    @property
    def file(self) -> str | None: ...

    @property
    def realtime(self) -> bool: ...

    @property
    def volume(self) -> float: ...


class Player:
    """Plays streamed replies and short sounds on one :class:`~agent.audio.sinks.Sink`.

    The player owns the sink: :meth:`close` closes it.
    """

    def __init__(
        self,
        sink: Sink,
        *,
        volume: float = 1.0,
        volume_step: float = 0.1,
        on_started: Callable[[str], None] | None = None,
        on_finished: Callable[[str, bool], None] | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.sink = sink
        self.volume_step = volume_step
        self.on_started = on_started
        self.on_finished = on_finished
        self.on_error = on_error
        self._volume = min(1.0, max(0.0, volume))
        self._muted = False
        self._cond = threading.Condition()
        self._reply: QueuedReply | None = None
        self._ended: deque[QueuedReply] = deque()  # replaced/stopped replies to report
        self._sounds: deque[QueuedSound] = deque()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="playback", daemon=True)
        self._thread.start()

    @classmethod
    def from_settings(
        cls,
        settings: PlayerSettings,
        *,
        on_started: Callable[[str], None] | None = None,
        on_finished: Callable[[str, bool], None] | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> Player:
        """A player on the sink ``audio.output`` describes, at its ``volume``."""
        from agent.audio.sinks import open_sink

        return cls(
            open_sink(settings, on_error=on_error),
            volume=settings.volume,
            on_started=on_started,
            on_finished=on_finished,
            on_error=on_error,
        )

    # -- reply control (any thread) -----------------------------------------

    def start(self, reply_id: str, content_type: str | None = None) -> None:
        """Begin reply ``reply_id``; a reply still playing is interrupted.

        ``content_type`` is the declared type, if any (e.g. the ``accept`` of
        ``tts_options``); the bytes themselves decide when they carry a magic.
        """
        decoder = ReplyDecoder(content_type)
        with self._cond:
            self._end_current()
            self._reply = QueuedReply(reply_id, decoder)
            self._cond.notify_all()

    def feed(self, data: bytes) -> None:
        """Add reply bytes. Dropped when no reply is active (e.g. after stop())."""
        with self._cond:
            reply = self._reply
            if reply is None or reply.finished:
                log.debug("playback: %d bytes with no active reply dropped", len(data))
                return
            if not reply.failed:
                reply.inbox.append(bytes(data))
                self._cond.notify_all()

    def finish(self) -> None:
        """The current reply has no more bytes; it ends once all of it is heard."""
        with self._cond:
            if self._reply is not None:
                self._reply.finished = True
                self._cond.notify_all()

    def stop(self) -> None:
        """Barge-in: silence the current reply now and drop its queued audio."""
        with self._cond:
            had_reply = self._end_current()
            self._cond.notify_all()
        if had_reply:
            self.sink.interrupt()

    @property
    def playing(self) -> bool:
        """True from start() until the reply has finished or been stopped."""
        with self._cond:
            return self._reply is not None

    def play_sound(self, samples: np.ndarray, rate: int = SAMPLE_RATE) -> threading.Event:
        """Play a short sound (int16 or float -1..1, mono) ahead of any reply audio.

        Returns an event that is set once the sound has been played (or dropped
        by :meth:`close`).
        """
        x = np.asarray(samples)
        if x.dtype.kind in "iu":
            x = x.astype(np.float32) / 32768
        x = np.ascontiguousarray(x, dtype=np.float32)
        if rate != self.sink.rate and len(x):
            x = soxr.resample(x, rate, self.sink.rate)
        pcm = SampleBuffer()
        pcm.put(x)
        sound = QueuedSound(pcm, threading.Event())
        with self._cond:
            if self._closing:
                sound.done.set()
            else:
                self._sounds.append(sound)
                self._cond.notify_all()
        return sound.done

    # -- volume (any thread) ----------------------------------------------

    @property
    def volume(self) -> float:
        """Volume 0..1 (kept while muted)."""
        return self._volume

    @volume.setter
    def volume(self, value: float) -> None:
        self._volume = round(min(1.0, max(0.0, float(value))), 6)

    @property
    def muted(self) -> bool:
        """True while muted."""
        return self._muted

    def mute(self) -> None:
        """Silence output without forgetting the volume."""
        self._muted = True

    def unmute(self) -> None:
        """Back to the volume before mute()."""
        self._muted = False

    def increase(self) -> None:
        """One step louder (and unmute)."""
        self._muted = False
        self.volume = self._volume + self.volume_step

    def decrease(self) -> None:
        """One step quieter."""
        self.volume = self._volume - self.volume_step

    @property
    def gain(self) -> float:
        """The gain applied right now (0 when muted)."""
        return 0.0 if self._muted else self._volume

    # -- lifetime ---------------------------------------------------------

    def close(self) -> None:
        """Stop everything, end the playback thread and close the sink."""
        with self._cond:
            self._end_current()
            self._closing = True
            for sound in self._sounds:
                sound.done.set()
            self._sounds.clear()
            self._cond.notify_all()
        self.sink.interrupt()
        self._thread.join(timeout=10)
        self.sink.close()

    def __enter__(self) -> Player:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- playback thread --------------------------------------------------

    def _end_current(self) -> bool:
        """Under the lock: retire the current reply as interrupted."""
        reply = self._reply
        if reply is None:
            return False
        self._reply = None
        self._ended.append(reply)
        return True

    def _has_work(self) -> bool:
        reply = self._reply
        return bool(
            self._closing
            or self._ended
            or self._sounds
            or (reply is not None and (reply.inbox or reply.pcm.size or reply.finished))
        )

    def _run(self) -> None:
        while True:
            block = max(1, self.sink.rate * _BLOCK_MS // 1000)  # a reopened device may differ
            with self._cond:
                self._cond.wait_for(self._has_work)
                if self._ended:
                    self._notify_end(self._ended.popleft(), interrupted=True)
                    continue
                if self._sounds:
                    sound = self._sounds[0]
                    x = sound.pcm.take(block)
                    if not sound.pcm.size:
                        self._sounds.popleft()
                elif self._closing:
                    break
                else:
                    reply = self._reply
                    assert reply is not None
                    self._step(reply, block)
                    continue
            self._write(x)
            if not sound.pcm.size:
                sound.done.set()
        for sound in self._sounds:
            sound.done.set()

    def _step(self, reply: QueuedReply, block: int) -> None:
        """One unit of work on the current reply. Called with the lock held; releases it."""
        if reply.inbox:
            data = b"".join(reply.inbox)
            reply.inbox.clear()
            self._cond.release()
            try:
                self._decode(reply, data, last=False)
            finally:
                self._cond.acquire()
        elif reply.pcm.size:
            x = reply.pcm.take(block)
            self._cond.release()
            try:
                if self._reply is not reply:
                    return  # stopped since the block was taken: do not play it
                if not reply.started:
                    reply.started = True
                    self._call(self.on_started, reply.reply_id)
                self._write(x)
            finally:
                self._cond.acquire()
        elif not reply.flushed:
            self._cond.release()
            try:
                self._decode(reply, b"", last=True)
            finally:
                self._cond.acquire()
            reply.flushed = True
        else:
            self._cond.release()
            try:
                self.sink.drain()
            finally:
                self._cond.acquire()
            if self._reply is reply:  # not stopped or replaced while draining
                self._reply = None
                self._notify_end(reply, interrupted=False)

    def _decode(self, reply: QueuedReply, data: bytes, last: bool) -> None:
        """Decode and resample (outside the lock); queue the samples at the sink's rate."""
        try:
            x = reply.decoder.finish() if last else reply.decoder.feed(data)
        except DecodeError as exc:
            message = f"reply {reply.reply_id}: undecodable audio dropped: {exc}"
            log.warning("playback: %s", message)
            reply.failed = True
            self._call(self.on_error, message)
            x = np.zeros(0, np.float32)
        rate = reply.decoder.rate
        if rate is not None and rate != self.sink.rate:
            if reply.resampler is None:
                reply.resampler = soxr.ResampleStream(rate, self.sink.rate, 1, dtype="float32")
            x = reply.resampler.resample_chunk(x, last=last)
        with self._cond:
            reply.pcm.put(x)

    def _write(self, x: np.ndarray) -> None:
        y = np.clip(np.rint(x * (self.gain * 32768)), -32768, 32767).astype(np.int16)
        self.sink.write(y)

    def _notify_end(self, reply: QueuedReply, interrupted: bool) -> None:
        """Report a reply's end, releasing the lock around the callbacks."""
        self._cond.release()
        try:
            if not reply.started:
                reply.started = True
                self._call(self.on_started, reply.reply_id)
            self._call(self.on_finished, reply.reply_id, interrupted)
        finally:
            self._cond.acquire()

    def _call(self, callback: Callable[..., None] | None, *args: object) -> None:
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:  # a faulty listener must not stop playback
            log.exception("playback callback failed")
