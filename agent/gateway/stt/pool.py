"""Speech to text off the event loop: a pool of worker processes.

pocketsphinx holds the GIL while it decodes (measured here: a 5 s utterance
stalled another thread for 2.5 s), so a thread pool would freeze every other
connection during a transcription. Worker processes do not; each loads its
engine(s) once, in the pool's initializer, and keeps them for its lifetime.

Grammars may change at run time (Home Assistant's device names):
:meth:`SttPool.update_searches` gives them a new version, and each
transcription carries the current version of its grammar, so a worker that
holds an older one compiles the new one first (a pool cannot address its
workers one by one; a grammar is a few kB next to the audio).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Mapping
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from agent.gateway.stt.engine import SttEngine, SttError, Transcript
from agent.gateway.stt.factory import BATCH_ENGINES, create_engine
from agent.gateway.stt.speed import SpeedWatch

log = logging.getLogger(__name__)

__all__ = ["SttError", "SttPool"]

_ENGINES: dict[str, SttEngine] = {}  # per worker process
_INIT: dict[str, Any] = {}
_VERSIONS: dict[tuple[str, str], int] = {}  # per worker: (engine, search) -> version held


def _init_worker(
    default: str, searches: Mapping[str, str], pronunciations: Mapping[str, str]
) -> None:
    # Loaded here, once per process; other engines on first use.
    # Ctrl-C reaches the whole process group: the parent decides when workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.getLogger("agent").setLevel(logging.WARNING)
    _INIT.update(searches=dict(searches), pronunciations=dict(pronunciations))
    _ENGINES[default] = create_engine(default, searches, pronunciations)


def _engine(name: str) -> SttEngine:
    if name not in _ENGINES:
        _ENGINES[name] = create_engine(name, _INIT["searches"], _INIT["pronunciations"])
    return _ENGINES[name]


def _transcribe(
    engine: str,
    pcm: bytes,
    search: str | None,
    update: tuple[int, str] | None = None,
    open_vocabulary: bool = False,
) -> Transcript:
    stt = _engine(engine)
    if search is not None and update is not None:
        _refresh(stt, engine, search, update)
    return stt.transcribe(pcm, search, open_vocabulary)


def _refresh(stt: SttEngine, engine: str, search: str, update: tuple[int, str]) -> None:
    """Compile ``search``'s newer grammar in this worker, once per version."""
    version, jsgf = update
    if _VERSIONS.get((engine, search)) == version or not hasattr(stt, "set_search"):
        return
    _VERSIONS[(engine, search)] = version  # not retried when it fails: logged once
    try:
        stt.set_search(search, jsgf)
    except (ValueError, RuntimeError) as exc:
        log.error("grammar %r version %d not used: %s", search, version, exc)


def _ready(hold_s: float) -> int:
    time.sleep(hold_s)  # keeps this worker busy so the next call lands on another
    return os.getpid()


class SttPool:
    """Worker processes running :class:`~agent.gateway.stt.SttEngine` s."""

    def __init__(
        self,
        searches: Mapping[str, str],
        pronunciations: Mapping[str, str] | None = None,
        *,
        workers: int = 2,
        default_engine: str = "pocketsphinx",
    ) -> None:
        if default_engine not in BATCH_ENGINES:
            raise ValueError(f"unknown speech-to-text engine {default_engine!r}")
        self.default_engine = default_engine
        self.workers = workers
        self._args = (default_engine, dict(searches), dict(pronunciations or {}))
        self.speed = SpeedWatch(workers)
        self._live: dict[str, tuple[int, str]] = {}  # search -> (version, JSGF) since start
        self._version = 0
        self._executor = self._start()

    def _start(self) -> concurrent.futures.ProcessPoolExecutor:
        # spawn, not fork: the gateway may run in a thread of a bigger process
        # (tests, the demo), and forking a threaded process is unsafe.
        return concurrent.futures.ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=self._args,
        )

    def update_searches(self, searches: Mapping[str, str]) -> None:
        """Replace (or add) named grammars; workers pick them up with their next utterance."""
        self._version += 1
        for name, jsgf in searches.items():
            self._live[name] = (self._version, jsgf)

    def engine_for(self, requested: object) -> str:
        """The engine to use for a client's ``engine`` option (unknown names: the default)."""
        if isinstance(requested, str) and requested in BATCH_ENGINES:
            return requested
        return self.default_engine

    def warm_up(self, timeout: float = 120.0) -> None:
        """Start every worker and load its engine now (raises SttError if that fails).

        Returns once each worker has answered, so a gateway that listens after
        this has every model loaded. One worker that loaded first may take
        every call of a round while another is still loading (on a slow board
        that takes longer than the calls' hold), so rounds go on until each
        worker's pid has been seen.
        """
        deadline = time.monotonic() + timeout
        seen: set[int] = set()
        try:
            while len(seen) < self.workers:
                futures = [self._executor.submit(_ready, 0.2) for _ in range(self.workers)]
                for f in futures:
                    seen.add(f.result(timeout=max(0.0, deadline - time.monotonic())))
        except (BrokenProcessPool, concurrent.futures.TimeoutError) as exc:
            raise SttError(f"speech-to-text workers failed to start: {exc!r}") from None
        log.debug("speech to text: %d worker(s) loaded", len(seen))

    async def transcribe(
        self,
        pcm: bytes,
        *,
        engine: str | None = None,
        search: str | None = None,
        open_vocabulary: bool = False,
    ) -> Transcript:
        """Recognise one utterance in a worker (raises SttError); ``open_vocabulary``:
        see :attr:`~agent.gateway.stt.stream.StreamContext.open_vocabulary`."""
        loop = asyncio.get_running_loop()
        name = engine or self.default_engine
        try:
            update = self._live.get(search) if search is not None else None
            job = (name, pcm, search, update, open_vocabulary)
            result = await loop.run_in_executor(self._executor, _transcribe, *job)
        except BrokenProcessPool:
            log.error("a speech-to-text worker died; restarting the pool")
            old, self._executor = self._executor, self._start()
            old.shutdown(wait=False, cancel_futures=True)
            raise SttError("speech-to-text worker died") from None
        except Exception as exc:  # an engine bug must not take the connection down
            log.exception("speech to text failed")
            raise SttError(f"speech to text failed: {exc}") from None
        self.speed.observe(result)
        return result

    def close(self) -> None:
        """Stop the workers (waits for running recognitions)."""
        self._executor.shutdown(wait=True, cancel_futures=True)
