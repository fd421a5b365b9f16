#!/usr/bin/env bash
# Set everything up and run the whole test suite, lint and type checks.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
.venv/bin/ruff check agent tests scripts
.venv/bin/mypy agent
.venv/bin/python -m pytest "$@"
