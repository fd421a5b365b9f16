"""The reference gateway's built-in skills, registered into ``SKILLS``.

:func:`default_skills` returns that registry; importing this module fills it.

Phrases are deliberately few and distinct: every phrase widens the grammar the
recogniser chooses from, and near-homophones ("hi" / "five") cost accuracy.
"""

from __future__ import annotations

import re

from agent.gateway.dialog.skills import Reply, Request, Skills

SKILLS = Skills()
"""The built-in registry: every ``@SKILLS.skill`` below adds to it on import."""


def default_skills() -> Skills:
    """The registry with the built-in skills loaded."""
    return SKILLS


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
_NUMBER_RE = "|".join(sorted(map(re.escape, _WORD_NUMBERS), key=len, reverse=True))
_DURATION_RE = re.compile(
    rf"\b(?:(?P<half>half an hour)|(?P<n>{_NUMBER_RE}) (?P<unit>second|minute|hour)s?)\b"
)

SKILLS.rules.update(
    {
        "number": "two | three | four | five | six | seven | eight | nine | ten | fifteen"
        " | twenty | thirty | forty | forty five | fifty | sixty | ninety",
        "duration": "(a | one) (second | minute | hour)"
        " | <number> (seconds | minutes | hours) | half an hour",
        "echo_text": "hello world | good morning | good night | testing one two three"
        " | i am a voice agent",
    }
)

SKILLS.pronunciations["unmute"] = "AH N M Y UW T"


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
    names = {v: k for k, v in _WORD_NUMBERS.items() if k not in ("a", "an")}
    for unit, size in (("hour", 3600), ("minute", 60), ("second", 1)):
        if seconds % size == 0:
            n = seconds // size
            word = names.get(n, str(n))
            return f"{word} {unit}" + ("" if n == 1 else "s")
    return f"{seconds} seconds"


@SKILLS.skill(
    "echo",
    phrases=["(say | repeat [after me]) <echo_text>"],
    keywords=r"^(?:say|repeat(?: after me)?) \S",
)
def echo(req: Request) -> Reply:
    """Say back whatever follows "say" or "repeat (after me)"."""
    rest = re.sub(r"^(?:say|repeat(?: after me)?)\s+", "", req.text)
    return Reply(rest or "You didn't tell me what to say.")


@SKILLS.skill(
    "time",
    phrases=["what time is it", "what is the time", "tell me the time"],
    keywords=r"\btime\b",
)
def time_of_day(req: Request) -> Reply:
    """The time of day, in the gateway's time zone."""
    hour = req.now.hour % 12 or 12
    return Reply(f"It is {hour}:{req.now.minute:02d} {'AM' if req.now.hour < 12 else 'PM'}.")


@SKILLS.skill(
    "date",
    phrases=["what day is it [today]", "what is the date [today]"],
    keywords=r"\b(?:date|day|today)\b",
)
def date(req: Request) -> Reply:
    """Today's date."""
    return Reply(f"Today is {req.now:%A}, {req.now:%B} {req.now.day}, {req.now.year}.")


@SKILLS.skill(
    "greeting",
    phrases=["hi [there]", "hello [there]", "good (morning | afternoon | evening)"],
    keywords=r"^(?:hi|hello|hey|good (?:morning|afternoon|evening))\b",
)
def greeting(req: Request) -> Reply:
    """Hello back, and listen for what the user wants."""
    return Reply("Hello! What can I do for you?", prompt=True)


@SKILLS.skill(
    "pool",
    phrases=["do you have a pool", "is there a pool", "where is the pool", "when is the pool open"],
    keywords=r"\b(?:pool|swim|swimming)\b",
)
def pool(req: Request) -> Reply:
    """A hotel question with a fixed answer."""
    return Reply("Yes, there is a heated pool on the roof, open from 7 to 10.")


@SKILLS.skill(
    "timer",
    phrases=["(set | start) a timer [for <duration>]"],
    followup=["[for] <duration>"],
    keywords=r"\btimer\b",
)
def timer(req: Request) -> Reply:
    """Two turns when needed: "set a timer" -> "For how long?" -> "five minutes"."""
    seconds = parse_duration(req.text)
    if seconds is not None:
        return Reply(f"Okay, a timer for {say_duration(seconds)}, starting now.")
    if not req.followup:
        return Reply("For how long?", prompt=True)
    req.state["retries"] = req.state.get("retries", 0) + 1
    if req.state["retries"] > 1:
        return Reply("Sorry, I still didn't get it. No timer then.")
    return Reply("Sorry, for how long? For example, five minutes.", prompt=True)


_COMMANDS = {
    "volume up": ("volume", "increase"),
    "turn the volume up": ("volume", "increase"),
    "turn it up": ("volume", "increase"),
    "louder": ("volume", "increase"),
    "volume down": ("volume", "decrease"),
    "turn the volume down": ("volume", "decrease"),
    "turn it down": ("volume", "decrease"),
    "quieter": ("volume", "decrease"),
    "mute": ("volume", "mute"),
    "unmute": ("volume", "unmute"),
    "stop the music": ("playback", "stop"),
    "stop playing": ("playback", "stop"),
    "resume the music": ("playback", "resume"),
    "resume playing": ("playback", "resume"),
}
_COMMAND_WORDS = {"stop": ("playback", "stop"), "resume": ("playback", "resume")}


@SKILLS.skill(
    "device",
    phrases=list(_COMMANDS),
    keywords=r"^(?:volume (?:up|down)|louder|quieter|mute|unmute|stop|resume)$",
)  # single words like "stop" are typed-text only: spoken, they are too easily misheard
def device(req: Request) -> Reply:
    """Volume and playback commands, sent to the device as a command card."""
    feature, action = _COMMANDS.get(req.text) or _COMMAND_WORDS.get(req.text, ("volume", "mute"))
    card = {"type": "command", "content": {"feature": feature, "action": action}}
    return Reply("Okay.", card=card)


@SKILLS.skill("location", phrases=["where am i"], keywords=r"\bwhere am i\b")
def location(req: Request) -> Reply:
    """The location the device reported, if any."""
    if req.dialog.location is None:
        return Reply("I don't know where you are; your device has not told me.")
    lat, lon = req.dialog.location
    return Reply(f"You are at latitude {lat:.2f}, longitude {lon:.2f}.")


@SKILLS.skill("thanks", phrases=["thank you [very much]", "thanks"], keywords=r"\bthank")
def thanks(req: Request) -> Reply:
    """You're welcome."""
    return Reply("You're welcome.")


@SKILLS.skill(
    "cancel", phrases=["cancel", "never mind", "forget it"], keywords=r"^(?:cancel|never mind)"
)
def cancel(req: Request) -> Reply:
    """Drop whatever question is open (the registry clears it when another skill answers)."""
    return Reply("Okay, cancelled.")


@SKILLS.skill("help", phrases=["what can you do"], keywords=r"^help$|\bwhat can you do\b")
def help_(req: Request) -> Reply:
    """What the built-in skills do."""
    return Reply(
        "You can ask me the time or the date, whether there is a pool, "
        "set a timer, change the volume, or say: say hello world."
    )


@SKILLS.fallback
def fallback(req: Request) -> Reply:
    """Anything else."""
    if not req.text:
        return Reply("Sorry, I didn't hear anything.")
    return Reply("Sorry, I can't help with that yet.")
