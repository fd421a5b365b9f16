"""``voice-agent gateway``: run the local reference gateway.

A WebSocket server speaking the gateway side of the protocol, with
pocketsphinx speech to text, a few built-in skills and espeak-ng speech.
Loopback only unless told otherwise; anything else needs TLS and a token.
Settings: ``config/gateway.yaml`` (all optional); options here override them.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.gateway.settings import GatewaySettings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``voice-agent gateway``."""
    parser.add_argument(
        "--config",
        metavar="FILE",
        default=None,
        help="the gateway's own settings (YAML; see config/gateway.yaml)",
    )
    parser.add_argument(
        "--host",
        default=None,
        help="address to bind (default 127.0.0.1; others need TLS and a token)",
    )
    parser.add_argument("--port", type=int, default=None, help="TCP port (default 8765; 0: any)")
    parser.add_argument("--tls-cert", metavar="PEM", default=None, help="certificate chain file")
    parser.add_argument("--tls-key", metavar="PEM", default=None, help="private key file")
    parser.add_argument(
        "--token-file",
        metavar="FILE",
        default=None,
        help="file holding the bearer token clients must present",
    )
    parser.add_argument(
        "--reply-form",
        choices=("auto", "standard", "node"),
        default=None,
        help="standard: base64 reply audio, prompt on audio_end; "
        "node: Buffer audio, prompt on text only; "
        "auto (default): standard for voice-agent devices, node for other clients",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="check the configured speech engine (DNS, TCP, TLS, credentials; a Wyoming "
        "server: what it offers), "
        "one line each; exit 0 when all pass, 1 otherwise",
    )
    parser.add_argument(
        "--no-endpointing",
        action="store_true",
        help="never end utterances on silence (wait for the client's audio_end)",
    )


def _settings(args: argparse.Namespace) -> GatewaySettings:
    """Settings from --config, with the command-line overrides applied and checked."""
    from agent.gateway.settings import load_gateway_settings, parse_gateway_settings

    base = load_gateway_settings(args.config)
    overrides: dict[str, Any] = {}
    if args.host is not None:
        overrides["host"] = args.host
    if args.port is not None:
        overrides["port"] = args.port
    tls: dict[str, Any] = {}
    if args.tls_cert is not None:
        tls["cert"] = args.tls_cert
    if args.tls_key is not None:
        tls["key"] = args.tls_key
    if (
        not overrides
        and not tls
        and args.token_file is None
        and args.reply_form is None
        and not args.no_endpointing
    ):
        return base
    # Re-validate through the same parser, so options get the same checks as the file.
    data: dict[str, Any] = dataclasses.asdict(base)
    data.update(overrides)
    if tls:
        data["tls"] = {**data["tls"], **tls}
    if args.token_file is not None:
        data["auth"] = {"token": None, "token_file": args.token_file}
    if args.reply_form is not None:
        data["reply"] = {**data["reply"], "form": args.reply_form}
    if args.no_endpointing:
        data["endpointing"] = {**data["endpointing"], "enabled": False}
    return parse_gateway_settings(data, "command line")


def _check(settings: GatewaySettings, source: str) -> int:
    """``--check``: one line per step; 0 when every step passed."""
    from agent.common.redact import REDACTOR
    from agent.gateway.check import run_check

    REDACTOR.install()
    lines, ok = run_check(settings, source)
    for line in lines:
        print(REDACTOR.scrub(str(line)), flush=True)
    return 0 if ok else 1


def run(args: argparse.Namespace) -> int:
    """Serve until SIGTERM or SIGINT; 0 after a clean stop, 78 for bad settings."""
    import asyncio
    import signal

    from agent.common.settings_values import ConfigError

    source = args.config or "command line"
    try:
        settings = _settings(args)
        if getattr(args, "check", False):
            return _check(settings, source)
        from agent.gateway.server import Gateway

        gateway = Gateway(settings, source=source)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return err.exit_code
    logging.basicConfig(
        level=getattr(logging, settings.log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # websockets announces "server listening" itself: only its warnings, except
    # at debug level, where its handshake lines pass through the header filter
    # (agent.common.redact.HandshakeHeaderFilter, installed by Gateway).
    if settings.log_level != "debug":
        logging.getLogger("websockets").setLevel(logging.WARNING)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await gateway.run(
            stop,
            ready=lambda port: print(
                f"voice-agent gateway: listening on "
                f"{'wss' if settings.tls.enabled else 'ws'}://{settings.host}:{port}/",
                flush=True,
            ),
        )

    try:
        asyncio.run(main())
    except OSError as exc:  # the port is taken, the address is not ours ...
        print(f"voice-agent gateway: cannot serve: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - e.g. the STT workers failed to start
        logging.getLogger(__name__).debug("gateway failed", exc_info=True)
        print(f"voice-agent gateway: {exc}", file=sys.stderr)
        return 1
    return 0
