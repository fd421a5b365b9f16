"""Shared pytest configuration: markers."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Register the project's markers."""
    config.addinivalue_line(
        "markers",
        "slow: builds real things (a venv, pip installs); deselect with -m 'not slow'",
    )
