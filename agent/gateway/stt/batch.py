"""A batch engine (pocketsphinx in the worker pool) behind the streaming interface.

The audio is collected as it arrives and run through the gateway's own
endpointer (:class:`~agent.gateway.stt.endpoint.Endpointer`, in audio time): its
end of speech is this engine's end of turn. Then the utterance, up to that
sample, is recognised in one go in a worker process. Without endpointing
(``?endpointing=false``) only :meth:`finish` ends it.
"""

from __future__ import annotations

import logging

from agent.gateway.stt.endpoint import Endpointer
from agent.gateway.stt.pool import SttPool
from agent.gateway.stt.stream import StreamBase, StreamContext, SttListener

log = logging.getLogger(__name__)


class BatchStream(StreamBase):
    """Endpointer while the audio streams, then one recognition in the pool."""

    def __init__(
        self, listener: SttListener, context: StreamContext, pool: SttPool, engine: str
    ) -> None:
        self.engine = engine
        self._pool = pool
        self._pcm = bytearray()
        self._endpointer = (
            Endpointer(silence_ms=context.silence_ms) if context.endpointing else None
        )
        super().__init__(listener, context)

    async def _run(self) -> None:
        reason: str | None = None
        end: int | None = None
        while (chunk := await self._take()) is not None:
            self._pcm += chunk
            if self._endpointer is not None:
                ended = self._endpointer.feed(chunk)
                self.heard = self._endpointer.speech_start is not None
                if ended is not None:
                    reason, end = "gateway", ended
                    break
            if self._no_speech_due():
                reason, end = "no_speech", self.samples
                break
        pcm = bytes(self._pcm if end is None else self._pcm[: 2 * end])
        result = await self._pool.transcribe(
            pcm,
            engine=self.engine,
            search=self.context.search,
            open_vocabulary=self.context.open_vocabulary,
        )
        if end is not None:
            self.samples = end  # the utterance ended there; later audio is not transcribed
        self._final(result, reason)
