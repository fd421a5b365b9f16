"""The gRPC helper's status rescue, against a real loopback gRPC server.

A server that ends a client-streaming call at once (as Diatheke does for an
unknown session) while the client is still writing audio: grpcio's asyncio
client then reports some of those calls as INTERNAL "Internal error from
Core" instead of the server's NOT_FOUND (measured: 41 to 68 in 300). The
gateway's ``stream_unary`` must hand back the server's status every time.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from concurrent import futures

import grpc
import grpc.aio
import pytest

from agent.gateway.dialog.diatheke.pb import diatheke2_pb2 as pb2
from agent.gateway.dialog.diatheke.rpc import SERVICE, stream_unary

CALLS = 300
"""Enough calls that the race shows in them (about one in six without the rescue)."""


def _reject(requests: Iterator[pb2.ASRInput], ctx: grpc.ServicerContext) -> pb2.ASRResult:
    next(requests)
    ctx.abort(grpc.StatusCode.NOT_FOUND, "session 's1' not found")


@pytest.fixture
def port() -> Iterator[int]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    handler = grpc.stream_unary_rpc_method_handler(
        _reject, request_deserializer=pb2.ASRInput.FromString,
        response_serializer=pb2.ASRResult.SerializeToString)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(SERVICE, {"StreamASR": handler}),))
    bound = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield bound
    server.stop(grace=0).wait(10)


async def _codes(port: int, rescue: bool) -> Counter[tuple[str, str]]:
    seen: Counter[tuple[str, str]] = Counter()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
        method = ch.stream_unary(f"/{SERVICE}/StreamASR",
                                 request_serializer=pb2.ASRInput.SerializeToString,
                                 response_deserializer=pb2.ASRResult.FromString)
        for _ in range(CALLS):
            async def audio() -> AsyncIterator[pb2.ASRInput]:
                yield pb2.ASRInput(token=pb2.TokenData(id="s1"))
                for _ in range(50):  # 20 ms frames, written as fast as the call takes them
                    await asyncio.sleep(0)
                    yield pb2.ASRInput(audio=bytes(640))

            try:
                if rescue:
                    await stream_unary(method, audio(), timeout=10)
                else:
                    await method(audio(), timeout=10)
            except grpc.aio.AioRpcError as exc:
                seen[(exc.code().name, exc.details() or "")] += 1
    return seen


def test_the_servers_status_survives_a_write_in_flight(port: int) -> None:
    seen = asyncio.run(_codes(port, rescue=True))
    assert seen == Counter({("NOT_FOUND", "session 's1' not found"): CALLS})

