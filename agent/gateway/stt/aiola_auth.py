"""aiOla's token flow: API key -> temporary token -> session jwt, kept until near its ``exp``.

``POST {auth_url}/voip-auth/apiKey2Token`` with ``Authorization: Bearer <key>``
returns ``context.token``; ``POST {auth_url}/voip-auth/session`` with
``{"workflow_id": ...}`` and that token as Bearer returns ``jwt`` (and
``sessionId``). One :class:`AiolaAuth` per gateway: every stream asks it for
the jwt, and it fetches a new one when the cached one is within
:data:`REFRESH_MARGIN_S` of its ``exp`` (the vendor SDK keeps the same
margin). Each token and jwt is given to the redactor the moment it arrives.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from typing import Any
from urllib.parse import urlsplit

from agent.common.redact import REDACTOR
from agent.gateway.reach import cannot_reach, key_refused
from agent.gateway.stt.config import DEFAULT_WORKFLOW_ID, AiolaSettings
from agent.gateway.stt.stream import StreamFailure

log = logging.getLogger(__name__)

REFRESH_MARGIN_S = 300.0
HTTP_TIMEOUT_S = 10.0
FALLBACK_LIFETIME_S = 600.0  # a jwt without a readable exp is used this long


def jwt_expiry(jwt: str) -> float | None:
    """The ``exp`` claim of a jwt (Unix seconds), or None when it has none."""
    try:
        payload = jwt.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        exp = claims.get("exp")
    except (IndexError, ValueError, AttributeError):
        return None
    return float(exp) if isinstance(exp, int | float) else None


class AiolaAuth:
    """The session jwt for aiOla's streaming service (see the module docs)."""

    def __init__(self, settings: AiolaSettings, api_key: str) -> None:
        self.settings = settings
        self._key = api_key
        self._jwt: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()
        self.fetches = 0
        """How many times a jwt was fetched (tests, benchmarks)."""

    @property
    def workflow_id(self) -> str:
        """The flow to run (the service's default when none is configured)."""
        return self.settings.workflow_id or DEFAULT_WORKFLOW_ID

    def invalidate(self) -> None:
        """Forget the jwt (the service refused it): the next stream fetches another."""
        self._jwt = None

    async def jwt(self) -> str:
        """A jwt valid for at least :data:`REFRESH_MARGIN_S` (raises StreamFailure)."""
        async with self._lock:
            if self._jwt is None or self._expires - time.time() < REFRESH_MARGIN_S:
                self._jwt, self._expires = await self._fetch()
            return self._jwt

    async def _fetch(self) -> tuple[str, float]:
        import aiohttp  # the aiola extra

        base = self.settings.auth_url.rstrip("/")
        timeout = aiohttp.ClientTimeout(total=HTTP_TIMEOUT_S)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as http:
                data = await _post(http, f"{base}/voip-auth/apiKey2Token", self._key, None)
                context = data.get("context")
                token = context.get("token") if isinstance(context, dict) else None
                if not isinstance(token, str) or not token:
                    raise StreamFailure("the auth service sent no token")
                REDACTOR.add(token)
                body = {"workflow_id": self.workflow_id}
                data = await _post(http, f"{base}/voip-auth/session", token, body)
        except (aiohttp.ClientError, TimeoutError) as exc:
            # The words of `gateway --check` (agent.gateway.reach).
            parts = urlsplit(base)
            port = parts.port or (443 if parts.scheme == "https" else 80)
            why = cannot_reach(exc, parts.hostname or "", port)
            raise StreamFailure(f"the auth service: {why}") from None
        jwt = data.get("jwt")
        if not isinstance(jwt, str) or not jwt:
            raise StreamFailure("the auth service sent no jwt")
        REDACTOR.add(jwt)
        self.fetches += 1
        expires = jwt_expiry(jwt) or time.time() + FALLBACK_LIFETIME_S
        log.debug("aiola: new session jwt, valid for %.0f s", expires - time.time())
        return jwt, expires


async def _post(http: Any, url: str, bearer: str, body: dict[str, Any] | None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {bearer}"}
    async with http.post(url, headers=headers, json=body) as response:
        if response.status != 200:
            if url.endswith("apiKey2Token") and response.status in (401, 403):
                failure = StreamFailure(key_refused(response.status, "stt.aiola.api_key_file"))
                failure.code = response.status
                raise failure
            what = "the API key" if url.endswith("apiKey2Token") else "the session request"
            raise StreamFailure(f"the auth service refused {what}", response.status)
        try:
            data = await response.json(content_type=None)
        except ValueError:
            data = None
    if not isinstance(data, dict):
        raise StreamFailure("the auth service sent something that is not a JSON object")
    return data
