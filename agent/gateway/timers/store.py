"""The reference gateway's timers, kept in SQLite so that a restart loses none.

One row per timer: who set it (the device's ``owner`` key: its ``userID``, or
its connection), its name ("five-minute"), length, and the gateway's own wall
clock times (Unix seconds) when it was started, was due, fired and was
delivered. Wall clock, not monotonic: the times must mean the same thing
after a restart.

States: ``running`` -> ``finished`` (due; its announcement not yet delivered)
-> ``delivered``; or ``cancelled``; or ``expired`` (finished, but its device
did not come back within ``timers.max_ring_s``).

The store is used from the gateway's event loop; a lock makes the read-outs
that tests take from other threads safe too.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

DB_NAME = "timers.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS timers (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    seconds REAL NOT NULL,
    started REAL NOT NULL,
    due REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'running',
    fired REAL,
    delivered REAL
);
CREATE INDEX IF NOT EXISTS timers_owner ON timers (owner, state);
"""
_COLUMNS = "id, owner, name, seconds, started, due, state, fired, delivered"


@dataclass(frozen=True)
class Timer:
    """One timer as stored."""

    id: str
    owner: str
    name: str
    seconds: float
    started: float
    due: float
    state: str
    fired: float | None = None
    delivered: float | None = None

    def left_s(self, now: float) -> float:
        """Seconds until it is due (0 once due)."""
        return max(0.0, self.due - now)


class TimerStore:
    """Timers in SQLite: ``directory/timers.db``, or in memory when ``directory`` is None."""

    def __init__(self, directory: str | os.PathLike[str] | None) -> None:
        if directory is None:
            self.path: str = ":memory:"
        else:
            Path(directory).mkdir(parents=True, exist_ok=True)
            self.path = str(Path(directory) / DB_NAME)
        self._lock = threading.Lock()
        # One connection, used from the event loop and (read-only, under the lock)
        # from tests; isolation_level=None: every statement commits at once.
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        with self._lock:
            self._db.executescript(_SCHEMA)

    def _rows(self, where: str, args: tuple[object, ...] = ()) -> list[Timer]:
        with self._lock:
            cur = self._db.execute(f"SELECT {_COLUMNS} FROM timers WHERE {where}", args)
            return [Timer(*row) for row in cur.fetchall()]

    def _set(self, sql: str, args: tuple[object, ...]) -> int:
        with self._lock:
            return self._db.execute(sql, args).rowcount

    def add(self, owner: str, name: str, seconds: float, now: float) -> Timer:
        """Start a timer of ``seconds`` for ``owner`` at ``now``."""
        timer = Timer(str(uuid.uuid4()), owner, name, float(seconds), now, now + seconds, "running")
        self._set(
            "INSERT INTO timers (id, owner, name, seconds, started, due, state)"
            " VALUES (?, ?, ?, ?, ?, ?, 'running')",
            (timer.id, owner, name, timer.seconds, timer.started, timer.due),
        )
        return timer

    def running(self, owner: str) -> list[Timer]:
        """``owner``'s running timers, the soonest first."""
        return self._rows("owner = ? AND state = 'running' ORDER BY due", (owner,))

    def cancel(self, timer_id: str) -> bool:
        """Cancel a running timer; False when it was not running."""
        return self._set(
            "UPDATE timers SET state = 'cancelled' WHERE id = ? AND state = 'running'",
            (timer_id,),
        ) == 1

    def next_due(self) -> float | None:
        """When the soonest running timer is due, or None."""
        with self._lock:
            row = self._db.execute("SELECT MIN(due) FROM timers WHERE state = 'running'").fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def fire_due(self, now: float) -> list[Timer]:
        """Mark every running timer due by ``now`` finished (fired at ``now``); returns them."""
        due = self._rows("state = 'running' AND due <= ? ORDER BY due", (now,))
        for t in due:
            self._set("UPDATE timers SET state = 'finished', fired = ? WHERE id = ?", (now, t.id))
        return [self.get(t.id) for t in due]

    def undelivered(self, owner: str) -> list[Timer]:
        """``owner``'s finished timers whose announcement has not been delivered."""
        return self._rows("owner = ? AND state = 'finished' ORDER BY due", (owner,))

    def delivered(self, timer_id: str, now: float) -> None:
        """The announcement of ``timer_id`` was sent to its device at ``now``."""
        self._set(
            "UPDATE timers SET state = 'delivered', delivered = ?"
            " WHERE id = ? AND state = 'finished'",
            (now, timer_id),
        )

    def expire(self, now: float, cap_s: float) -> int:
        """Finished timers not delivered within ``cap_s`` of being due expire; how many did."""
        return self._set(
            "UPDATE timers SET state = 'expired' WHERE state = 'finished' AND due < ?",
            (now - cap_s,),
        )

    def forget_owners(self, prefix: str) -> int:
        """Expire the running and finished timers of every owner starting with ``prefix``."""
        return self._set(
            "UPDATE timers SET state = 'expired'"
            " WHERE substr(owner, 1, ?) = ? AND state IN ('running', 'finished')",
            (len(prefix), prefix),
        )

    def get(self, timer_id: str) -> Timer:
        """One timer by id (KeyError when unknown)."""
        rows = self._rows("id = ?", (timer_id,))
        if not rows:
            raise KeyError(timer_id)
        return rows[0]

    def all(self) -> list[Timer]:
        """Every timer, oldest first (for tests and inspection)."""
        return self._rows("1 ORDER BY started")

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()
