"""The engines a gateway can use, and one stream per utterance from them.

pocketsphinx is always there (the worker pool). A cloud engine is
*configured* when it has an API key (``api_key_file`` or its environment
variable) and its Python packages are installed; ``stt.engine`` naming one
that is not stops the start with exit 78 and one line naming the key. A
client's ``stt_options.engine`` picks any configured engine; anything else
(``watson``, an engine without a key) gets ``stt.engine``.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import TYPE_CHECKING

from agent.common.settings_values import ConfigError
from agent.gateway.stt.batch import BatchStream
from agent.gateway.stt.config import read_api_key
from agent.gateway.stt.factory import BATCH_ENGINES
from agent.gateway.stt.pool import SttPool
from agent.gateway.stt.stream import StreamContext, SttListener, SttStream

if TYPE_CHECKING:
    from agent.gateway.settings import SttSettings
    from agent.gateway.stt.aiola_auth import AiolaAuth
    from agent.gateway.stt.wyoming import WyomingAsr

log = logging.getLogger(__name__)

EXTRA_MODULES = {
    "assemblyai": ("websockets",), "aiola": ("socketio", "aiohttp"), "wyoming": ("wyoming",),
}
"""What each streaming engine imports (the extras ``voice-agent[assemblyai]`` / ``[aiola]``;
``wyoming`` comes with ``[gateway]``)."""


def missing_modules(engine: str) -> list[str]:
    """The Python packages ``engine`` needs that are not installed."""
    return [m for m in EXTRA_MODULES.get(engine, ()) if importlib.util.find_spec(m) is None]


class SpeechEngines:
    """Configured engines (see the module docs); :meth:`open` starts one utterance's stream."""

    def __init__(self, settings: SttSettings, pool: SttPool, source: str) -> None:
        self.settings = settings
        self.pool = pool
        self.default = settings.engine
        self._assemblyai_key: str | None = None
        self.aiola_auth: AiolaAuth | None = None
        self.wyoming: WyomingAsr | None = None
        """The Wyoming server: offered when ``stt.engine`` is ``wyoming``."""
        self.streams_opened = 0
        configured = list(BATCH_ENGINES)
        if settings.engine == "wyoming":
            missing = missing_modules("wyoming")
            if missing:
                raise ConfigError(source, "stt.engine", "wyoming needs the Python package "
                                  "wyoming: install voice-agent[gateway]")
            from agent.gateway.stt.wyoming import WyomingAsr

            self.wyoming = WyomingAsr(settings.wyoming)
            configured.append("wyoming")
        for engine, key_file in (
            ("assemblyai", settings.assemblyai.api_key_file),
            ("aiola", settings.aiola.api_key_file),
        ):
            chosen = engine == settings.engine
            key = read_api_key(engine, key_file, source, required=chosen)
            if key is None:
                continue
            missing = missing_modules(engine)
            if missing:
                if chosen:
                    raise ConfigError(
                        source, "stt.engine",
                        f"{engine} needs the Python packages {', '.join(missing)}: "
                        f"install voice-agent[{engine}] (scripts/install.sh --with-gateway does)",
                    )
                log.warning("stt: %s has a key but not its packages (%s); not offered",
                            engine, ", ".join(missing))
                continue
            if engine == "assemblyai":
                self._assemblyai_key = key
            else:
                from agent.gateway.stt.aiola_auth import AiolaAuth

                self.aiola_auth = AiolaAuth(settings.aiola, key)
            configured.append(engine)
        self.configured = tuple(configured)

    def engine_for(self, requested: object) -> str:
        """The engine for a client's ``engine`` option (unconfigured names: the default)."""
        if isinstance(requested, str) and requested in self.configured:
            return requested
        return self.default

    def open(self, engine: str, listener: SttListener, context: StreamContext) -> SttStream:
        """Start one utterance's stream on ``engine`` (a configured one; on the running loop)."""
        self.streams_opened += 1
        if engine == "assemblyai" and self._assemblyai_key is not None:
            from agent.gateway.stt.assemblyai import AssemblyAIStream

            return AssemblyAIStream(listener, context, self.settings.assemblyai,
                                    self._assemblyai_key)
        if engine == "aiola" and self.aiola_auth is not None:
            from agent.gateway.stt.aiola import AiolaStream

            return AiolaStream(listener, context, self.aiola_auth)
        if engine == "wyoming" and self.wyoming is not None:
            from agent.gateway.stt.wyoming import WyomingStream

            return WyomingStream(listener, context, self.wyoming)
        if engine not in BATCH_ENGINES:
            raise ValueError(f"engine {engine!r} is not configured")
        return BatchStream(listener, context, self.pool, engine)

    def warm_up(self) -> None:
        """Start the batch engines' workers, describe the Wyoming server (others connect
        per utterance). Runs on a worker thread."""
        self.pool.warm_up()
        if self.wyoming is not None:
            self.wyoming.describe_at_start()

    def close(self) -> None:
        """Stop the worker pool."""
        self.pool.close()
