"""``gateway --check`` for the speech-to-text engines, one function per engine.

pocketsphinx is offline. A cloud engine is checked when it is configured
(the default ``stt.engine``, or one with a key a client may pick): DNS, TCP
and TLS to each host it uses, then the key, without opening a billed session:
AssemblyAI's temporary-token endpoint (``GET /v3/token``: a token for a valid
key, 401 for a bad one), aiOla's own token flow (API key -> token -> jwt).
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from urllib.parse import urlsplit, urlunsplit

from agent.gateway.check_steps import TIMEOUT_S, Steps, endpoint, network, network_names
from agent.gateway.reach import key_refused
from agent.gateway.settings import GatewaySettings
from agent.gateway.stt.config import ENV_KEYS, read_api_key
from agent.gateway.stt.stream import StreamFailure


def not_configured(engine: str) -> str:
    """Why a cloud engine is skipped: no key, and where one would go."""
    return f"no key (stt.{engine}.api_key_file or {ENV_KEYS[engine]}); not offered to clients"


def cloud_key(settings: GatewaySettings, engine: str, source: str, steps: Steps) -> str | None:
    """The engine's key (required, exit 78, when it is ``stt.engine``), its packages there.

    None, with the reason shown, when the engine is not offered.
    """
    from agent.gateway.stt.engines import missing_modules

    key_file = getattr(settings.stt, engine).api_key_file
    key = read_api_key(engine, key_file, source, required=settings.stt.engine == engine)
    if key is None:
        steps.skip("", not_configured(engine))
        return None
    missing = missing_modules(engine)
    if missing:
        steps.add("packages", False, f"{engine} needs the Python packages {', '.join(missing)}",
                  f"install voice-agent[{engine}] (scripts/install.sh --with-gateway does)")
        return None
    return key


def check_pocketsphinx(settings: GatewaySettings, source: str, steps: Steps) -> None:
    """Offline: nothing to reach."""
    default = " (stt.engine)" if settings.stt.engine == "pocketsphinx" else ""
    steps.add("", True, f"offline, no network or key needed{default}")


def _http_url(ws_url: str, path: str) -> str:
    parts = urlsplit(ws_url)
    scheme = {"wss": "https", "ws": "http"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, path, "", ""))


def check_assemblyai(settings: GatewaySettings, source: str, steps: Steps) -> None:
    """DNS/TCP/TLS to the v3 host, then the key against ``/v3/token``."""
    a = settings.stt.assemblyai
    key = cloud_key(settings, "assemblyai", source, steps)
    if key is None:
        return
    host, port, secure = endpoint(a.url)
    names = [*network_names(host, port), "credentials"]
    if not network(steps, host, port, secure, "stt.assemblyai.url"):
        steps.skip_rest(names)
        return
    url = _http_url(a.url, "/v3/token") + "?expires_in_seconds=60"
    request = urllib.request.Request(url, headers={"Authorization": key})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as reply:
            ok = isinstance(json.loads(reply.read()).get("token"), str)
        steps.add("credentials", ok, "the key was accepted" if ok else "no token in the reply",
                  "is stt.assemblyai.url the streaming service?")
    except urllib.error.HTTPError as exc:
        steps.add("credentials", False, key_refused(exc.code, "stt.assemblyai.api_key_file"),
                  "put a valid key in stt.assemblyai.api_key_file or ASSEMBLYAI_API_KEY")
    except (OSError, ValueError) as exc:
        steps.add("credentials", False, f"no answer: {type(exc).__name__}",
                  "is stt.assemblyai.url the streaming service?")


def check_aiola(settings: GatewaySettings, source: str, steps: Steps) -> None:
    """DNS/TCP/TLS to both aiOla hosts, then the key through the token flow."""
    from agent.gateway.stt.aiola_auth import AiolaAuth

    a = settings.stt.aiola
    key = cloud_key(settings, "aiola", source, steps)
    if key is None:
        return
    auth, base = endpoint(a.auth_url), endpoint(a.base_url)
    both = urlsplit(a.base_url).netloc != urlsplit(a.auth_url).netloc
    names = [*network_names(*auth[:2]), *(network_names(*base[:2]) if both else []),
             "credentials"]
    if not network(steps, *auth, "stt.aiola.auth_url") or (
        both and not network(steps, *base, "stt.aiola.base_url")
    ):
        steps.skip_rest(names)
        return
    try:
        asyncio.run(AiolaAuth(a, key).jwt())
        steps.add("credentials", True, "the key was exchanged for a session jwt")
    except StreamFailure as exc:
        steps.add("credentials", False, str(exc),
                  "put a valid key in stt.aiola.api_key_file or AIOLA_API_KEY; "
                  "check stt.aiola.workflow_id")
