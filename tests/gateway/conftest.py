"""Fixtures of the gateway tests: a real Home Assistant, shared by the modules that use it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from real_ha import RealHomeAssistant, start_real_ha


@pytest.fixture(scope="session")
def real_ha(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealHomeAssistant]:
    """One real HA for the session (tests that stop it start their own)."""
    ha = start_real_ha(tmp_path_factory.mktemp("home-assistant"))
    yield ha
    ha.stop()
