"""The README's first steps stay true: how to reach the command, and how many tests there are."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_says_how_to_put_the_command_on_path() -> None:
    first_bare = README.index("`voice-agent")  # the first bare use, after the demo line
    assert "source .venv/bin/activate" in README[:first_bare + 2000]
    assert README.index("source .venv/bin/activate") < README.index("## Commands")


def test_the_readme_test_count_is_near_the_real_one() -> None:
    said = re.search(r"The tests \(about (\d+) of them\)", README)
    assert said, "the README says how many tests there are"
    line = re.search(r"ending with a line like `(\d+) passed", README)
    assert line
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    ).stdout
    count = int(re.search(r"(\d+) tests? collected", collected).group(1))  # type: ignore[union-attr]
    # Within 5 %: the suite grows with every change; a stale figure is one far off.
    for figure in (int(said.group(1)), int(line.group(1))):
        assert abs(figure - count) <= 0.05 * count, (figure, count)
