"""The timer skills: set a timer, how much time is left, cancel the timer.

Timers are real when the gateway runs them (``dialog.timers``, an
:class:`agent.gateway.timers.alarms.Book` per device); each is named by its duration
("the five-minute timer"), several may run at once, and every reply about one
carries a ``timer`` card (``response.data.timer``). The skills need the book:
without one (skills used where no gateway runs the timers) they raise
:class:`NoTimerBook` rather than promise a timer that would never ring.

Durations: "five minutes", "a second", "half an hour", "ninety seconds" ...
(:func:`parse_duration`), said back by :func:`say_duration`.
"""

from __future__ import annotations

import math
import re
from typing import Any

from agent.gateway.dialog.skills import Reply, Request, Skills

_UNITS = {"second": 1, "minute": 60, "hour": 3600}
_WORD_NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "forty five": 45,
    "fifty": 50,
    "sixty": 60,
    "ninety": 90,
}
_NAMES = {v: k for k, v in _WORD_NUMBERS.items() if k not in ("a", "an")}
_NUMBER_RE = "|".join(sorted(map(re.escape, _WORD_NUMBERS), key=len, reverse=True))
_DURATION_RE = re.compile(
    rf"\b(?:(?P<half>half an hour)|(?P<n>{_NUMBER_RE}) (?P<unit>second|minute|hour)s?)\b"
)
_NAME_RE = re.compile(rf"\b(?P<name>(?:{_NUMBER_RE}) (?:second|minute|hour)) timer\b")

RULES = {
    "number": "two | three | four | five | six | seven | eight | nine | ten | fifteen"
    " | twenty | thirty | forty | forty five | fifty | sixty | ninety",
    "duration": "(a | one) (second | minute | hour)"
    " | <number> (seconds | minutes | hours) | half an hour",
    "timer_name": "(one | <number>) (second | minute | hour)",
}


def parse_duration(text: str) -> int | None:
    """Seconds in a spoken duration ("five minutes", "half an hour"), or None."""
    m = _DURATION_RE.search(text)
    if m is None:
        return None
    if m.group("half"):
        return 1800
    return _WORD_NUMBERS[m.group("n")] * _UNITS[m.group("unit")]


def say_duration(seconds: int) -> str:
    """ "five minutes", "one hour", "90 seconds"..."""
    for unit, size in (("hour", 3600), ("minute", 60), ("second", 1)):
        if seconds % size == 0:
            n = seconds // size
            word = _NAMES.get(n, str(n))
            return f"{word} {unit}" + ("" if n == 1 else "s")
    return f"{seconds} seconds"


def timer_name(seconds: int) -> str:
    """A timer's name as people say it: its duration as an adjective, hyphenated
    ("five-second", "forty-five-minute": "the five-second timer")."""
    if seconds == 1800:
        return "thirty-minute"
    phrase = say_duration(seconds)
    return spelled(phrase[:-1] if phrase.endswith("s") else phrase)


def spelled(name: str) -> str:
    """A timer name as written ("five minute" as heard -> "five-minute")."""
    return "-".join(name.split())


def say_left(seconds: float) -> str:
    """Time left in words: "4 minutes and 12 seconds", "1 hour and 3 minutes"."""
    total = max(0, math.ceil(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [
        f"{n} {unit}{'' if n == 1 else 's'}"
        for n, unit in ((hours, "hour"), (minutes, "minute"), (secs, "second"))
        if n
    ][:2]
    return " and ".join(parts) if parts else "no time"


class NoTimerBook(RuntimeError):
    """The timer skills were asked with no gateway timers (``dialog.timers``) to keep them."""

    def __init__(self) -> None:
        super().__init__(
            "the timer skills need the gateway's timers (dialog.timers is not set): "
            "run them in a gateway"
        )


def _book(req: Request) -> Any:
    """The device's :class:`agent.gateway.alarms.Book`; a missing one is a set-up error."""
    if req.dialog.timers is None:
        raise NoTimerBook
    return req.dialog.timers


def _named(req: Request) -> str | None:
    m = _NAME_RE.search(req.text)
    return spelled(m.group("name")) if m else None


def set_timer(req: Request) -> Reply:
    """Two turns when needed: "set a timer" -> "For how long?" -> "five seconds"."""
    seconds = parse_duration(req.text)
    if seconds is not None:
        card = _book(req).start(seconds, timer_name(seconds))
        return Reply(f"Okay, a timer for {say_duration(seconds)}, starting now.", timer=card)
    if not req.followup:
        return Reply("For how long?", prompt=True)
    req.state["retries"] = req.state.get("retries", 0) + 1
    if req.state["retries"] > 1:
        return Reply("Sorry, I still didn't get it. No timer then.")
    return Reply("Sorry, for how long? For example, five minutes.", prompt=True)


def _running(req: Request) -> tuple[list[tuple[dict[str, Any], float]], str | None]:
    """The running timers the request means (the named one only, if named) and the name."""
    timers = list(_book(req).running())
    name = _named(req)
    if name is not None:
        # spelled(): a timer kept from before names were hyphenated matches too.
        timers = [t for t in timers if spelled(t[0]["name"]) == name]
    return timers, name


def time_left(req: Request) -> Reply:
    """How long each running timer has left (the named one only, when one is named)."""
    timers, name = _running(req)
    if not timers:
        return Reply(f"You have no {name} timer." if name is not None else "You have no timers.")
    said = [f"the {card['name']} timer has {say_left(left)} left" for card, left in timers]
    if len(said) == 1:
        return Reply(said[0][0].upper() + said[0][1:] + ".", timer=timers[0][0])
    return Reply(f"You have {len(said)} timers: " + "; ".join(said) + ".")


def cancel_timer(req: Request) -> Reply:
    """Cancel the timer (the named one; with several and no name, ask which)."""
    timers, name = _running(req)
    if not timers:
        return Reply(f"You have no {name} timer." if name is not None
                     else "You have no timers to cancel.")
    if len(timers) > 1 and name is None:
        names = " and ".join(f"the {card['name']} timer" for card, _ in timers)
        return Reply(
            f"You have {len(timers)} timers: {names}. "
            f"Say, for example, cancel the {timers[0][0]['name']} timer."
        )
    card = timers[0][0]
    _book(req).cancel(card["id"])
    text = f"Okay, the {card['name']} timer is cancelled."
    return Reply(text, timer={**card, "event": "cancelled"})


def register_timers(skills: Skills) -> None:
    """Add the timer rules and skills to ``skills``."""
    skills.rules.update(RULES)
    # Registration order is keyword order: "cancel my timer" must not reach "timer".
    skills.skill(
        "timer_left",
        phrases=["how much time is left [on the timer | on the <timer_name> timer]"],
        keywords=r"\b(?:time|how long) (?:is )?left\b",
    )(time_left)
    skills.skill(
        "timer_cancel",
        phrases=["cancel the timer", "cancel the <timer_name> timer"],
        keywords=r"^(?:cancel|stop|delete) (?:the |my )?(?:\w+ )*timer\b",
    )(cancel_timer)
    skills.skill(
        "timer",
        phrases=["(set | start) a timer [for <duration>]"],
        followup=["[for] <duration>"],
        keywords=r"\btimer\b",
    )(set_timer)
