"""The reference gateway's WebSocket server (``websockets`` asyncio API).

:class:`Gateway` owns what connections share (the speech-to-text worker
pool, the pipeline: the agents and the speaker) and serves each connection with a
:class:`~agent.gateway.session.Session`. At the handshake it refuses clients
beyond ``limits.max_connections`` (503) and, when a token is configured,
clients without it (401). Frames larger than ``limits.max_message_bytes``
close that connection (1009); malformed messages get an ``error`` message,
and too many of them close the connection (1008).

Which reply form a connection gets is decided at its handshake from
``reply.form`` and the client's ``User-Agent`` (:mod:`agent.gateway.forms`:
base64 for this project's device, the Node Buffer form for everyone else).
Two query parameters of the connection URL override settings for that
connection, so one gateway can test both reply forms and both endpointing
modes: ``reply_form=auto|standard|node`` and ``endpointing=true|false``.

For tests and the demo, :func:`serve_in_thread` runs a gateway on its own
event loop thread and returns a :class:`RunningGateway`.
"""

from __future__ import annotations

import asyncio
import hmac
import itertools
import logging
import os
import re
import sqlite3
import ssl
import time
from collections.abc import Callable
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from agent.common.redact import REDACTOR, guard_websockets_logs
from agent.gateway.dialog.builtin import default_skills
from agent.gateway.dialog.registry import create_agents
from agent.gateway.dialog.skills import Skills
from agent.gateway.forms import choose_form, is_announce_tool
from agent.gateway.live_grammar import LiveGrammar
from agent.gateway.pipeline import Pipeline
from agent.gateway.records import ConnectionRecord, Recorder
from agent.gateway.session import Services, Session
from agent.gateway.settings import ConfigError, GatewaySettings, check_exposure, read_token
from agent.gateway.stt.engines import SpeechEngines
from agent.gateway.stt.pool import SttPool
from agent.gateway.timers.alarms import CONNECTION_OWNER, TimerService
from agent.gateway.timers.announce import SessionTarget
from agent.gateway.timers.store import TimerStore
from agent.gateway.tts.engine import Speaker, speak_text
from agent.gateway.tts.factory import create_speaker
from agent.link.protocol import Announce, GatewayMessage, ProtocolError, decode_client, encode

log = logging.getLogger(__name__)

