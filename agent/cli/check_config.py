"""``voice-agent check-config [PATH]``: validate a configuration and print it.

Prints the effective configuration (every default filled in, relative paths
made absolute, secrets replaced by ``***``) as YAML on stdout and exits 0; or
prints the one-line error on stderr and exits 78 (EX_CONFIG).
"""

from __future__ import annotations

import argparse
import sys

import yaml

from agent.cli.main import DEFAULT_CONFIG
from agent.common.settings_values import ConfigError
from agent.config.load import load_config, redact


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``PATH`` (optional) and ``--config PATH``."""
    parser.add_argument(
        "path",
        nargs="?",
        metavar="PATH",
        help=f"configuration file to check (default: --config, else {DEFAULT_CONFIG})",
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        default=DEFAULT_CONFIG,
        help=f"configuration file (default: {DEFAULT_CONFIG})",
    )


def run(args: argparse.Namespace) -> int:
    """Validate the configuration; print it (0) or the error (78)."""
    path = args.path if args.path is not None else args.config
    try:
        settings = load_config(path)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return err.exit_code
    sys.stdout.write(f"# effective configuration of {path} (secrets shown as ***)\n")
    sys.stdout.write(yaml.safe_dump(redact(settings), sort_keys=False, allow_unicode=True))
    sys.stdout.flush()
    return 0
