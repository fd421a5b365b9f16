"""``gateway --check`` for the dialog back ends, one function per back end.

The skills are built in. Diatheke: DNS and TCP to ``dialog.diatheke.address``,
then ``ListModels`` (``Models`` on a 1.x server) over gRPC, then whether the
configured model is among them (or, with ``model: null``, that there is one).
"""

from __future__ import annotations

import asyncio

from agent.gateway.check_steps import Steps, network_names
from agent.gateway.reach import cannot_reach, split_address, where
from agent.gateway.settings import GatewaySettings


def check_skills(settings: GatewaySettings, source: str, steps: Steps) -> None:
    """Built in: nothing to reach."""
    steps.add("", True, "built in, nothing to reach")


def check_diatheke(settings: GatewaySettings, source: str, steps: Steps) -> None:
    """The server's address, ``ListModels``, and the configured model."""
    import socket
    import time

    d = settings.dialog.diatheke
    host, port = split_address(d.address)
    dns, tcp = network_names(host, port, tls=False)
    names = [dns, tcp, "ListModels", "model"]
    fix = "is the Diatheke server running at dialog.diatheke.address?"
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        steps.add(dns, True, f"{host} resolves")
        t0 = time.monotonic()
        with socket.create_connection((host, port), timeout=d.timeout_s):
            pass
    except OSError as exc:
        failed = dns if isinstance(exc, socket.gaierror) else tcp
        steps.add(failed, False, cannot_reach(exc, host, port), fix)
        steps.skip_rest(names)
        return
    steps.add(tcp, True, f"connected to {where(host, port)} in "
                         f"{1000 * (time.monotonic() - t0):.0f} ms")
    try:
        models = asyncio.run(list_models(settings))
    except Exception as exc:  # noqa: BLE001 - gRPC's AioRpcError, or TLS set-up (OSError)
        steps.add("ListModels", False, _rpc_failure(exc),
                  "is it a Diatheke server of dialog.diatheke.api's version "
                  "(and dialog.diatheke.tls as it serves)?")
        steps.skip_rest(names)
        return
    steps.add("ListModels", True, f"{len(models)} model(s): {', '.join(models) or 'none'}")
    if d.model is None:
        if models:
            steps.add("model", True, f"{models[0]} (the first listed; dialog.diatheke.model: null)")
        else:
            steps.add("model", False, "the server lists no models", "load a model on the server")
    elif d.model in models:
        steps.add("model", True, f"{d.model} (dialog.diatheke.model)")
    else:
        steps.add("model", False, f"unknown model {d.model!r} (the server has: "
                                  f"{', '.join(models) or 'none'})",
                  "set dialog.diatheke.model to one of them, or null for the first")


async def list_models(settings: GatewaySettings) -> list[str]:
    """The model ids the server lists (2.x ``ListModels``, 1.x ``Models``)."""
    from agent.gateway.dialog.diatheke.pb import diatheke1_pb2 as pb1
    from agent.gateway.dialog.diatheke.pb import diatheke2_pb2 as pb2
    from agent.gateway.dialog.diatheke.rpc import Api1, Api2, open_channel

    d = settings.dialog.diatheke
    channel = open_channel(d)
    try:
        if d.api == 2:
            listed = await Api2(channel).list_models(pb2.Empty(), timeout=d.timeout_s)
            return [m.id for m in listed.models]
        old = await Api1(channel).models(pb1.Empty(), timeout=d.timeout_s)
        return [str(m) for m in old.models]
    finally:
        await channel.close()


def _rpc_failure(exc: BaseException) -> str:
    code = getattr(exc, "code", None)
    details = getattr(exc, "details", None)
    if callable(code) and callable(details):
        return f"{code().name}: {details() or 'no details'}"
    return f"{type(exc).__name__}: {exc}"
