"""The results table: printed as text, written as Markdown with the command and the machine."""

from __future__ import annotations

import datetime
import os
import platform
import sys
from collections.abc import Iterable

from benchmarks.common import Row

COLUMNS = ("#", "figure", "measured", "reference", "target", "result")


def machine() -> str:
    """CPU model, cores, memory, Python and the libraries that decide the figures."""
    model = platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        with open("/proc/meminfo") as info:
            mem_gb = int(info.readline().split()[1]) / 1024 / 1024
    except (OSError, ValueError, IndexError):
        mem_gb = float("nan")
    versions = []
    for name in ("numpy", "onnxruntime", "openwakeword", "pymicro-wakeword"):
        try:
            from importlib.metadata import version

            versions.append(f"{name} {version(name)}")
        except Exception:  # noqa: BLE001 - a missing package is just not listed
            pass
    return (
        f"{model}, {os.cpu_count()} cores, {mem_gb:.0f} GB; {platform.system()} "
        f"{platform.release()}; Python {sys.version.split()[0]}; {', '.join(versions)}"
    )


def text_table(rows: Iterable[Row]) -> str:
    """Rows as aligned plain text (one figure per block, for a terminal)."""
    lines = []
    for row in rows:
        lines.append(f"[{row.verdict:4}] {row.key}  {row.figure}")
        lines.append(f"         measured:  {row.measured}")
        if row.reference:
            lines.append(f"         reference: {row.reference}")
        if row.target:
            lines.append(f"         target:    {row.target}")
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(rows: Iterable[Row]) -> str:
    """Rows as a Markdown table."""
    out = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        cells = (row.key, row.figure, row.measured, row.reference, row.target, row.verdict)
        out.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(out)


def markdown(rows: list[Row], command: str, took_s: float, notes: str) -> str:
    """The whole ``docs/benchmarks.md``."""
    failed = [r.key for r in rows if r.passed is False]
    summary = (
        "Every target is met."
        if not failed
        else f"Targets not met: {', '.join(failed)} (see the notes below)."
    )
    today = datetime.date.today().isoformat()
    return (
        "# Benchmarks: listening CPU, memory, latency and sample continuity\n\n"
        f"Measured on {today} on {machine()}, in {took_s / 60:.1f} minutes, with:\n\n"
        f"```\n{command}\n```\n\n"
        f"{summary}\n\n"
        f"{markdown_table(rows)}\n\n"
        f"{notes.strip()}\n"
    )
