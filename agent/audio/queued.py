"""What the player has queued: a growing sample buffer, a streamed reply, a sound."""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import soxr

from agent.audio.decode import ReplyDecoder

log = logging.getLogger(__name__)


class SampleBuffer:
    """A FIFO of float32 sample arrays."""

    def __init__(self) -> None:
        self._parts: deque[np.ndarray] = deque()
        self.size = 0

    def put(self, x: np.ndarray) -> None:
        if len(x):
            self._parts.append(x)
            self.size += len(x)

    def take(self, n: int) -> np.ndarray:
        out: list[np.ndarray] = []
        while n > 0 and self._parts:
            head = self._parts[0]
            if len(head) <= n:
                out.append(self._parts.popleft())
                n -= len(head)
            else:
                out.append(head[:n])
                self._parts[0] = head[n:]
                n = 0
        taken = np.concatenate(out) if out else np.zeros(0, np.float32)
        self.size -= len(taken)
        return taken


@dataclass(eq=False)
class QueuedReply:
    reply_id: str
    decoder: ReplyDecoder
    inbox: list[bytes] = field(default_factory=list)
    finished: bool = False  # finish() was called
    flushed: bool = False  # decoder and resampler tails are in `pcm`
    failed: bool = False  # undecodable: further bytes are dropped
    pcm: SampleBuffer = field(default_factory=SampleBuffer)  # at the sink's rate
    resampler: soxr.ResampleStream | None = None
    started: bool = False  # on_started was called (playback thread only)


@dataclass(eq=False)
class QueuedSound:
    pcm: SampleBuffer
    done: threading.Event
