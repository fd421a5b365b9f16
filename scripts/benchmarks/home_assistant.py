"""Rows 8f-8k: home commands heard locally and carried out by a real Home Assistant.

A real HA 2024.3.3 (``tests/real_ha.py``: template lights, a switch and a fan
in three areas) runs as a process on 127.0.0.1; the reference gateway runs in
this process with ``dialog.engine: [skills, home_assistant]`` and
pocketsphinx hearing the grammar it built from HA's areas and exposed
entities. A plain protocol client plays the device: espeak-ng speech (0.3 s
of silence before it, none after), then ``audio_end`` at once, so the moment
``audio_end`` is sent is the end of speech.

* 8f: the share of commands whose transcript is exactly the sentence spoken
  (espeak-ng's en-us voice); 8g: the share HA carried out (the device
  reached the asked state: a transcript that dropped an optional "the" still
  works); 8h: both for espeak-ng's en-gb voice;
* 8i: end of speech -> the device's state change in HA: HA's own
  ``time_fired`` of the ``state_changed`` event (read over a WebSocket
  subscription) minus the wall-clock time ``audio_end`` was sent (one clock:
  the same machine);
* 8k: the recogniser's CPU time per command (``time.process_time``, pocketsphinx in
  this process) with the grammar of a made-up 100-device home (20 areas x light, lamp,
  fan, switch, heater, each with an alias), against the skills' grammar alone;
* 8j: the turn through HA: ``stt_transcript`` -> ``response`` at the client
  (the agent's ``conversation/process`` round trip plus the pipeline's own).

Each command first puts its device in the other state (directly in HA), so
every command changes something. Wall times on a shared 2-core machine.

    .venv/bin/python scripts/bench.py --only home_assistant --out /tmp/ha.md
    .venv/bin/python scripts/benchmarks/home_assistant.py   # also writes its docs section
"""

from __future__ import annotations

