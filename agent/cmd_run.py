"""``voice-agent run``: the daemon."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``run``."""
    from agent.cli import DEFAULT_CONFIG

    parser.add_argument("--config", default=DEFAULT_CONFIG, help="configuration file")


def run(args: argparse.Namespace) -> int:
    """Load the configuration (exit 78 if bad) and run the daemon until stopped."""
    from agent.config import load_or_exit

    settings = load_or_exit(args.config)
    from agent.daemon import Daemon

    return Daemon(settings, args.config).run()
