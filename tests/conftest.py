"""Shared pytest configuration: markers, and the shared helpers on the import path.

The tests live in one folder per room of ``agent/`` (``tests/device/``,
``tests/gateway/``...); the helpers they share (``speech``, ``gateway_support``,
``daemon_harness``, ``scripted_gateway``) stay here, in ``tests/``, and are imported
by their plain names.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))


def pytest_configure(config: pytest.Config) -> None:
    """Register the project's markers."""
    config.addinivalue_line(
        "markers",
        "slow: builds real things (a venv, pip installs); deselect with -m 'not slow'",
    )
