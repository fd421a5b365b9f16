"""``voice-agent demo``: a recorded two-turn conversation with the local gateway."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``demo``."""
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for replies.wav (default: a new temporary folder)")
    parser.add_argument("--no-play", action="store_true",
                        help="do not play the replies even when a speaker exists")


def run(args: argparse.Namespace) -> int:
    """Run the demo; exit 0 when the conversation completed."""
    from agent.demo import run_demo

    return run_demo(args.out, play=not args.no_play)
