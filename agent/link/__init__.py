"""The device's side of the wire: protocol, frames, URL, auth and the connection.

- :mod:`agent.link.protocol`: the sans-I/O audio gateway protocol (typed messages,
  :func:`encode`, :func:`decode_client`, :func:`decode_gateway`); the one module the
  gateway shares with the device side.
- :mod:`agent.link.frames`: reassembly of fragmented WebSocket frames into messages.
- :mod:`agent.link.url`: the gateway URL with its configured query, and its redacted form.
- :mod:`agent.link.auth`: bearer tokens, token files, IAM tokens, TLS contexts.
- :mod:`agent.link.connection`: :class:`GatewayConnection`, the one persistent WebSocket.

May import: :mod:`agent.common`. It knows nothing of :mod:`agent.device`.
"""
