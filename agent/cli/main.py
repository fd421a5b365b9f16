"""voice-agent: a voice device for the Raspberry Pi.

Say the wake word or press the button: it streams what you say to an audio
gateway and plays the answer. Run it as a service with "voice-agent run", or
try it with "voice-agent demo".

Developer notes:

Each subcommand lives in its own module ``agent.cli.<name>`` which provides
``add_arguments(parser)`` and ``run(args) -> int``. Modules are imported only
when their subcommand is used, so ``voice-agent check-config`` never loads
onnxruntime or PortAudio.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "run": ("agent.cli.run", "run the voice agent daemon"),
    "check-config": ("agent.cli.check_config", "validate a configuration and print it"),
    "gateway": ("agent.cli.gateway", "run the local reference gateway"),
    "announce": ("agent.cli.announce", "ask the gateway to speak a text on one device or all"),
    "demo": ("agent.cli.demo", "a two-turn conversation with the local gateway"),
    "detect": ("agent.cli.detect", "print wake word detections in a WAV file"),
    "devices": ("agent.cli.devices", "list audio input and output devices"),
    "doctor": ("agent.cli.doctor", "check configuration, audio, wake models, gateway, GPIO"),
    "ctl": ("agent.cli.ctl", "control the running daemon: listen, stop, mute, volume, status"),
}

DEFAULT_CONFIG = "/etc/voice-agent/config.yaml"


def _description() -> str:
    """The user's part of this module's docstring: everything before the developer notes."""
    return (__doc__ or "").split("Developer notes:")[0].strip()


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every available subcommand."""
    parser = argparse.ArgumentParser(prog="voice-agent", description=_description())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue  # not built yet
        sp = sub.add_parser(name, help=help_text, description=help_text)
        sp.set_defaults(_module=module)
        module.add_arguments(sp)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run the chosen subcommand; returns its exit status."""
    parser = build_parser()
    if not (sys.argv[1:] if argv is None else argv):
        parser.print_help()  # a plain `voice-agent`: what it can do, not an error
        return 0
    args = parser.parse_args(argv)
    try:
        return int(args._module.run(args) or 0)
    except BrokenPipeError:  # e.g. `voice-agent detect x.wav | head`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
