"""The control socket's wire format: JSON lines, one request and one reply each.

Requests::

    {"command": "listen"}            start a turn, as the button does
    {"command": "stop"}              stop what is sounding (the reply now)
    {"command": "mute"}              microphone off: nothing streamed, no wake word
    {"command": "unmute"}
    {"command": "volume", "value": 40}   playback volume in percent, 0-100
    {"command": "status"}

Replies carry ``"ok": true`` and what the command reports, or
``"ok": false`` and ``"error"``, a sentence saying what was wrong. This module
only checks requests and writes replies; :mod:`agent.device.operate` answers
them on the conversation thread, :mod:`agent.device.control_server` serves
the socket, and ``voice-agent ctl`` is the client (:func:`request`).
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from typing import Any

COMMANDS = ("listen", "stop", "mute", "unmute", "volume", "status")
MAX_LINE = 4096
"""The longest request line accepted, in bytes."""

USAGE = 'expected one JSON object per line, like {"command": "status"}'


class BadRequest(ValueError):
    """A request that cannot be carried out; ``str()`` is the reply's ``error``."""


@dataclass(frozen=True)
class Request:
    """One checked request."""

    command: str
    value: float | None = None


def parse_request(line: bytes) -> Request:
    """Check one request line; raises :class:`BadRequest` saying what is wrong."""
    try:
        data = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BadRequest(f"not JSON: {USAGE}") from None
    if not isinstance(data, dict):
        raise BadRequest(USAGE)
    command = data.get("command")
    if command not in COMMANDS:
        raise BadRequest(
            f"unknown command {_shown(command)}; expected one of {', '.join(COMMANDS)}"
        )
    extra = set(data) - {"command", "value"}
    if extra:
        raise BadRequest(f"unknown field {_shown(sorted(extra)[0])}; expected command, value")
    value = data.get("value")
    if command == "volume":
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
            raise BadRequest(
                f"volume: expected a value from 0 to 100 (percent), got {_shown(value)}"
            )
        return Request(command, float(value))
    if value is not None:
        raise BadRequest(f"{command} takes no value, got {_shown(value)}")
    return Request(command)


def _shown(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # `ctl volume 150` sends 150.0: quote it as the user typed it
    text = json.dumps(value, ensure_ascii=True)
    return text if len(text) <= 40 else text[:37] + "..."


def encode(reply: dict[str, Any]) -> bytes:
    """One reply line."""
    return (json.dumps(reply, separators=(",", ":")) + "\n").encode()


def error(message: str) -> dict[str, Any]:
    """An error reply."""
    return {"ok": False, "error": message}


def request(path: str, command: str, value: float | None = None, timeout: float = 10.0) -> Any:
    """Send one request to the socket at ``path`` and return the decoded reply (a client)."""
    body: dict[str, Any] = {"command": command}
    if value is not None:
        body["value"] = value
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        sock.sendall(json.dumps(body).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n") and len(data) <= 1 << 20:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return json.loads(data.decode())
