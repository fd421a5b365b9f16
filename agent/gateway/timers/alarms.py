"""Timers that ring: the scheduler, delivery to the right device, and ``announce`` requests.

:class:`TimerService` runs on the gateway's event loop. Skills start, list and
cancel timers through a :class:`Book` (one per device: ``dialog.timers``);
when a timer is due the service sends that device the announcement
"Your five-minute timer is done." with its audio and a ``timer`` card
(``event: finished``), in the announcement form of the protocol (an id the
device never opened).

Devices are told apart by ``owner``: the ``userID`` query parameter when the
device sends one, else ``connection-N``. A device that is away when its timer
finishes gets the announcement when it connects again, if that is within
``timers.max_ring_s`` of the due time; after that the timer expires. Timers of
``connection-N`` owners cannot outlive the gateway process (the numbers start
again at 1), so a start expires them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from agent.gateway.timers.store import Timer, TimerStore
from agent.link.protocol import Announce, GatewayError, Response

log = logging.getLogger(__name__)

CONNECTION_OWNER = "connection-"


Speak = Callable[[str], Awaitable[bytes]]
"""Speech of one text in the gateway's own voice (16 kHz mono s16le)."""


class Target(Protocol):
    """A device connection that can be spoken to (a :class:`~agent.gateway.session.Session`)."""

    owner: str

    async def announce(
        self, text: str, card: dict[str, Any] | None, speech: bytes | None = None
    ) -> None:
        """Send ``text`` as an announcement, spoken, with ``card`` as its ``timer`` card.

        ``speech``: the text already spoken in the gateway's voice (a timer's,
        made when it was set), used unless the device asked for another voice.
        """
        ...

    async def answer(self, msg: Response | GatewayError) -> None:
        """Send one message to this connection."""
        ...


def finished_card(timer: Timer) -> dict[str, Any]:
    """The ``timer`` card of a finished timer's announcement."""
    return {"id": timer.id, "name": timer.name, "event": "finished", "seconds": timer.seconds}


def done_text(timer: Timer) -> str:
    """What the device says when ``timer`` finishes."""
    return f"Your {timer.name} timer is done."


class Book:
    """One device's timers, for the skills (``dialog.timers``); called on the event loop."""

    def __init__(self, service: TimerService, owner: str) -> None:
        self._service = service
        self.owner = owner

    def start(self, seconds: float, name: str) -> dict[str, Any]:
        """Start a timer; its ``timer`` card (``event: started``)."""
        timer = self._service.store.add(self.owner, name, seconds, self._service.clock())
        log.info("timer %s (%s, %g s) started for %s", timer.id, name, seconds, self.owner)
        self._service.prepare(timer)
        self._service.changed()
        return {"id": timer.id, "name": name, "event": "started", "seconds": timer.seconds}

    def running(self) -> list[tuple[dict[str, Any], float]]:
        """(card, seconds left) of each running timer, the soonest first."""
        now = self._service.clock()
        return [
            ({"id": t.id, "name": t.name, "event": "started", "seconds": t.seconds}, t.left_s(now))
            for t in self._service.store.running(self.owner)
        ]

    def cancel(self, timer_id: str) -> bool:
        """Cancel one running timer."""
        ok = self._service.store.cancel(timer_id)
        if ok:
            log.info("timer %s cancelled by %s", timer_id, self.owner)
            self._service.forget(timer_id)
            self._service.changed()
        return ok