USER_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class Gateway:
    """A reference gateway; :meth:`run` serves until ``stop`` is set."""

    def __init__(
        self,
        settings: GatewaySettings,
        *,
        skills: Skills | None = None,
        recorder: Recorder | None = None,
        tts: Speaker | None = None,
        source: str = "gateway settings",
    ) -> None:
        check_exposure(settings, source)  # however they were built
        self.settings = settings
        skills = skills or default_skills()
        self._token = read_token(settings.auth)
        # Secrets stay out of every log line, in-process (serve_in_thread) too:
        # the token and the engines' keys (read_api_key) go to the redactor,
        # whose record factory scrubs every record; websockets' handshake
        # header lines get their own filter as well.
        REDACTOR.add(self._token)
        REDACTOR.install()
        guard_websockets_logs()
        pool = SttPool(skills.searches(), skills.pronunciations, workers=settings.stt.workers)
        agents = create_agents(settings, skills)
        # Agents whose phrases change at run time (Home Assistant's names) update the grammars.
        self.grammar = LiveGrammar(skills, pool)
        self.grammar.watch(agents.values())
        self.services = Services(
            settings=settings,
            skills=skills,
            stt=SpeechEngines(settings.stt, pool, source),  # reads the keys: may raise
            pipeline=Pipeline(
                settings.dialog,
                skills,
                agents,
                tts or create_speaker(settings),
            ),
            recorder=recorder,
        )
        speaker = self.services.pipeline.speaker
        self.timers = TimerService(
            _timer_store(settings), settings.timers.max_ring_s,
            # A timer's announcement is made when it is set: it rings on time.
            speak=lambda text: speak_text(speaker, text, None),
        )
        self._numbers = itertools.count(1)
        self._active = 0
        self.port: int | None = None

    def _ssl(self) -> ssl.SSLContext | None:
        tls = self.settings.tls
        if not tls.enabled:
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(tls.cert), str(tls.key))
        return context

    def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        if self._active >= self.settings.limits.max_connections:
            log.warning("refusing a connection: %d already open", self._active)
            return conn.respond(HTTPStatus.SERVICE_UNAVAILABLE, "Too many connections\n")
        if self._token is not None and not self._authorized(request):
            log.warning("refusing a connection from %s: bad or missing token", conn.remote_address)
            response = conn.respond(HTTPStatus.UNAUTHORIZED, "Unauthorized\n")
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        return None

    def _authorized(self, request: Request) -> bool:
        assert self._token is not None
        expected = self._token.encode()
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), expected):
            return True
        # The second hosted variant put the token in the query instead.
        for value in parse_qs(urlsplit(request.path).query).get("token", []):
            if hmac.compare_digest(value.encode(), expected):
                return True
        return False

    async def _handler(self, ws: ServerConnection) -> None:
        number = next(self._numbers)
        self._active += 1
        recorder = self.services.recorder
        record: ConnectionRecord | None = recorder.new_connection(number) if recorder else None

        async def send(msg: GatewayMessage, buffer_form: bool) -> None:
            await ws.send(encode(msg, buffer_form=buffer_form))
            if recorder is not None and record is not None:
                recorder.sent(record, msg)

        request = ws.request
        query = parse_qs(urlsplit(request.path if request else "").query)
        user_agent = request.headers.get("User-Agent") if request else None
        form = choose_form(
            self.settings.reply.form,
            query["reply_form"][-1] if query.get("reply_form") else None,
            user_agent,
        )
        if record is not None:
            record.user_agent, record.reply_form = user_agent, form.form
        owner = _owner(query, number)
        session = Session(
            number,
            self.services,
            send,
            buffer_form=form.buffer_form,
            endpointing=_choice(query, "endpointing", {"true": True, "false": False}),
            record=record,
            device=owner,
        )
        target = SessionTarget(session, owner)
        tool = is_announce_tool(user_agent)
        if tool:
            # `voice-agent announce`: not a device (no timers, never a target);
            # its request is logged once, as "announced ... on ...".
            log.debug("connection %d from %s: the voice-agent announce tool", number,
                      ws.remote_address)
        else:
            session.peer.timers = self.timers.attach(target)
            log.info(
                "connection %d from %s (device %s): reply form %s (%s)", number,
                ws.remote_address, target.owner, form.form, form.why,
            )
        try:
            await self._serve(ws, session, record, target)
        except ConnectionClosed:
            pass
        finally:
            self.timers.detach(target)
            await session.close()
            self._active -= 1
            if recorder is not None and record is not None:
                recorder.closed(record, ws.close_code)
            log.log(logging.DEBUG if tool else logging.INFO, "connection %d closed (%s)", number,
                    ws.close_code)

    async def _serve(
        self,
        ws: ServerConnection,
        session: Session,
        record: ConnectionRecord | None,
        target: SessionTarget,
    ) -> None:
        limits = self.settings.limits
        recorder = self.services.recorder
        requests: set[asyncio.Task[None]] = set()  # announce requests under way
        while True:
            try:
                frame = await asyncio.wait_for(
                    ws.recv(), max(0.0, session.deadline() - time.monotonic())
                )
            except TimeoutError:  # recv() is safe to cancel: nothing is lost
                if await session.tick():
                    await ws.close(1000, "idle timeout")
                    return
            else:
                if isinstance(frame, bytes):
                    log.info("connection %d: binary frame ignored", session.number)
                    continue
                try:
                    msg = decode_client(frame, max_bytes=limits.max_message_bytes)
                except ProtocolError as exc:
                    await session.protocol_error(f"bad message: {exc}")
                else:
                    if recorder is not None and record is not None:
                        recorder.received(record, msg)
                    if isinstance(msg, Announce):  # spoken elsewhere: do not hold this loop
                        task = asyncio.create_task(self.timers.request(target, msg))
                        requests.add(task)
                        task.add_done_callback(requests.discard)
                    else:
                        await session.handle(msg)
            if session.too_many_errors:
                await ws.close(1008, "too many bad messages")
                return

    async def run(self, stop: asyncio.Event, ready: Callable[[int], None] | None = None) -> None:
        """Serve until ``stop`` is set; ``ready(port)`` once listening."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.services.stt.warm_up)
        for agent in self.services.pipeline.agents.values():
            start = getattr(agent, "start", None)  # a remote link kept up (Home Assistant)
            if callable(start):
                start()
        s = self.settings
        timers = asyncio.create_task(self.timers.run(stop))
        try:
            server: Server
            async with serve(
                self._handler,
                s.host,
                s.port,
                process_request=self._process_request,
                ssl=self._ssl(),
                max_size=s.limits.max_message_bytes,
                compression=None,  # audio does not compress; skip the CPU
            ) as server:
                self.port = server.sockets[0].getsockname()[1]
                scheme = "wss" if s.tls.enabled else "ws"
                # Said once, by whoever started us (the CLI prints it): debug here.
                log.debug("gateway listening on %s://%s:%d", scheme, s.host, self.port)
                if ready is not None:
                    ready(self.port)
                await stop.wait()
                log.info("gateway stopping")
                server.close(close_connections=True)
                await server.wait_closed()
        finally:
            timers.cancel()
            await asyncio.gather(timers, return_exceptions=True)
            self.timers.store.close()
            await self.services.pipeline.aclose()
            await loop.run_in_executor(None, self.services.stt.close)


def _timer_store(settings: GatewaySettings) -> TimerStore:
    """The timers' database: ``state_dir``, else systemd's ``$STATE_DIRECTORY``, else memory."""
    directory = settings.state_dir or os.environ.get("STATE_DIRECTORY", "").split(":")[0] or None
    try:
        store = TimerStore(directory)
    except (OSError, sqlite3.Error) as exc:
        problem = f"cannot keep timers in {directory}: {exc}"
        raise ConfigError("gateway settings", "state_dir", problem) from None
    if directory is None:
        log.info("timers are kept in memory only (set state_dir to keep them across restarts)")
    return store


def _owner(query: dict[str, list[str]], number: int) -> str:
    """Which device this connection is: its ``userID``, else the connection itself."""
    given = query.get("userID")
    if given and USER_ID_RE.match(given[-1]):
        return given[-1]
    if given:
        log.info("ignoring userID=%r (expected letters, digits, _ or -)", given[-1][:80])
    return f"{CONNECTION_OWNER}{number}"


def _choice(query: dict[str, list[str]], name: str, values: dict[str, bool]) -> bool | None:
    given = query.get(name)
    if not given:
        return None
    value = values.get(given[-1].lower())
    if value is None:
        log.info("ignoring %s=%r (expected %s)", name, given[-1], "|".join(values))
    return value
