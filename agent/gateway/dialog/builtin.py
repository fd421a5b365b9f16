"""The reference gateway's built-in skills, registered into ``SKILLS``.

:func:`default_skills` returns that registry; importing this module fills it.

Phrases are deliberately few and distinct: every phrase widens the grammar the
recogniser chooses from, and near-homophones ("hi" / "five") cost accuracy.
"""

from __future__ import annotations

import re

from agent.gateway.dialog.skills import Reply, Request, Skills
from agent.gateway.dialog.timer import parse_duration, register_timers, say_duration

SKILLS = Skills()
"""The built-in registry: every ``@SKILLS.skill`` below adds to it on import."""


def default_skills() -> Skills:
    """The registry with the built-in skills loaded."""
    return SKILLS


SKILLS.rules.update(
    {
        "echo_text": "hello world | good morning | good night | testing one two three"
        " | i am a voice agent",
    }
)

SKILLS.pronunciations["unmute"] = "AH N M Y UW T"

__all__ = ["SKILLS", "default_skills", "parse_duration", "say_duration"]


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


register_timers(SKILLS)  # set, time left, cancel: agent.gateway.dialog.timer

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
