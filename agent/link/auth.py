"""Credentials for the gateway handshake, and the TLS context they travel under.

Each provider answers one question before every connection attempt: which
headers authenticate this handshake? (:meth:`connect_headers`).

* :class:`NoAuth`: none.
* :class:`BearerAuth`: ``Authorization: Bearer TOKEN``, the token given or read
  from ``token_file`` at *every* attempt, so a rotated file is picked up.
* :class:`IamAuth`: an IBM-Cloud-style IAM exchange. The API key is POSTed as
  a form to ``token_url``; the ``access_token`` returned is the bearer token.
  A fresh token is fetched for every connection attempt, and a background
  thread refreshes it before it expires (at 80 % of its lifetime, or 60 s
  before the end when that is earlier, never before half of it).

Every secret met here (token, token file contents, API key, access tokens as
they are fetched) is added to the :class:`~agent.common.redact.Redactor` so that no
log line or event can carry it.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Protocol

from agent.common.redact import REDACTOR, Redactor

log = logging.getLogger(__name__)

IAM_GRANT_TYPE = "urn:ibm:params:oauth:grant-type:apikey"


class AuthError(Exception):
    """Credentials could not be obtained (unreadable file, token endpoint down...).

    The message never contains a secret.
    """


class AuthProvider(Protocol):
    """What the connection asks of a credentials provider."""

    def connect_headers(self) -> dict[str, str]:
        """Headers for the next handshake; may block (a token fetch). Raises AuthError."""
        ...

    def start(self) -> None:
        """Begin any background work (token refresh)."""
        ...

    def stop(self) -> None:
        """End background work; idempotent."""
        ...


def make_ssl_context(verify: bool = True, ca_file: str | None = None) -> ssl.SSLContext:
    """The client TLS context for the gateway and the token endpoint.

    Verified against the system CAs by default, or against ``ca_file`` only
    when one is given; ``verify=False`` (only when configured) checks nothing.
    """
    if not verify:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=ca_file)


def _read_secret_file(path: str, what: str) -> str:
    try:
        value = Path(path).expanduser().read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        # The error names the file, never its content.
        raise AuthError(f"cannot read the {what} file {path}: {exc.__class__.__name__}") from None
    if not value:
        raise AuthError(f"the {what} file {path} is empty")
    return value


class NoAuth:
    """No credentials."""

    def connect_headers(self) -> dict[str, str]:
        """No headers."""
        return {}

    def start(self) -> None:
        """Nothing to do."""

    def stop(self) -> None:
        """Nothing to do."""


class BearerAuth:
    """A static bearer token, or one read from ``token_file`` at every attempt."""

    def __init__(
        self,
        token: str | None = None,
        token_file: str | None = None,
        *,
        redactor: Redactor = REDACTOR,
    ) -> None:
        if not token and not token_file:
            raise ValueError("bearer auth needs a token or a token_file")
        self._token = token
        self._token_file = token_file
        self._redactor = redactor
        redactor.add(token)

    def connect_headers(self) -> dict[str, str]:
        """``Authorization: Bearer TOKEN``, re-reading the token file each time."""
        if self._token_file:
            token = _read_secret_file(self._token_file, "token")
            self._redactor.add(token)
        else:
            token = str(self._token)
        return {"Authorization": f"Bearer {token}"}

    def start(self) -> None:
        """Nothing to do."""

    def stop(self) -> None:
        """Nothing to do."""


def refresh_delay(lifetime_s: float) -> float:
    """Seconds after a fetch at which a token living ``lifetime_s`` is refreshed."""
    return max(1.0, 0.5 * lifetime_s, min(0.8 * lifetime_s, lifetime_s - 60.0))


class IamAuth:
    """An access token exchanged for an API key at ``token_url``, kept fresh.

    :meth:`connect_headers` always fetches a new token (the protocol asks for
    a refresh on every reconnect, and a rejected token must not be reused);
    :meth:`start` runs a refresher thread that fetches again before the
    current token expires (``expires_in``; without it, only reconnects fetch).
    """

    def __init__(
        self,
        token_url: str,
        api_key: str | None = None,
        api_key_file: str | None = None,
        *,
        ssl_context: ssl.SSLContext | None = None,
        timeout_s: float = 10.0,
        redactor: Redactor = REDACTOR,
    ) -> None:
        if not api_key and not api_key_file:
            raise ValueError("iam auth needs an api_key or an api_key_file")
        if not token_url:
            raise ValueError("iam auth needs a token_url")
        self.token_url = token_url
        self._api_key = api_key
        self._api_key_file = api_key_file
        self._ssl_context = ssl_context
        self._timeout_s = timeout_s
        self._redactor = redactor
        redactor.add(api_key)
        self._fetch_lock = threading.Lock()  # one token request at a time
        self._cond = threading.Condition()
        self._token: str | None = None
        self._refresh_at: float | None = None  # time.monotonic()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.fetches = 0
        """Successful token fetches so far (for diagnostics and tests)."""

    @property
    def token(self) -> str | None:
        """The current access token (None before the first fetch)."""
        return self._token

    def connect_headers(self) -> dict[str, str]:
        """Fetch a fresh token and return it as ``Authorization: Bearer``."""
        return {"Authorization": f"Bearer {self.fetch()}"}

    def fetch(self) -> str:
        """POST the API key to the token URL; store and return the access token."""
        with self._fetch_lock:
            api_key = self._api_key
            if self._api_key_file:
                api_key = _read_secret_file(self._api_key_file, "api key")
                self._redactor.add(api_key)
            token, lifetime = self._request(str(api_key))
            self._redactor.add(token)
            with self._cond:
                self._token = token
                self.fetches += 1
                self._refresh_at = (
                    time.monotonic() + refresh_delay(lifetime) if lifetime else None
                )
                self._cond.notify_all()
            log.debug("fetched an IAM token from %s (expires in %s s)", self.token_url, lifetime)
            return token

    def _request(self, api_key: str) -> tuple[str, float | None]:
        form = urllib.parse.urlencode({"apikey": api_key, "grant_type": IAM_GRANT_TYPE})
        request = urllib.request.Request(
            self.token_url,
            data=form.encode("ascii"),
            method="POST",
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
        )
        where = f"IAM token request to {self.token_url}"
        try:
            with urllib.request.urlopen(
                request, timeout=self._timeout_s, context=self._ssl_context
            ) as response:
                body = response.read(1024 * 1024)
        except urllib.error.HTTPError as exc:
            # Only the status: the body could echo what we sent.
            raise AuthError(f"{where} failed: HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise AuthError(f"{where} failed: {reason}") from None
        try:
            reply: Any = json.loads(body)
        except ValueError:
            raise AuthError(f"{where}: the reply is not JSON") from None
        token = reply.get("access_token") if isinstance(reply, dict) else None
        if not isinstance(token, str) or not token:
            raise AuthError(f"{where}: the reply has no access_token")
        lifetime = reply.get("expires_in")
        if isinstance(lifetime, bool) or not isinstance(lifetime, int | float) or lifetime <= 0:
            lifetime = None
        return token, None if lifetime is None else float(lifetime)

    def start(self) -> None:
        """Start the refresher thread (idempotent)."""
        with self._cond:
            if self._thread is not None:
                return
            self._stopping = False
            self._thread = threading.Thread(
                target=self._refresh_loop, name="iam-token-refresh", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the refresher thread and wait for it (idempotent)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _refresh_loop(self) -> None:
        failures = 0
        while True:
            with self._cond:
                while not self._stopping:
                    due = self._refresh_at
                    now = time.monotonic()
                    if due is not None and now >= due:
                        break
                    self._cond.wait(None if due is None else due - now)
                if self._stopping:
                    return
                self._refresh_at = None  # taken; fetch() schedules the next one
            try:
                self.fetch()
                failures = 0
            except AuthError as exc:
                retry = min(60.0, 5.0 * 2**failures)
                failures += 1
                log.warning("could not refresh the IAM token: %s; retrying in %.0f s", exc, retry)
                with self._cond:
                    if self._refresh_at is None:
                        self._refresh_at = time.monotonic() + retry


def auth_from_settings(
    auth: Any, ssl_context: ssl.SSLContext | None, *, redactor: Redactor = REDACTOR
) -> AuthProvider:
    """The provider for ``settings.gateway.auth`` (type none | bearer | iam)."""
    kind = getattr(auth, "type", "none") if auth is not None else "none"
    if kind == "none":
        return NoAuth()
    if kind == "bearer":
        return BearerAuth(auth.token, auth.token_file, redactor=redactor)
    if kind == "iam":
        return IamAuth(
            auth.token_url,
            auth.api_key,
            getattr(auth, "api_key_file", None),
            ssl_context=ssl_context,
            redactor=redactor,
        )
    raise ValueError(f"unknown auth type {kind!r}")
