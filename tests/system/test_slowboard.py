"""The slow-board benchmark's parts that need no minutes: its cgroup, its verdict, its section.

The turns themselves (minutes, root) are ``bench.py --only slowboard``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

from benchmarks import slowboard  # noqa: E402
from benchmarks.quota import CpuQuota, QuotaUnavailable  # noqa: E402
from benchmarks.slowboard import END, MARK, TurnResult, write_section  # noqa: E402

ECHO = "<!-- echo cancellation: scripts/bench_echo.py -->"


POOL = ["do you have a pool"]


def test_a_turn_is_right_only_when_heard_exactly_with_a_whole_reply_and_no_error() -> None:
    right = TurnResult(1, "cold", POOL, 141198, 5.7, returncode=0)
    assert right.right
    for wrong in (
        TurnResult(1, "cold", [], 44, None, returncode=0),  # pi-check's run 1
        TurnResult(1, "cold", [""], 141198, 5.7, returncode=0),
        TurnResult(1, "cold", ["do you have a pool"], 44, None, returncode=0),
        TurnResult(1, "cold", POOL, 141198, 5.7, errors=["no reply"], returncode=0),
        TurnResult(1, "cold", ["do you have a pool"] * 2, 141198, 5.7, returncode=0),
        TurnResult(1, "cold", ["do you have a pool"], 141198, 5.7, returncode=1),
    ):
        assert not wrong.right, wrong


def test_the_section_goes_before_the_echo_section_and_is_replaced_in_place(
    tmp_path: Path,
) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text(f"# Benchmarks\n\ntable\n\n{ECHO}\n## Echo\n")
    write_section(doc, f"{MARK}\nfirst\n{END}\n")
    text = doc.read_text()
    assert text.index("table") < text.index("first") < text.index(ECHO)
    write_section(doc, f"{MARK}\nsecond\n{END}\n")
    text = doc.read_text()
    assert "first" not in text and text.count(MARK) == 1
    assert text.index("second") < text.index(ECHO) and text.endswith("## Echo\n")


def test_bench_py_keeps_the_section_when_it_rewrites_its_table() -> None:
    import bench

    assert bench.SLOW_MARK == slowboard.MARK
    assert "slowboard" not in bench.STEPS  # opt-in: root and minutes


def test_the_quota_holds_the_processes_it_starts() -> None:
    try:
        quota = CpuQuota(12).__enter__()
    except QuotaUnavailable as exc:
        pytest.skip(f"no cgroup here: {exc}")
    try:
        out = subprocess.run(
            [*quota.prefix(), "sh", "-c", "cat /proc/self/cgroup"],
            capture_output=True, text=True, timeout=30, check=True,
        ).stdout
        assert quota.name in out
        if quota.version == 1:
            cpu = quota.dirs[0]
            assert (cpu / "cpu.cfs_quota_us").read_text().strip() == "12000"
            assert (cpu / "cpu.cfs_period_us").read_text().strip() == "100000"
    finally:
        quota.close()
    assert all(not d.exists() for d in quota.dirs) and not quota.dirs