import base64
import json
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
for _p in (REPO / "tests", REPO / "scripts"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from benchmarks.common import Row, percentile  # noqa: E402

CHUNK = 3200
MARK = "<!-- home assistant: scripts/benchmarks/home_assistant.py -->"

# (sentence, entity, state after, brightness after or None)
LIGHTS = {"kitchen lights": "kitchen_lights", "living room lamp": "living_room_lamp",
          "bedroom light": "bedroom_light"}
AREAS = {"kitchen": "kitchen_lights", "living room": "living_room_lamp",
         "bedroom": "bedroom_light"}
LEVELS = {"twenty": 51, "fifty": 128, "seventy five": 191}


def commands() -> list[tuple[str, str, str, int | None]]:
    """At least 30 commands naming the test HA's devices and areas."""
    out: list[tuple[str, str, str, int | None]] = []
    for name, key in LIGHTS.items():
        out += [(f"turn on the {name}", f"light.{key}", "on", None),
                (f"turn off the {name}", f"light.{key}", "off", None)]
    for name, key in {"coffee maker": "switch.coffee_maker",
                      "ceiling fan": "fan.ceiling_fan"}.items():
        out += [(f"turn on the {name}", key, "on", None),
                (f"turn the {name} off", key, "off", None)]
    for area, key in AREAS.items():
        out += [(f"turn on the lights in the {area}", f"light.{key}", "on", None),
                (f"turn off the lights in the {area}", f"light.{key}", "off", None)]
    for name, key in LIGHTS.items():
        for word, level in LEVELS.items():
            out.append((f"set the {name} to {word} percent", f"light.{key}", "on", level))
    out += [(f"turn the {name} on", f"light.{key}", "on", None) for name, key in LIGHTS.items()]
    out += [(f"turn the {name} off", f"light.{key}", "off", None) for name, key in LIGHTS.items()]
    return out


class StateWatch:
    """HA's ``state_changed`` events (entity -> [(time_fired, new state)]) on a thread."""

    def __init__(self, ha: Any) -> None:
        self.events: dict[str, list[tuple[float, dict[str, Any]]]] = {}
        self._cond = threading.Condition()
        self._ha = ha
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._ready = threading.Event()
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("could not subscribe to HA's state_changed events")

    def _run(self) -> None:
        with self._ha.websocket() as ws:
            ws.send(json.dumps({"id": 1, "type": "subscribe_events",
                                "event_type": "state_changed"}))
            self._ready.set()
            while not self._stop:
                try:
                    msg = json.loads(ws.recv(0.5))
                except TimeoutError:
                    continue
                if msg.get("type") != "event":
                    continue
                data = msg["event"]["data"]
                fired = datetime.fromisoformat(msg["event"]["time_fired"]).timestamp()
                with self._cond:
                    self.events.setdefault(data["entity_id"], []).append(
                        (fired, data.get("new_state") or {}))
                    self._cond.notify_all()

    def first_after(self, entity: str, since: float, state: str, level: int | None,
                    timeout: float = 10.0) -> float | None:
        """time_fired of the first change of ``entity`` after ``since`` to that state."""

        def found() -> float | None:
            for fired, new in self.events.get(entity, []):
                if fired >= since and new.get("state") == state and (
                        level is None or new.get("attributes", {}).get("brightness") == level):
                    return fired
            return None

        with self._cond:
            self._cond.wait_for(lambda: found() is not None, timeout)
            return found()

    def close(self) -> None:
        self._stop = True
        self._thread.join(5)


def _turn(ws: Any, pcm: bytes) -> tuple[float, float | None, float | None, str, str]:
    """(audio_end wall time, transcript arrival, response arrival, transcript, reply text)."""
    tid = str(uuid.uuid4())
    ws.send(json.dumps({"id": tid, "action": "audio_start"}))
    for i in range(0, len(pcm), CHUNK):
        data = base64.b64encode(pcm[i : i + CHUNK]).decode()
        ws.send(json.dumps({"id": tid, "action": "audio_data", "encoding": "base64",
                            "data": data}))
    ws.send(json.dumps({"id": tid, "action": "audio_end"}))
    ended = time.time()
    heard_at = answered_at = None
    heard = text = ""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        msg = json.loads(ws.recv(timeout=30))
        action = msg.get("action")
        if action == "stt_transcript":
            heard_at, heard = time.monotonic(), msg.get("transcript", "")
        elif action == "response":
            answered_at = time.monotonic()
        elif action == "text":
            text = msg.get("text", "")
        elif action in ("audio_end", "error"):
            break
    return ended, heard_at, answered_at, heard, text


def _prepare(ha: Any, entity: str, state: str, level: int | None) -> None:
    """Put ``entity`` in the state the command will change."""
    key = entity.partition(".")[2]
    if level is not None:  # full brightness first, so the new level is a change
        ha.command({"type": "call_service", "domain": "input_number", "service": "set_value",
                    "target": {"entity_id": f"input_number.{key}_level"},
                    "service_data": {"value": 255}})
        ha.set_power(key, True)
        ha.wait_state(entity, "on")
        return
    ha.set_power(key, state != "on")
    ha.wait_state(entity, "off" if state == "on" else "on")


def ha_rows(quick: bool) -> list[Row]:
    """Rows 8f-8k (see the module docs)."""
    from gateway_support import silence
    from real_ha import RealHomeAssistant, gateway_settings, wait_until
    from speech import say
    from websockets.sync.client import connect

    from agent.gateway.in_thread import serve_in_thread

    cmds = commands()[:4] if quick else commands()
    exact: dict[str, list[bool]] = {"en-us": [], "en-gb": []}
    done: dict[str, list[bool]] = {"en-us": [], "en-gb": []}  # the device changed as asked
    changes: list[float] = []
    through: list[float] = []
    with tempfile.TemporaryDirectory(prefix="voice-agent-ha-bench-") as tmp:
        ha = RealHomeAssistant(Path(tmp) / "ha")
        ha.start()
        watch = StateWatch(ha)
        try:
            with serve_in_thread(gateway_settings(ha)) as gw, connect(gw.url) as ws:
                wait_until(lambda: gw.gateway.grammar.counts.get("home_assistant", 0) > 0, 60,
                           "the grammar from HA")
                for voice, speed in (("en-us", 150), ("en-gb", 140)):
                    for sentence, entity, state, level in cmds:
                        _prepare(ha, entity, state, level)
                        pcm = silence(0.3) + say(sentence, voice, speed).astype("<i2").tobytes()
                        ended, heard_at, answered_at, heard, _text = _turn(ws, pcm)
                        ok = heard == sentence
                        exact[voice].append(ok)
                        if not ok:
                            print(f"  {voice}: {sentence!r} heard as {heard!r}", flush=True)
                        fired = watch.first_after(entity, ended, state, level,
                                                  timeout=5.0 if ok else 2.0)
                        done[voice].append(fired is not None)
                        if voice != "en-us" or fired is None:
                            continue
                        changes.append(1000 * (fired - ended))
                        if heard_at is not None and answered_at is not None:
                            through.append(1000 * (answered_at - heard_at))
        finally:
            watch.close()
            ha.stop()
    def share(values: list[bool]) -> str:
        return f"{sum(values)}/{len(values)} ({100 * sum(values) / len(values):.0f} %)"

    us = exact["en-us"]
    carried = done["en-us"]
    big = big_home_row(quick)
    return [
        Row("8f", "home commands recognised exactly (espeak-ng en-us, HA grammar)",
            share(us), "-", ">= 90 %", sum(us) >= 0.9 * len(us)),
        Row("8g", "the same commands carried out by HA (the device changed as asked)",
            share(carried), "-", ">= 90 %", sum(carried) >= 0.9 * len(carried)),
        Row("8h", "espeak-ng en-gb voice: recognised exactly / carried out",
            f"{share(exact['en-gb'])} / {share(done['en-gb'])}", "-", "carried out >= 50 %",
            sum(done["en-gb"]) >= 0.5 * len(done["en-gb"])),
        Row("8i", "end of speech -> device state changed in HA (HA's time_fired)",
            _stats(changes), "-", "p95 <= 1500 ms", bool(changes)
            and percentile(changes, 95) <= 1500),
        Row("8j", "turn through HA (stt_transcript -> response)",
            _stats(through), "-", "p95 <= 300 ms", bool(through)
            and percentile(through, 95) <= 300),
        big,
    ]


BIG_AREAS = ("kitchen", "bedroom", "office", "garage", "hall", "study", "porch", "attic",
             "cellar", "pantry", "nursery", "loft", "den", "lounge", "library", "gym",
             "patio", "garden", "balcony", "bath")
BIG_KINDS = {"light": "light", "lamp": "light", "fan": "fan", "switch": "switch",
             "heater": "climate"}


def big_home_row(quick: bool) -> Row:
    """8k: recogniser CPU per command with a 100-device home's grammar (in this process,
    ``time.process_time``), against the skills' grammar alone on the same audio."""
    import time as clock

    from gateway_support import silence
    from speech import say

    from agent.gateway.dialog.builtin import default_skills
    from agent.gateway.dialog.home_assistant.home import Area, Entity, Home
    from agent.gateway.dialog.home_assistant.phrases import build_patterns
    from agent.gateway.stt.dictionary import known_word
    from agent.gateway.stt.pocketsphinx import PocketsphinxEngine

    areas = tuple(Area(a, (a,)) for a in BIG_AREAS)
    entities = tuple(Entity(f"{d}.{a}_{k}", (f"{a} {k}", f"{a} main {k}"), a)
                     for a in BIG_AREAS for k, d in BIG_KINDS.items())
    skills = default_skills()
    patterns = build_patterns(Home(areas, entities), known_word)
    engine = PocketsphinxEngine({"main": skills.searches()["main"],
                                 "home": skills.searches({"home_assistant": patterns})["main"]},
                                skills.pronunciations)
    said = ["turn on the garage lamp", "turn off the lights in the study",
            "set the office main light to fifty percent", "what time is it"]
    said = said[:2] if quick else said * 3
    cpu: dict[str, list[float]] = {"main": [], "home": []}
    right = 0
    for text in said:
        pcm = silence(0.3) + say(text, "en-us", 150).astype("<i2").tobytes()
        for search in ("main", "home"):
            t0 = clock.process_time()
            heard = engine.transcribe(pcm, search)
            cpu[search].append(1000 * (clock.process_time() - t0))
            right += search == "home" and heard.text == text
    home_ms, ref_ms = percentile(cpu["home"], 50), percentile(cpu["main"], 50)
    return Row("8k", f"recogniser CPU per command, a 100-device home ({len(entities) * 2} "
               f"names, {len(patterns)} patterns; {right}/{len(said)} exact)",
               f"median {home_ms:.0f} ms",
               f"the same audio, the skills' grammar alone (then the general model): "
               f"median {ref_ms:.0f} ms",
               "<= 3x the skills' alone", home_ms <= 3 * ref_ms)


def _stats(values: list[float]) -> str:
    if not values:
        return "no samples"
    return (f"p95 {percentile(values, 95):.0f} ms (median {percentile(values, 50):.0f}, "
            f"max {max(values):.0f}; n={len(values)})")


NOTES = """
What the misses are (the lines the run prints): pocketsphinx's grammar often drops the
optional "the" before "living room" ("set living room lamp to fifty percent"): not exact,
but HA carries it out, which 8g counts. espeak-ng's en-gb "turn" is heard by the US
acoustic model as "good"/"to" and the grammar then loses to the general model; with the
Home Assistant phrases alone (no skills' phrases beside them) the same en-gb audio scores
much better (26 of 31 against 19 of 31 in a direct engine run), so the combined grammar's
search, not the names, is where en-gb speech is lost. Speech end -> state change is almost
all pocketsphinx (the grammar decode, the stability decode and the phone loop of its
confidence, in a worker process; the gateway logs "heard ... in N ms"), then HA's
round trip (8j) and HA changing the template light.
"""


def write_section(rows: list[Row], path: Path, took: float) -> None:
    """Replace this benchmark's section at the end of ``path`` (after the echo section,
    which bench.py keeps with everything after it)."""
    from benchmarks.report import text_table

    old = path.read_text() if path.exists() else ""
    kept = old[: old.find(MARK)] if MARK in old else old
    body = [MARK, "", "## Home Assistant: home commands heard locally (rows 8f-8k)", "",
            "`.venv/bin/python scripts/benchmarks/home_assistant.py` "
            f"({took:.0f} s; a shared 2-core machine, wall times):", "", "```",
            text_table(rows), "```", "", __doc__.split("\n\n", 1)[1].split("    .venv")[0],
            NOTES]
    path.write_text(kept.rstrip() + "\n\n" + "\n".join(body).rstrip() + "\n")


if __name__ == "__main__":
    from benchmarks.report import text_table

    t0 = time.monotonic()
    result = ha_rows("--quick" in sys.argv)
    print(text_table(result))
    if "--quick" not in sys.argv:
        write_section(result, REPO / "docs" / "benchmarks.md", time.monotonic() - t0)
