"""``voice-agent run``: the daemon."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``run``."""
    from agent.cli.main import DEFAULT_CONFIG

    parser.add_argument("--config", default=DEFAULT_CONFIG, help="configuration file")


def run(args: argparse.Namespace) -> int:
    """Load the configuration (exit 78 if bad) and run the daemon until stopped.

    A part that cannot start at all (a wake model that cannot be loaded, an
    input file that cannot be read) stops it with one line and exit 1; a
    device that is missing or goes away is retried by its source instead.
    """
    from agent.common.settings_values import ConfigError
    from agent.config.load import load_config

    try:
        settings = load_config(args.config)
    except ConfigError as err:
        hint = ""
        if str(err).endswith("no such file"):
            # A new user's first run: say where a configuration comes from.
            hint = ("; give one with --config FILE (config/agent.yaml is the annotated "
                    "example), and `voice-agent doctor --config FILE` checks the set-up")
        print(f"{err}{hint}", file=sys.stderr)
        return err.exit_code
    from agent.audio.sources import SourceError
    from agent.device.daemon import Daemon
    from agent.device.operate import OperateError
    from agent.hearing.apm import ApmUnavailable
    from agent.hearing.models import WakeModelError

    try:
        daemon = Daemon(settings, args.config)
    except (WakeModelError, SourceError, OperateError, ApmUnavailable) as exc:
        print(f"voice-agent: cannot start: {exc}", file=sys.stderr)
        return 1
    return daemon.run()