class TimerService:
    """Fires due timers and delivers their announcements (see the module docstring)."""

    def __init__(
        self,
        store: TimerStore,
        max_ring_s: float,
        *,
        clock: Callable[[], float] = time.time,
        speak: Speak | None = None,
    ) -> None:
        self.store = store
        self.max_ring_s = max_ring_s
        self.clock = clock
        self.speak = speak
        """Makes each timer's announcement when the timer is set, so it rings on time
        (making it at the due time took 1.5 s of espeak-ng); None: made at delivery."""
        self._speech: dict[str, asyncio.Task[bytes]] = {}
        self._targets: dict[str, list[Target]] = {}
        self._wake: asyncio.Event | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # ---------------------------------------------------------------- devices
    def attach(self, target: Target) -> Book:
        """A device connected: deliver what finished while it was away; its book."""
        self._targets.setdefault(target.owner, []).append(target)
        self._spawn(self._deliver_pending(target.owner))
        return Book(self, target.owner)

    def detach(self, target: Target) -> None:
        """A device disconnected."""
        live = self._targets.get(target.owner, [])
        if target in live:
            live.remove(target)
        if not live:
            self._targets.pop(target.owner, None)

    def prepare(self, timer: Timer) -> None:
        """Start making ``timer``'s announcement now (on the event loop)."""
        if self.speak is None or timer.id in self._speech:
            return
        task = asyncio.ensure_future(self.speak(done_text(timer)))
        # Retrieved here: a failure only means the speech is made at delivery.
        task.add_done_callback(lambda t: None if t.cancelled() else t.exception())
        self._speech[timer.id] = task

    def forget(self, timer_id: str) -> None:
        """Drop a timer's prepared speech (cancelled, delivered or expired)."""
        task = self._speech.pop(timer_id, None)
        if task is not None:
            task.cancel()

    def _prepared(self, timer: Timer) -> bytes | None:
        """The timer's speech if it is made; None (made at delivery) if not yet or failed."""
        task = self._speech.get(timer.id)
        if task is None or not task.done() or task.cancelled() or task.exception() is not None:
            return None
        return task.result()

    def changed(self) -> None:
        """A timer was added or cancelled: the scheduler looks again."""
        if self._wake is not None:
            self._wake.set()

    # -------------------------------------------------------------- schedule
    async def run(self, stop: asyncio.Event) -> None:
        """Fire timers until ``stop`` is set."""
        self._wake = asyncio.Event()
        expired = self.store.expire(self.clock(), self.max_ring_s)
        self.store.forget_owners(CONNECTION_OWNER)  # their connections died with the last process
        if expired:
            log.info("%d finished timers were not delivered within the cap; expired", expired)
        for timer in self.store.all():  # set before a restart: their speech is made now
            if timer.state == "running":
                self.prepare(timer)
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                await self._fire()
                nxt = self.store.next_due()
                wait = None if nxt is None else max(0.0, nxt - self.clock())
                self._wake.clear()
                waker = asyncio.ensure_future(self._wake.wait())
                await asyncio.wait({stopping, waker}, timeout=wait, return_when="FIRST_COMPLETED")
                waker.cancel()
        finally:
            stopping.cancel()
            for task in [*self._tasks, *self._speech.values()]:
                task.cancel()

    async def _fire(self) -> None:
        now = self.clock()
        for timer in self.store.fire_due(now):
            log.info("timer %s (%s) of %s finished", timer.id, timer.name, timer.owner)
            self._spawn(self._deliver_pending(timer.owner))
        self.store.expire(now, self.max_ring_s)

    async def _deliver_pending(self, owner: str) -> None:
        for timer in self.store.undelivered(owner):
            if self.clock() - timer.due > self.max_ring_s:
                continue  # expired: too late to ring
            speech = self._prepared(timer)
            for target in list(self._targets.get(owner, [])):
                try:
                    await target.announce(done_text(timer), finished_card(timer), speech)
                except Exception as exc:  # noqa: BLE001 - that connection is going away
                    log.info("timer %s: delivery to %s failed: %s", timer.id, owner, exc)
                    continue
                self.store.delivered(timer.id, self.clock())
                self.forget(timer.id)
                break  # one connection of that device is enough

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------ announce
    async def request(self, sender: Target, msg: Announce) -> None:
        """An ``announce`` request: speak ``msg.text`` on one device or on all of them."""
        if msg.device is not None:
            targets = list(self._targets.get(msg.device, []))[:1]
            if not targets:
                await sender.answer(GatewayError(msg.id, f"device {msg.device!r} is not connected"))
                return
        else:
            targets = [ts[0] for owner, ts in self._targets.items() if sender not in ts]
        spoken: list[str] = []
        for target in targets:
            try:
                await target.announce(msg.text, None)
            except Exception as exc:  # noqa: BLE001 - one bad device must not stop the rest
                log.info("announce to %s failed: %s", target.owner, exc)
                continue
            spoken.append(target.owner)
        log.info("announced %r on %s", msg.text, ", ".join(spoken) or "no device")
        summary = f"Announced on {len(spoken)} device{'' if len(spoken) == 1 else 's'}."
        await sender.answer(Response(msg.id, {"speech": {"text": summary}, "announced": spoken}))
