"""The language model agent through the gateway, against the tests' OpenAI-compatible stand-in.

Everything runs in this process: the stand-in (``tests/standins/openai_standin.py``,
the one the ``openai`` SDK is tested against) on its own thread, reference
gateways in-thread (``dialog.engine: [skills, llm]``, and ``[llm]`` alone for the
pass cost), and plain protocol clients on real WebSockets that type their
questions (``text``: no speech to text in the figures). One clock
(``time.perf_counter``, CLOCK_MONOTONIC) for the stand-in and the clients.

* 8a: from the stand-in writing the piece that completes the first sentence to
  the client holding the first reply ``audio_data``. Reference: espeak-ng's own
  time for a sentence like it, a fresh synthesis right after each turn (so under
  the same load; every turn's sentence is new, so the gateway's espeak-ng cache
  never answers).
* 8b: a skill hit through the chain: ``text`` sent to ``response`` received
  (the skills answer before their audio is made), judged on the gateway event
  loop thread's CPU time over that span (``pthread_getcpuclockid``), which other
  load does not inflate; the wall time is printed beside it.
* 8c: the pass from the skills to the model: ``text`` sent to the stand-in
  receiving the request, with ``[skills, llm]`` minus with ``[llm]`` (p95 each),
  judged on the loop thread's CPU time; the wall time is printed beside it.
* 8d: 10 devices ask at the same moment (threads, a barrier): the slowest whole
  reply (``text`` sent to ``audio_end``, paced at ``reply.pace`` 1.5) against
  1.2x the single-device p95 of the same.
* 8e: the same replies' 8a figures: the slowest against 1.2x the single-device
  8a p95 (ten espeak-ng processes at once on two shared cores).

The stand-in answers at once (a model's own time is not the gateway's): these
are the gateway's costs. Wall time on a machine shared with other work (two
cores, other engineers' tests): preemption only ever adds to the figures.
"""

from __future__ import annotations

import asyncio
import functools
import json
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
for _p in (REPO, REPO / "scripts", REPO / "tests"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from gateway_support import open_client, receive  # noqa: E402
from standins.openai_standin import KEY, MODEL, OpenAIStandIn, Script  # noqa: E402

from agent.gateway.dialog.llm.settings import LlmSettings  # noqa: E402
from agent.gateway.dialog_settings import DialogSettings  # noqa: E402
from agent.gateway.in_thread import serve_in_thread  # noqa: E402
from agent.gateway.settings import GatewaySettings, SttSettings  # noqa: E402
from agent.gateway.tts.espeak import Espeak  # noqa: E402
from agent.link.protocol import GatewayError, ReplyAudioData, ReplyAudioEnd, Response  # noqa: E402
from benchmarks.common import Row  # noqa: E402

NUMBERS = ("one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
           "fifteen sixteen seventeen eighteen nineteen twenty").split()


def words(i: int) -> str:
    """A distinct phrase per turn (so espeak-ng's cache never holds the sentence)."""
    return f"{NUMBERS[i % 20]} {NUMBERS[(i // 20) % 20]} {NUMBERS[(i // 400) % 20]}"


def sentence(i: int) -> str:
    return f"Blue light scatters most, answer {words(i)}."


def p95(values: list[float]) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, int(round(0.95 * (len(v) - 1))))]


