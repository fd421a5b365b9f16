"""A Cobalt Diatheke server as the gateway's dialog (``dialog.engine: diatheke``).

- :mod:`.protos`: the project's ``.proto`` files, written from Cobalt's published
  API (package ``cobaltspeech.diatheke``, service ``Diatheke``), one per API version.
- :mod:`.pb`: the message modules generated from them (``scripts/gen-protos.sh``).
- :mod:`.rpc`: the gRPC channel (``grpcio``, asyncio) and the calls by method path.
- :mod:`.reply`: reply audio to the device (one reply per turn, 16 kHz, chunked).
- :mod:`.v2`: API 2 (Diatheke 2.x): token sessions, ``StreamASR``, action lists.
- :mod:`.v1`: API 1 (Diatheke 1.x): session ids, event and reply streams, ``StreamAudioInput``.
- :mod:`.backend`: :class:`DiathekeBackend`, the channel and one dialog session per connection.
- :mod:`.agent`: :class:`DiathekeAgent`, the back end as an agent of the chain.

May import: :mod:`agent.gateway.dialog.backend`, :mod:`agent.gateway.dialog_settings`,
:mod:`agent.gateway.stt.engine`, :mod:`agent.link.protocol`, :mod:`agent.common`;
``grpc`` is imported only here below, never by the rest of the gateway.
"""
