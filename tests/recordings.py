"""Where the project's own test recordings live (``tests/data/audio``).

Copies of public, Apache-2.0 recordings (``tests/data/audio/NOTICE`` names
each one's source): tests, benchmarks and ``scripts/pi-check.sh`` read them
from here, so a clone needs nothing outside itself.
"""

from __future__ import annotations

from pathlib import Path

AUDIO = Path(__file__).resolve().parent / "data" / "audio"
