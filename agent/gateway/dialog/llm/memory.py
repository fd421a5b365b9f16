"""The conversation of each device: its last turns, forgotten after a while.

Keyed by the device (:attr:`agent.gateway.dialog.agent.Peer.device`: its
``userID``, else its connection), so two devices never see each other's
history, and two connections of one device share theirs. Only the user's words
and what was said back are kept (not the tool rounds): that is what a person
remembers of a conversation, and it keeps the request small.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class _Conversation:
    turns: list[tuple[str, str]] = field(default_factory=list)
    used: float = 0.0


class Memory:
    """Per-device history, ``history_turns`` turns long, forgotten after ``forget_after_s``."""

    def __init__(self, history_turns: int, forget_after_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.history_turns = history_turns
        self.forget_after_s = forget_after_s
        self._clock = clock
        self._devices: dict[str, _Conversation] = {}

    def messages(self, device: str) -> list[dict[str, Any]]:
        """The device's remembered turns as chat messages (oldest first)."""
        self._forget_idle()
        conv = self._devices.get(device)
        if conv is None:
            return []
        out: list[dict[str, Any]] = []
        for user, assistant in conv.turns:
            out.append({"role": "user", "content": user})
            out.append({"role": "assistant", "content": assistant})
        return out

    def add(self, device: str, user: str, assistant: str) -> None:
        """Remember one turn (what was said back, even when cut short)."""
        if self.history_turns <= 0:
            return
        conv = self._devices.setdefault(device, _Conversation())
        conv.turns.append((user, assistant))
        del conv.turns[: -self.history_turns]
        conv.used = self._clock()

    def _forget_idle(self) -> None:
        now = self._clock()
        for device in [d for d, c in self._devices.items()
                       if now - c.used > self.forget_after_s]:
            del self._devices[device]

    def __len__(self) -> int:
        self._forget_idle()
        return len(self._devices)
