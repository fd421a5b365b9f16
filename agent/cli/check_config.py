"""``voice-agent check-config [PATH]``: validate a configuration and print it.

Prints the effective configuration (every default filled in, relative paths
made absolute, secrets replaced by ``***``) as YAML on stdout and exits 0; or
prints the one-line error on stderr and exits 78 (EX_CONFIG).

Both kinds of file are known: a device configuration (``config/agent.yaml``)
and the reference gateway's settings (``config/gateway.yaml``, recognised by
its top-level keys), each checked with its own schema. For a gateway file it
also points to ``voice-agent gateway --config FILE --check``, which checks the
services the settings name.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

import yaml

from agent.cli.main import DEFAULT_CONFIG
from agent.common.redact import is_secret_name
from agent.common.settings_values import REDACTED, ConfigError
from agent.common.settings_yaml import load_yaml_file
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
        if is_gateway_file(path):
            header, data = _gateway(path)
        else:
            header = f"# effective configuration of {path} (secrets shown as ***)\n"
            data = redact(load_config(path))
    except ConfigError as err:
        print(err, file=sys.stderr)
        return err.exit_code
    sys.stdout.write(header)
    sys.stdout.write(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    sys.stdout.flush()
    return 0


def is_gateway_file(path: str) -> bool:
    """True when ``path`` holds the gateway's settings: its top-level keys are the gateway's.

    A file that cannot be read, or names a key only the device has (or none
    only the gateway has), is treated as a device configuration, whose loader
    reports the problem.
    """
    from agent.common.settings_reader import field_names
    from agent.config.settings import Settings
    from agent.gateway.settings import GatewaySettings

    try:
        data = load_yaml_file(path)
    except ConfigError:
        return False
    if not isinstance(data, dict):
        return False
    device, gateway = set(field_names(Settings)), set(field_names(GatewaySettings))
    keys = set(data)
    return bool(keys & (gateway - device)) and not keys & (device - gateway)


def _gateway(path: str) -> tuple[str, Any]:
    """The gateway settings of ``path``, checked, as plain data with secrets hidden."""
    from agent.gateway.settings import load_gateway_settings

    settings = load_gateway_settings(path)
    header = (
        f"# {path} is a gateway settings file: effective gateway settings (secrets shown as ***)\n"
        f"# its services (speech to text, dialog): voice-agent gateway --config {path} --check\n"
    )
    return header, _hide_secrets(dataclasses.asdict(settings))


def _hide_secrets(value: Any) -> Any:
    """Plain YAML data; secret-named values (not their ``_file`` paths) as ``***``."""
    if isinstance(value, dict):
        return {
            k: REDACTED
            if is_secret_name(k) and not k.endswith(("_file", "_url")) and v is not None
            else _hide_secrets(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_hide_secrets(v) for v in value]
    return value
