"""Data frames from the gateway, turned into messages.

Joins fragmented frames, refuses messages over the protocol's size cap
without keeping them in memory, decodes each text message with
:func:`agent.link.protocol.decode_gateway`, and logs and drops what is not a
message: binary frames (the protocol has none) and malformed text. Unknown
actions are logged at debug and passed on as :class:`~agent.link.protocol.Unknown`
so that the daemon decides what to do with them (today: nothing).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from agent.link.protocol import (
    MAX_MESSAGE_BYTES,
    GatewayMessage,
    ProtocolError,
    Unknown,
    decode_gateway,
)

OPCODE_CONT, OPCODE_TEXT, OPCODE_BINARY = 0x0, 0x1, 0x2
"""RFC 6455 data frame opcodes."""

PREVIEW_CHARS = 120
"""How much of a malformed message is quoted in the log (scrubbed like any log line)."""


class MessageAssembler:
    """Feeds data frames in, hands decoded messages to ``on_message``. One per connection."""

    def __init__(
        self,
        on_message: Callable[[GatewayMessage | Unknown], None],
        logger: logging.Logger | None = None,
        max_bytes: int = MAX_MESSAGE_BYTES,
    ) -> None:
        self._on_message = on_message
        self._log = logger or logging.getLogger(__name__)
        self._max_bytes = max_bytes
        self._opcode: int | None = None  # of the message being assembled
        self._parts: list[bytes] = []
        self._size = 0
        self._binary_seen = False

    def add(self, opcode: int, fin: bool, data: bytes) -> str | None:
        """Take one data frame; returns a problem that must end the connection, or None."""
        if opcode in (OPCODE_TEXT, OPCODE_BINARY):
            if self._opcode is not None:
                return "a new message began inside a fragmented one"
            self._opcode, self._parts, self._size = opcode, [], 0
        elif opcode != OPCODE_CONT or self._opcode is None:
            return f"unexpected frame (opcode {opcode})"
        self._size += len(data)
        if self._size <= self._max_bytes:  # past the cap, stop keeping it (memory)
            self._parts.append(data)
        if fin:
            kind, message, size = self._opcode, b"".join(self._parts), self._size
            self._opcode, self._parts = None, []
            if size > self._max_bytes:
                self._log.warning("dropped a message of %d bytes from the gateway (over the cap)",
                                  size)
            else:
                self._deliver(kind, message)
        return None

    def _deliver(self, opcode: int, data: bytes) -> None:
        if opcode == OPCODE_BINARY:
            # Warn once per connection; a gateway streaming binary would flood the log.
            level = logging.DEBUG if self._binary_seen else logging.WARNING
            self._binary_seen = True
            self._log.log(level, "ignored a binary frame of %d bytes from the gateway", len(data))
            return
        try:
            msg = decode_gateway(data, max_bytes=self._max_bytes)
        except ProtocolError as exc:
            preview = data[:PREVIEW_CHARS].decode("utf-8", "replace")
            self._log.warning("dropped a malformed message from the gateway: %s: %r", exc, preview)
            return
        if isinstance(msg, Unknown):
            self._log.debug("unknown action %r from the gateway (passed on)", msg.action)
        self._on_message(msg)
