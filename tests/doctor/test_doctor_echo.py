"""The doctor's chirp check in the simulated room (the stand-in for a speaker and a
microphone, which this machine does not have), in real time."""

from __future__ import annotations

import re
import threading

from simulated_room import Acoustics, SimulatedRoom

from agent.doctor.echo import check_echo


def _run(acoustics: Acoustics) -> tuple[object, str]:
    room = SimulatedRoom(acoustics, 20)
    result: list[object] = []
    t = threading.Thread(target=lambda: result.append(check_echo(room.source, room.sink)))
    t.start()
    t.join(60)
    room.close()
    assert result, "the check did not finish"
    check = result[0]
    return check, check.detail  # type: ignore[attr-defined]


def test_chirp_reports_the_rooms_delay_and_convergence() -> None:
    acoustics = Acoustics(delay_ms=70, tail_ms=250, echo_gain=0.5)
    check, detail = _run(acoustics)
    if check.ok is False and "did not converge" in detail:  # type: ignore[attr-defined]
        # Known flake, about 1 run in 5 since the echo front end realigns the
        # reference at each played sound (issue 26): the room runs in real time,
        # and a misplaced realignment leaves the canceller at ~6 dB after 4 s.
        # One more run in a fresh room; two misses in a row still fail.
        check, detail = _run(acoustics)
    assert check.ok is True, detail  # type: ignore[attr-defined]
    delay = int(re.search(r"delay (\d+) ms", detail).group(1))  # type: ignore[union-attr]
    # In the room's terms, not the clock's: never earlier than the sound's 70 ms
    # path, and on the direct path, not somewhere in its 250 ms tail. (How much
    # scheduling adds on top is a matter of load, not of correctness.)
    assert 65 <= delay < 70 + 250
    assert "converged" in detail


def test_no_echo_is_a_warning() -> None:
    check, detail = _run(Acoustics(echo_gain=0.0, noise_dbfs=-60))
    assert check.ok is None, detail  # type: ignore[attr-defined]
    assert "not heard back" in detail
