"""Debug recordings: each turn's streamed audio, reply audio and messages.

With ``debug.record_dir`` set, every turn leaves ``<time>-<id>.sent.wav`` (the
exact bytes sent as ``audio_data``), ``<time>-<id>.reply.raw`` (the reply audio
as received: PCM, WAV or Ogg, so it is kept undecoded) and
``<time>-<id>.json`` (the turn's gateway messages and events, audio elided).
Only the newest ``debug.keep`` turns are kept. Off by default: recordings
hold people's voices.
"""

from __future__ import annotations

import json
import logging
import time
import wave
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class TurnRecorder:
    """Collects one turn at a time and writes it when the turn ends."""

    def __init__(self, directory: str | Path, keep: int) -> None:
        self.dir = Path(directory)
        self.keep = keep
        self._stem: str | None = None
        self._sent = bytearray()
        self._reply = bytearray()
        self._log: list[dict[str, Any]] = []

    def begin(self, tid: str, reason: str) -> None:
        """A turn with transaction id ``tid`` starts."""
        if self._stem:
            self.end()
        self._stem = time.strftime("%Y%m%d-%H%M%S") + f"-{tid}"
        self._sent.clear()
        self._reply.clear()
        self._log = [{"ts": time.time(), "event": "turn", "id": tid, "reason": reason}]

    def sent_audio(self, data: bytes) -> None:
        """Audio sent as ``audio_data``."""
        if self._stem:
            self._sent += data

    def reply_audio(self, data: bytes) -> None:
        """Reply audio as received."""
        if self._stem:
            self._reply += data

    def message(self, msg: Any) -> None:
        """A gateway message of this turn (audio payloads are not logged)."""
        if not self._stem:
            return
        entry = asdict(msg) if is_dataclass(msg) and not isinstance(msg, type) else {"msg": msg}
        if isinstance(entry.get("audio"), bytes | bytearray):
            entry["audio"] = f"<{len(entry['audio'])} bytes>"
        entry.update(ts=time.time(), action=getattr(msg, "action", "?"))
        self._log.append(entry)

    def event(self, event: str, fields: dict[str, Any]) -> None:
        """An event emitted during this turn."""
        if self._stem:
            self._log.append({"ts": time.time(), "event": event, **fields})

    def end(self) -> None:
        """Write the turn's files and prune old turns; never raises."""
        stem, self._stem = self._stem, None
        if not stem:
            return
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            with wave.open(str(self.dir / f"{stem}.sent.wav"), "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(16000)
                w.writeframes(bytes(self._sent))
            if self._reply:
                (self.dir / f"{stem}.reply.raw").write_bytes(bytes(self._reply))
            (self.dir / f"{stem}.json").write_text(json.dumps(self._log, default=str, indent=1))
            self._prune()
        except OSError as exc:
            log.warning("debug recording not written: %s", exc)

    def _prune(self) -> None:
        turns = sorted(self.dir.glob("*.json"))
        for old in turns[: max(0, len(turns) - self.keep)]:
            for path in self.dir.glob(old.stem + ".*"):
                path.unlink(missing_ok=True)
