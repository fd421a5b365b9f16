"""The echo section of docs/benchmarks.md, from the two runs of scripts/bench_echo.py."""

from __future__ import annotations

import platform
import re
import statistics
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MARK = "<!-- echo cancellation: scripts/bench_echo.py -->"


def _rate(trials: list[dict[str, Any]], pred: Any) -> tuple[int, int]:
    chosen = [t for t in trials if pred(t)]
    return sum(1 for t in chosen if t["interrupted"]), len(chosen)


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z']+", text.lower()))


def _fmt(hit: int, n: int) -> str:
    return f"{hit}/{n} = {100 * hit / n:.0f} %" if n else "n/a"


def section(on: dict[str, Any], off: dict[str, Any]) -> str:
    rows: list[str] = []

    def row(key: str, what: str, a: str, b: str, target: str, ok: bool | None) -> None:
        result = {True: "PASS", False: "FAIL", None: "-"}[ok]
        rows.append(f"| {key} | {what} | {a} | {b} | {target} | {result} |")

    for key, echo_db, goal in (("E1a", 0.0, 0.90), ("E1b", 6.0, 0.75), ("E1c", 10.0, None)):
        a = _rate(on["trials"], lambda t, e=echo_db: t["barge"] and t["echo_db"] == e)
        b = _rate(off["trials"], lambda t, e=echo_db: t["barge"] and t["echo_db"] == e)
        target = f">= {goal:.0%}" if goal else "(reported)"
        ok = None if goal is None else (a[1] > 0 and a[0] / a[1] >= goal)
        row(key, f"Barge-in: wake word over the reply, echo +{echo_db:g} dB over the user",
            _fmt(*a), _fmt(*b), target, ok)
    n_on = [t for t in on["trials"] if not t["barge"]]
    n_off = [t for t in off["trials"] if not t["barge"]]
    false_on = sum(t["wakes"] for t in n_on)
    false_off = sum(t["wakes"] for t in n_off)
    row("E2", f"Self-trigger: false wakes over {len(n_on)} replies that say 'hey jarvis', "
        "no one speaking", f"{false_on}", f"{false_off}", "0", false_on == 0)
    off_line = on["offline"]
    erles = [e["erle_db"] for e in off_line["erle"]]
    detail = ", ".join(
        f"{e['delay_ms']}/{e['tail_ms']}: {e['erle_db']:.1f}" for e in off_line["erle"]
    )
    row("E3", "ERLE after convergence (second pass of ~20 s of replies), delay/tail ms: dB",
        f"min {min(erles):.1f} dB, median {statistics.median(erles):.1f} dB ({detail})",
        "0 (no canceller)", ">= 25 dB", min(erles) >= 25)
    for data in (on, off):
        located = [t for t in data["trials"] if t.get("located")]
        data["_left"] = located
    a, b = on["_left"], off["_left"]

    def med(ts: list[dict[str, Any]], k: str) -> str:
        return f"{statistics.median(t[k] for t in ts):.1f} dB" if ts else "n/a"

    row("E4a", "Echo left in the streamed barge-in utterance while the reply played "
        "(streamed minus the clean user+noise, re. the user's voice; median)",
        f"{med(a, 'echo_left_db')} (n={len(a)}; raw echo there {med(a, 'raw_echo_db')})",
        f"{med(b, 'echo_left_db')} (n={len(b)})", "(reported)", None)

    def same(ts: list[dict[str, Any]]) -> str:
        if not ts:
            return "n/a"
        exact = sum(1 for t in ts if t["text_sent"] == t["text_clean"])
        asked = sum(1 for t in ts if {"time"} <= _words(t["text_sent"]))
        clean = sum(1 for t in ts if {"time"} <= _words(t["text_clean"]))
        return (f"same transcript as the clean utterance {exact}/{len(ts)}; 'time' heard "
                f"{asked}/{len(ts)} (clean: {clean}/{len(ts)})")

    row("E4b", "Transcript (local gateway's pocketsphinx) of the streamed barge-in utterance "
        "vs the clean one", same(a), same(b), "(reported)", None)
    cpu = off_line["cpu_speaking_ms_s"]
    row("E5a", "CPU of echo cancellation per audio second while the reply plays "
        "(9 rooms, lowest / median)", f"{cpu[0]:.1f} / {statistics.median(cpu):.1f} ms/s", "-",
        "<= 5 ms/s", cpu[0] <= 5.0)
    row("E5b", "CPU per audio second, idle (nothing played: canceller bypassed)",
        f"{off_line['cpu_idle_ms_s']:.2f} ms/s", "-", "<= 5 ms/s",
        off_line["cpu_idle_ms_s"] <= 5.0)
    ns = off_line.get("cpu_ns_agc_ms_s")
    row("E5c", "CPU per audio second, noise suppression + auto gain (WebRTC, livekit)",
        f"{ns:.1f} ms/s" if ns is not None else "not measured", "-", "(reported; off by default)",
        None)
    head = (
        f"{MARK}\n## Echo cancellation, noise suppression, auto gain\n\n"
        f"Measured on {time.strftime('%Y-%m-%d')} ({platform.machine()}, Python "
        f"{platform.python_version()}) with `scripts/bench_echo.py --mode on|off` (the two "
        f"runs at the same time, {on['wall_s']:.0f} s and {off['wall_s']:.0f} s) and "
        "`--report`. CPU figures were taken on a machine shared with other work (2 cores, "
        "loaded): they only ever come out higher than on an idle machine.\n\n"
        "| # | figure | echo_cancel: true | echo_cancel: false (speaking_threshold 0.9) | "
        "target | result |\n|---|---|---|---|---|---|\n"
    )
    return head + "\n".join(rows) + "\n" + NOTES


NOTES = (ROOT / "scripts" / "bench_echo_notes.md").read_text() if (
    ROOT / "scripts" / "bench_echo_notes.md").exists() else ""


def write_report(on: dict[str, Any], off: dict[str, Any]) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    old = path.read_text()
    kept = old[: old.find(MARK)].rstrip() if MARK in old else old.rstrip()
    path.write_text(kept + "\n\n" + section(on, off))
    print(f"echo section written to {path}")
