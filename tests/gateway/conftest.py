"""Fixtures of the gateway tests: a real Home Assistant, shared by the modules that use it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from real_ha import HA_PYTHON, MISSING, RealHomeAssistant


def start_real_ha(directory: Path) -> RealHomeAssistant:
    """A started HA in ``directory``; a clear failure (not a skip) when it is not installed."""
    if not HA_PYTHON.exists():
        pytest.fail(MISSING, pytrace=False)
    ha = RealHomeAssistant(directory)
    try:
        ha.start()
    except Exception:
        ha.stop()
        raise
    return ha


@pytest.fixture(scope="session")
def real_ha(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealHomeAssistant]:
    """One real HA for the session (tests that stop it start their own)."""
    ha = start_real_ha(tmp_path_factory.mktemp("home-assistant"))
    yield ha
    ha.stop()
