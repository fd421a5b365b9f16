"""Bearer token at the handshake, and TLS (a certificate made here with trustme)."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from gateway_support import open_client, text_turn
from websockets.exceptions import InvalidMessage, InvalidStatus

from agent.gateway.in_thread import RunningGateway, serve_in_thread
from agent.gateway.settings import AuthSettings, GatewaySettings, SttSettings, TlsSettings

TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, ca: trustme.CA) -> Iterator[RunningGateway]:
    d: Path = tmp_path_factory.mktemp("gateway-tls")
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.private_key_pem.write_to_path(str(d / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(d / "cert.pem"))
    (d / "token").write_text(TOKEN + "\n")
    settings = GatewaySettings(
        port=0,
        tls=TlsSettings(cert=str(d / "cert.pem"), key=str(d / "key.pem")),
        auth=AuthSettings(token_file=str(d / "token")),
        stt=SttSettings(workers=1),
    )
    gw = serve_in_thread(settings)
    yield gw
    gw.stop()


@pytest.fixture
def client_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def test_url_is_wss(gateway: RunningGateway) -> None:
    assert gateway.url.startswith("wss://127.0.0.1:")


@pytest.mark.parametrize(
    "headers", [None, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic " + TOKEN}]
)
def test_missing_or_wrong_token_is_refused_at_the_handshake(
    gateway: RunningGateway, client_tls: ssl.SSLContext, headers: dict[str, str] | None
) -> None:
    with (
        pytest.raises(InvalidStatus) as refused,
        open_client(gateway.url, ssl=client_tls, additional_headers=headers),
    ):
        pass
    assert refused.value.response.status_code == 401
    assert refused.value.response.headers["WWW-Authenticate"] == "Bearer"


def test_token_in_header_or_query_is_accepted(
    gateway: RunningGateway, client_tls: ssl.SSLContext
) -> None:
    with open_client(
        gateway.url, ssl=client_tls, additional_headers={"Authorization": f"Bearer {TOKEN}"}
    ) as ws:
        assert text_turn(ws, "do you have a pool").skill == "pool"
    with open_client(gateway.url + f"?token={TOKEN}", ssl=client_tls) as ws:
        assert text_turn(ws, "what time is it").skill == "time"


def test_plain_websocket_to_a_tls_gateway_fails(gateway: RunningGateway) -> None:
    plain = gateway.url.replace("wss://", "ws://")
    # The TLS server reads the plain HTTP request as a broken TLS record and
    # drops the connection: the handshake never completes.
    with pytest.raises(InvalidMessage):
        with open_client(plain, additional_headers={"Authorization": f"Bearer {TOKEN}"}):
            pass


def test_untrusted_certificate_fails(gateway: RunningGateway) -> None:
    with (
        pytest.raises(ssl.SSLCertVerificationError),
        open_client(gateway.url, ssl=ssl.create_default_context()),
    ):
        pass


def test_the_token_never_reaches_a_log_record_at_debug_level_in_process(
    gateway: RunningGateway, client_tls: ssl.SSLContext, caplog: pytest.LogCaptureFixture
) -> None:
    # serve_in_thread's path: the Gateway itself installs the redaction.
    caplog.set_level(logging.DEBUG)
    with open_client(
        gateway.url, ssl=client_tls, additional_headers={"Authorization": f"Bearer {TOKEN}"}
    ) as ws:
        assert text_turn(ws, "do you have a pool").skill == "pool"
    with open_client(gateway.url + f"?token={TOKEN}", ssl=client_tls) as ws:
        assert text_turn(ws, "what time is it").skill == "time"
    lines = [r.getMessage() for r in caplog.records]
    assert any(line.startswith("< Authorization: ") for line in lines)  # debug is on
    assert not any(TOKEN in line for line in lines)
