"""scripts/bench.py runs end to end on a short input and writes a table with every row.

Only the shape is checked: which figures pass depends on the machine, and
timing asserts have no place in a test suite that runs on noisy machines.
The bench itself runs the real daemon (``voice-agent run``) in a process of
its own against the reference gateway on 127.0.0.1.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ROWS = (
    "1a",
    "1b",
    "1c",
    "1d",
    "1e",
    "1f",
    "1g",
    *(f"2a{i}" for i in range(1, 9)),
    "2b",
    "2c",
    "2d",
    "3a",
    "3b",
    "3c",
    "4a",
    "4b",
    "4c",
    "5a",
    "5b",
    "5c",
    "6a",
    "6b",
    "6c",
    "6d",
    "6e",
    "6f",
    "7a",
    "7b",
    "7c",
    "7d",
    "7e",
    "8a",
    "8b",
    "8c",
    "8d",
    "8e",
    "8f",
    "8g",
    "8h",
    "8i",
    "8j",
    "8k",
    "9a",
    "9b",
    "9c",
)


def cells(line: str) -> list[str]:
    """The cells of a Markdown table row (a backslash-escaped pipe is text)."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]


# Every step of the benchmark once, briefly: about 3 minutes on an idle 2-core machine,
# 5 under load (the speech recognisers, the real Home Assistant, the stand-ins).
@pytest.mark.timeout(1200)
def test_quick_bench_writes_a_table_with_every_row(tmp_path: Path) -> None:
    out = tmp_path / "benchmarks.md"
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "bench.py"), "--quick", "--out", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=1100,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    text = out.read_text()
    assert "scripts/bench.py --quick --out" in text  # the command that produced it
    table = [cells(line) for line in text.splitlines() if line.startswith("| ")]
    assert table[0] == ["#", "figure", "measured", "reference", "target", "result"]
    assert [row[0] for row in table[1:]] == list(ROWS)
    for row in table[1:]:
        assert len(row) == 6, row
        assert row[2], row  # a measured figure in every row
        assert row[4] and row[5] in ("PASS", "FAIL"), row  # a target and a verdict in every row
    # The printed report carries the same rows with their verdicts.
    printed = re.findall(r"^\[(PASS|FAIL|-)\s*\] (\d[a-z]\d?)", done.stdout, re.M)
    assert sorted(key for _verdict, key in printed) == list(ROWS)
