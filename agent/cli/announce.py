"""``voice-agent announce TEXT [--device ID] [--url URL]``: the gateway speaks TEXT.

Connects to the gateway like any client (its bearer token from ``--token-file``,
or from the gateway's own settings with ``--config``), sends one ``announce``
request and prints the devices it was spoken on. Exit 0 when it was spoken on
at least one device, 1 otherwise (no such device, gateway unreachable, refused).
"""

from __future__ import annotations

import argparse
import sys

DEFAULT_URL = "ws://127.0.0.1:8765/"
TIMEOUT_S = 30.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``voice-agent announce``."""
    parser.add_argument("text", metavar="TEXT", help="what to say")
    parser.add_argument(
        "--device", metavar="ID", default=None,
        help="the device's userID (or connection-N); default: every connected device",
    )
    parser.add_argument("--url", default=None, help=f"the gateway (default {DEFAULT_URL})")
    parser.add_argument(
        "--config", metavar="FILE", default=None,
        help="the gateway's settings (config/gateway.yaml): its address and token",
    )
    parser.add_argument(
        "--token-file", metavar="FILE", default=None, help="file holding the gateway's token"
    )


def run(args: argparse.Namespace) -> int:
    """Send the request; print the answer."""
    from websockets.exceptions import InvalidStatus, WebSocketException
    from websockets.sync.client import connect

    from agent.common.settings_values import ConfigError
    from agent.gateway.settings import AuthSettings, load_gateway_settings, read_token
    from agent.link.protocol import (
        Announce,
        GatewayError,
        ProtocolError,
        Response,
        decode_gateway,
        encode,
        new_id,
    )

    try:
        settings = load_gateway_settings(args.config)
        auth = AuthSettings(token_file=args.token_file) if args.token_file else settings.auth
        token = read_token(auth)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return err.exit_code
    url = args.url
    if url is None:
        scheme = "wss" if settings.tls.enabled else "ws"
        url = f"{scheme}://{settings.host}:{settings.port}/" if args.config else DEFAULT_URL
    headers = {"Authorization": f"Bearer {token}"} if token else None
    request = Announce(new_id(), args.text, args.device)
    try:
        # Named as the announce tool, so the gateway does not take it for a device.
        with connect(url, additional_headers=headers, user_agent_header=_user_agent(),
                     open_timeout=TIMEOUT_S) as ws:
            ws.send(encode(request))
            for _ in range(100):  # bounded: the answer comes first on this connection
                msg = decode_gateway(ws.recv(timeout=TIMEOUT_S))
                if msg.id != request.id:
                    continue
                if isinstance(msg, GatewayError):
                    print(f"voice-agent announce: {msg.message}", file=sys.stderr)
                    return 1
                if isinstance(msg, Response):
                    spoken = msg.data.get("announced")
                    devices = [str(d) for d in spoken] if isinstance(spoken, list) else []
                    print(f"announced on {len(devices)} device(s): {', '.join(devices) or '-'}")
                    return 0 if devices else 1
    except InvalidStatus as exc:
        print(f"voice-agent announce: refused by {url}: HTTP "
              f"{exc.response.status_code}", file=sys.stderr)
        return 1
    except ConnectionRefusedError:
        print(f"voice-agent announce: no gateway is listening at {url} "
              "(is `voice-agent gateway` running? --url or --config names another)",
              file=sys.stderr)
        return 1
    except (OSError, TimeoutError, WebSocketException, ProtocolError) as exc:
        print(f"voice-agent announce: {url}: {exc}", file=sys.stderr)
        return 1
    print("voice-agent announce: no answer from the gateway", file=sys.stderr)
    return 1


def _user_agent() -> str:
    """``voice-agent-announce/VERSION`` (agent.gateway.forms.ANNOUNCE_PRODUCT)."""
    from importlib import metadata

    try:
        version = metadata.version("voice-agent")
    except metadata.PackageNotFoundError:  # a source tree that was never installed
        version = "0"
    return f"voice-agent-announce/{version}"
