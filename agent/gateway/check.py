"""``voice-agent gateway --check``: can every service the settings name be reached?

One line per step, ``OK``, ``FAIL`` (with a fix) or ``SKIP`` (with why), for
each service in :data:`SERVICES`, in order: the speech-to-text engines, then
the dialog back ends (a Wyoming server is described:
:mod:`agent.gateway.check_wyoming`). A service the settings do not use is one SKIP line; a
service whose step failed shows its later steps as SKIP; the other services
are still checked. The words of a failure are those a device gets when a turn
fails the same way (:mod:`agent.gateway.reach`). Nothing secret is printed.

To check a new service, write ``check_NAME(settings, source, steps)`` (one
function, in ``check_stt`` / ``check_dialog`` or a module of its own) and add
a :class:`Service` to :data:`SERVICES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from agent.gateway.check_dialog import check_diatheke, check_skills
from agent.gateway.check_steps import Line, Steps
from agent.gateway.check_stt import check_aiola, check_assemblyai, check_pocketsphinx
from agent.gateway.check_wyoming import (
    check_stt_wyoming,
    check_tts_wyoming,
    stt_unused,
    tts_unused,
)
from agent.gateway.settings import GatewaySettings

__all__ = ["SERVICES", "Line", "Service", "Steps", "run_check"]

Check = Callable[[GatewaySettings, str, Steps], None]
"""One service's steps: adds its lines to ``steps`` (ConfigError for a missing key: exit 78)."""


def in_chain(agent: str) -> Callable[[GatewaySettings], str | None]:
    """Used when ``agent`` is in ``dialog.engine`` or a ``dialog.by_wake_word`` chain."""

    def unused(settings: GatewaySettings) -> str | None:
        dialog = settings.dialog
        chains = [dialog.engine, *(chain for _, chain in dialog.by_wake_word)]
        if any(agent in chain for chain in chains):
            return None
        return "not in dialog.engine or dialog.by_wake_word"

    return unused


def check_llm(settings: GatewaySettings, source: str, steps: Steps) -> None:
    """The language model's server, its key and the model (``openai`` imported only here)."""
    from agent.gateway.dialog.llm import check

    check.check_llm(settings, source, steps)


def check_home_assistant(settings: GatewaySettings, source: str, steps: Steps) -> None:
    """HA reachable, the token, its version, the agent, the home, the grammar's size."""
    from agent.gateway.dialog.home_assistant import check

    for line in check.check_home_assistant(settings, source):
        name = line.name.removeprefix("home assistant").strip()
        steps.add(name, line.ok, line.detail, line.fix)


def always(settings: GatewaySettings) -> str | None:
    """Always used."""
    return None


@dataclass(frozen=True)
class Service:
    """A service the gateway may use: its name, when it is unused, and its check."""

    name: str
    unused: Callable[[GatewaySettings], str | None]
    """Why the settings do not use it (one SKIP line), or None."""
    check: Check | None
    """None: no check written yet (a SKIP line says so)."""


SERVICES: list[Service] = [
    Service("stt.pocketsphinx", always, check_pocketsphinx),
    # A cloud engine is used when it is stt.engine or has a key: its check decides.
    Service("stt.assemblyai", always, check_assemblyai),
    Service("stt.aiola", always, check_aiola),
    Service("stt.wyoming", stt_unused, check_stt_wyoming),  # describe: programs, models
    Service("tts.wyoming", tts_unused, check_tts_wyoming),  # describe: programs, voices
    Service("dialog.skills", in_chain("skills"), check_skills),
    Service("dialog.diatheke", in_chain("diatheke"), check_diatheke),
    Service("dialog.llm", in_chain("llm"), check_llm),
    Service("dialog.home_assistant", in_chain("home_assistant"), check_home_assistant),
]


def run_check(settings: GatewaySettings, source: str) -> tuple[list[Line], bool]:
    """Every service's lines, and whether none failed (ConfigError: a missing key)."""
    lines: list[Line] = []
    for service in SERVICES:
        steps = Steps(service.name)
        why = service.unused(settings)
        if why is not None:
            steps.skip("", why)
        elif service.check is None:
            steps.skip("", "no check for this service yet")
        else:
            service.check(settings, source, steps)
        lines += steps.lines
    return lines, all(line.ok is not False for line in lines)
