"""``voice-agent ctl COMMAND``: talk to the running daemon over its control socket."""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``ctl``."""
    from agent.config.operate import DEFAULT_CONTROL_SOCKET
    from agent.device.control import COMMANDS

    parser.add_argument(
        "command", choices=COMMANDS,
        help="listen: start a turn | stop: stop the reply | mute, unmute: the microphone | "
        "volume N: playback volume in percent | status",
    )
    parser.add_argument("value", nargs="?", type=float, help="volume only: 0 to 100 (percent)")
    parser.add_argument(
        "--socket", default=DEFAULT_CONTROL_SOCKET,
        help=f"the daemon's control.socket (default {DEFAULT_CONTROL_SOCKET})",
    )


def run(args: argparse.Namespace) -> int:
    """Send one request and print the reply as JSON: 0 if ok, 1 if refused, 2 if unreachable."""
    from agent.device.control import request

    if args.command == "volume" and args.value is None:
        print("voice-agent ctl: volume needs a value from 0 to 100", file=sys.stderr)
        return 2
    value = args.value if args.command == "volume" else None
    try:
        reply = request(args.socket, args.command, value)
    except PermissionError:
        print(f"voice-agent ctl: {args.socket}: permission denied "
              "(is your user in the voice-agent group?)", file=sys.stderr)
        return 2
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        print(f"voice-agent ctl: {args.socket}: {reason} (is voice-agent running?)",
              file=sys.stderr)
        return 2
    print(json.dumps(reply, indent=2))
    return 0 if isinstance(reply, dict) and reply.get("ok") else 1
