"""Redaction of the cloud engines' secrets: jwts, ``*-token`` query values, and
``websockets``' handshake header lines, which it logs at debug level."""

from __future__ import annotations

import logging

from agent.common.redact import MASK, HandshakeHeaderFilter, Redactor

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE3MDAwMDAwMDB9.c2lnbmF0dXJlLXBhcnQ"


def test_a_jwt_and_aiolas_token_parameter_are_masked_without_being_known() -> None:
    r = Redactor()
    url = f"https://apis.aiola.ai/?execution_id=1&x-aiola-api-token={JWT[:20]}x&lang_code=en"
    assert r.scrub(url) == f"https://apis.aiola.ai/?execution_id=1&x-aiola-api-token={MASK}" \
        "&lang_code=en"
    assert r.scrub(f"jwt is {JWT} here") == f"jwt is {MASK} here"
    assert r.scrub("a plain.dotted.name stays") == "a plain.dotted.name stays"


def record(msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("websockets.server", logging.DEBUG, __file__, 1, msg, args, None)


def test_the_header_filter_masks_secret_headers_it_was_never_told_about() -> None:
    f = HandshakeHeaderFilter()
    for line, expected in [
        (("< Authorization: %s", "Bearer never-registered-1"), "< Authorization: ***"),
        (("> Authorization: %s", "raw-v3-key-2"), "> Authorization: ***"),
        (("< X-Api-Key: %s", "k3y"), "< X-Api-Key: ***"),
        (("< Host: %s", "127.0.0.1:8765"), "< Host: 127.0.0.1:8765"),
    ]:
        rec = record(*line)
        assert f.filter(rec) is True  # masked, never dropped
        assert rec.getMessage() == expected


def test_the_filter_holds_on_the_websockets_loggers_at_debug(caplog: object) -> None:
    from agent.common.redact import guard_websockets_logs

    guard_websockets_logs()
    logger = logging.getLogger("websockets.server")
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, rec: logging.LogRecord) -> None:
            seen.append(rec.getMessage())

    handler = Keep(logging.DEBUG)
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        logger.debug("< Authorization: Bearer %s", "unregistered-device-token-5")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)
    assert seen == ["< Authorization: ***"]
