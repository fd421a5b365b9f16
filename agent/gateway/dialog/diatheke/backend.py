""":class:`DiathekeBackend`: one gRPC channel per gateway, one dialog session per connection."""

from __future__ import annotations

import logging

import grpc.aio

from agent.gateway.dialog.backend import DialogConnection, Outbox
from agent.gateway.dialog.diatheke.rpc import Api1, Api2, open_channel
from agent.gateway.dialog.diatheke.v1 import Api1Connection
from agent.gateway.dialog.diatheke.v2 import Api2Connection
from agent.gateway.dialog_settings import DiathekeSettings

log = logging.getLogger(__name__)


class DiathekeBackend:
    """A Cobalt Diatheke server (API 2 or 1) as the dialog of every connection.

    The channel is opened on first use, on the gateway's event loop (a
    ``grpc.aio`` channel belongs to the loop it was made on). A server that is
    down does not stop the gateway: each transaction's first call waits for
    the channel up to ``timeout_s`` and gets an ``error`` if it is still down,
    while gRPC reconnects with its bounded backoff (:data:`.rpc.RECONNECT_OPTIONS`).
    """

    name = "diatheke"

    def __init__(self, settings: DiathekeSettings, *, max_stream_s: float = 60.0) -> None:
        self.settings = settings
        self.max_stream_s = max_stream_s
        """Deadline of a stream (audio in, speech out): the utterance cap plus ``timeout_s``."""
        self._channel: grpc.aio.Channel | None = None
        self._api1: Api1 | None = None
        self._api2: Api2 | None = None

    def _open(self) -> grpc.aio.Channel:
        if self._channel is None:
            self._channel = open_channel(self.settings)
            self._api1, self._api2 = Api1(self._channel), Api2(self._channel)
            log.info("dialog: Diatheke API %d at %s%s", self.settings.api, self.settings.address,
                     " (TLS)" if self.settings.tls else "")
        return self._channel

    def connect(self, outbox: Outbox) -> DialogConnection:
        """The dialog session of a new device connection (created on its first turn)."""
        self._open()
        if self.settings.api == 1:
            assert self._api1 is not None
            return Api1Connection(self._api1, self.settings, outbox, self.max_stream_s)
        assert self._api2 is not None
        return Api2Connection(self._api2, self.settings, outbox, self.max_stream_s)

    async def aclose(self) -> None:
        """Close the channel (the gateway stops)."""
        channel, self._channel = self._channel, None
        if channel is not None:
            await channel.close()


def create_backend(settings: DiathekeSettings, max_utterance_s: float) -> DiathekeBackend:
    """The back end for ``dialog.engine: diatheke``."""
    return DiathekeBackend(settings, max_stream_s=max_utterance_s + settings.timeout_s)