def median(values: list[float]) -> float:
    v = sorted(values)
    return v[len(v) // 2]


def gateway(standin: OpenAIStandIn, key_file: str, chain: tuple[str, ...]) -> Any:
    llm = LlmSettings(base_url=standin.base_url, api_key_file=key_file, model=MODEL,
                      tools=False, timeout_s=30)
    return serve_in_thread(GatewaySettings(port=0, stt=SttSettings(workers=1),
                                           dialog=DialogSettings(engine=chain, llm=llm)))


def ask(ws: Any, text: str) -> dict[str, float]:
    """One typed turn; perf_counter marks: sent, response, first audio, end."""
    marks = {"sent": time.perf_counter()}
    ws.send(json.dumps({"id": str(uuid.uuid4()), "action": "text", "text": text}))
    for _ in range(10_000):  # bounded: a reply is far fewer messages
        msg = receive(ws, 30)
        now = time.perf_counter()
        if isinstance(msg, GatewayError):
            raise RuntimeError(f"the gateway answered an error: {msg.message}")
        if isinstance(msg, Response):
            marks.setdefault("response", now)
        if isinstance(msg, ReplyAudioData):
            marks.setdefault("audio", now)
        if isinstance(msg, ReplyAudioEnd):
            marks["end"] = now
            return marks
    raise RuntimeError("no audio_end")


def ask_until_response(ws: Any, text: str) -> dict[str, float]:
    """A typed turn, read up to its ``response`` (the rest: :func:`finish`)."""
    marks = {"sent": time.perf_counter()}
    ws.send(json.dumps({"id": str(uuid.uuid4()), "action": "text", "text": text}))
    for _ in range(10_000):
        msg = receive(ws, 30)
        if isinstance(msg, GatewayError):
            raise RuntimeError(f"the gateway answered an error: {msg.message}")
        if isinstance(msg, Response):
            marks["response"] = time.perf_counter()
            return marks
    raise RuntimeError("no response")


def finish(ws: Any) -> None:
    """Read the rest of a reply, up to its ``audio_end``."""
    for _ in range(10_000):
        if isinstance(receive(ws, 30), ReplyAudioEnd):
            return
    raise RuntimeError("no audio_end")


def script(i: int) -> Script:
    return Script(pieces=["Blue light ", sentence(i)[len("Blue light "):] + " ", "Yes."])


def espeak_once(i: int) -> float:
    """espeak-ng's wall time (ms) for a fresh sentence like turn ``i``'s first one."""
    async def go() -> float:
        t0 = time.perf_counter()
        await Espeak().synthesize(sentence(i).replace("answer", "reference"))
        return (time.perf_counter() - t0) * 1000

    return asyncio.run(go())


def first_audio(standin: OpenAIStandIn, url: str, start: int,
                count: int) -> tuple[list[float], list[float], list[float]]:
    """8a: ms from the stand-in's first complete sentence to the first reply audio; each
    whole reply's ms (``text`` sent to ``audio_end``); and espeak-ng's own time for a
    sentence like it, measured right after each turn (under the same load)."""
    first, whole, reference = [], [], []
    ws = open_client(url)
    try:
        for i in range(start, start + count):
            standin.next(script(i))
            marks = ask(ws, f"why is the sky blue, question {words(i)}")
            req = standin.requests[-1]
            assert req.first_sentence_at is not None
            first.append((marks["audio"] - req.first_sentence_at) * 1000)
            whole.append((marks["end"] - marks["sent"]) * 1000)
            reference.append(espeak_once(i))
    finally:
        ws.close()
    return first, whole, reference


def loop_cpu_ms() -> Callable[[], float]:
    """The CPU time (ms) of the newest in-thread gateway's event loop thread, as a clock."""
    thread = [t for t in threading.enumerate() if t.name == "voice-agent-gateway"][-1]
    assert thread.ident is not None
    clock = time.pthread_getcpuclockid(thread.ident)
    return lambda: time.clock_gettime(clock) * 1000


def request_ms(standin: OpenAIStandIn, url: str, count: int,
               start: int) -> tuple[list[float], list[float]]:
    """8c: ms from ``text`` sent to the stand-in holding the request: wall time, and the
    gateway loop thread's CPU time over the same span."""
    wall, cpu = [], []
    cpu_now = loop_cpu_ms()
    ws = open_client(url)
    try:
        for i in range(start, start + count):
            standin.next(script(i))
            spent: list[float] = []
            standin.on_request = functools.partial(lambda out: out.append(cpu_now()), spent)
            c0 = cpu_now()
            marks = ask(ws, f"why is the sky blue, question {words(i)}")
            wall.append((standin.requests[-1].started - marks["sent"]) * 1000)
            cpu.append(spent[0] - c0)
    finally:
        standin.on_request = None
        ws.close()
    return wall, cpu


def skill_ms(url: str, count: int) -> tuple[list[float], list[float]]:
    """8b: ms from ``text`` sent to ``response`` for a skill hit (the time): wall time,
    and the gateway loop thread's CPU time over the same span (an upper bound: the
    loop may have begun the reply's speech by the time the client reads it)."""
    wall, cpu = [], []
    cpu_now = loop_cpu_ms()
    ws = open_client(url)
    try:
        for _ in range(count):
            c0 = cpu_now()
            marks = ask_until_response(ws, "what time is it")
            cpu.append(cpu_now() - c0)
            wall.append((marks["response"] - marks["sent"]) * 1000)
            finish(ws)
    finally:
        ws.close()
    return wall, cpu


def together(standin: OpenAIStandIn, url: str, devices: int,
             start: int) -> tuple[list[float], list[float]]:
    """8d/8e: ``devices`` clients ask at once; each one's whole reply and 8a figure."""
    standin.next(*(script(start + d) for d in range(devices)))
    clients = [open_client(url + f"?userID=bench-{d}") for d in range(devices)]
    barrier = threading.Barrier(devices)
    marks: dict[str, dict[str, float]] = {}

    def run(d: int) -> None:
        text = f"why is the sky blue, device {words(start + d)}"
        barrier.wait(30)
        marks[text] = ask(clients[d], text)

    threads = [threading.Thread(target=run, args=(d,)) for d in range(devices)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for ws in clients:
        ws.close()
    # Scripts were handed out in arrival order, so pair by the request's own text.
    first, whole = [], []
    for req in standin.requests[-devices:]:
        text = req.user_texts[-1]
        assert req.first_sentence_at is not None and text in marks
        first.append((marks[text]["audio"] - req.first_sentence_at) * 1000)
        whole.append((marks[text]["end"] - marks[text]["sent"]) * 1000)
    return first, whole


def llm_rows(quick: bool) -> list[Row]:
    """The rows 8a-8e."""
    n = 8 if quick else 60
    rounds = 1 if quick else 5
    key_dir = tempfile.mkdtemp(prefix="voice-agent-llm-bench-")
    key_file = Path(key_dir) / "key"
    key_file.write_text(KEY)
    with OpenAIStandIn() as standin:
        with gateway(standin, str(key_file), ("skills", "llm")) as gw:
            first_audio(standin, gw.url, 10_000, 3)  # warm-up: connections, imports
            single, single_whole, reference = first_audio(standin, gw.url, 0, n)
            skill, skill_cpu = skill_ms(gw.url, n)
            chained, chained_cpu = request_ms(standin, gw.url, n, 2000)
            many: list[float] = []
            many_whole: list[float] = []
            for r in range(rounds):
                first, whole = together(standin, gw.url, 10, 4000 + 10 * r)
                many += first
                many_whole += whole
        with gateway(standin, str(key_file), ("llm",)) as gw:
            request_ms(standin, gw.url, 3, 10_100)
            alone, alone_cpu = request_ms(standin, gw.url, n, 3000)
    extra = sorted(a - b for a, b in zip(single, reference, strict=True))
    pass_cost = p95(chained) - p95(alone)
    pass_cpu = p95(chained_cpu) - p95(alone_cpu)
    return [
        Row("8a", "model's first sentence -> device's first reply audio, p95 (LLM)",
            f"{p95(single):.0f} ms (median {median(single):.0f} ms, {n} turns; "
            f"minus the same turn's espeak-ng time: p95 {p95(extra):+.0f} ms)",
            f"espeak-ng for that sentence: p95 {p95(reference):.0f} ms "
            f"(median {median(reference):.0f} ms)",
            f"<= {p95(reference):.0f} + 30 ms",
            p95(single) <= p95(reference) + 30),
        Row("8b", "a skill hit through the chain [skills, llm]: text -> response, p95, "
            "the gateway loop's CPU time",
            f"{p95(skill_cpu):.1f} ms CPU (median {median(skill_cpu):.1f} ms, {n} turns); "
            f"wall time p95 {p95(skill):.1f} ms, median {median(skill):.1f} ms",
            "", "<= 5 ms", p95(skill_cpu) <= 5),
        Row("8c", "a pass from the skills to the LLM: text -> request, [skills, llm] - [llm], "
            "p95, the gateway loop's CPU time",
            f"{pass_cpu:+.1f} ms CPU (p95 {p95(chained_cpu):.1f} vs {p95(alone_cpu):.1f} ms); "
            f"wall time {pass_cost:+.1f} ms (p95 {p95(chained):.1f} vs {p95(alone):.1f} ms; "
            f"medians {median(chained):.1f} / {median(alone):.1f} ms)",
            "", "<= 5 ms", pass_cpu <= 5),
        Row("8d", "10 devices at once: the slowest whole reply (text -> audio_end)",
            f"{max(many_whole):.0f} ms (median {median(many_whole):.0f} ms, "
            f"{len(many_whole)} replies)",
            f"single device p95 {p95(single_whole):.0f} ms",
            f"<= {1.2 * p95(single_whole):.0f} ms",
            max(many_whole) <= 1.2 * p95(single_whole)),
        Row("8e", "10 devices at once: the slowest 8a figure (first sentence -> first audio)",
            f"{max(many):.0f} ms (median {median(many):.0f} ms, {len(many)} replies)",
            f"single device p95 {p95(single):.0f} ms", f"<= {1.2 * p95(single):.0f} ms",
            max(many) <= 1.2 * p95(single)),
    ]


if __name__ == "__main__":
    # .venv/bin/python scripts/benchmarks/llm.py [--quick]
    from benchmarks.report import text_table

    print(text_table(llm_rows("--quick" in sys.argv)))
