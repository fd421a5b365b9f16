"""A real Home Assistant core (2024.3.3, from ``.venv-ha``) as a process on 127.0.0.1.

``scripts/setup.sh --test`` installs it (``scripts/setup_ha.sh``). A fresh
config directory per instance: template lights backed by ``input_boolean``
(brightness by ``input_number``), a template switch and fan; onboarding's
user step creates the areas Living Room, Kitchen and Bedroom and a user; the
token is a long-lived one made over the WebSocket with no browser. Offline:
no ``default_config``; ``--skip-pip`` with the integrations' requirements
pre-installed; bound to 127.0.0.1 (``frontend`` is checked to import, since
HA in recovery mode would ignore ``http:`` and listen on 0.0.0.0).
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from daemon_process import die_with_parent
from websockets.sync.client import ClientConnection, connect

from agent.gateway.dialog.home_assistant.agent import HomeAssistantAgent
from agent.gateway.dialog.home_assistant.settings import HomeAssistantSettings
from agent.gateway.dialog_settings import DialogSettings
from agent.gateway.in_thread import RunningGateway
from agent.gateway.settings import GatewaySettings, SttSettings

ROOT = Path(__file__).resolve().parents[1]
HA_PYTHON = ROOT / ".venv-ha" / "bin" / "python"
VERSION = "2024.3.3"
MISSING = (f"Home Assistant {VERSION} is not installed in {ROOT / '.venv-ha'}: "
           "run scripts/setup.sh --test (it installs it with scripts/setup_ha.sh)")

LIGHTS = {  # object id -> (friendly name, area id)
    "kitchen_lights": ("Kitchen Lights", "kitchen"),
    "living_room_lamp": ("Living Room Lamp", "living_room"),
    "bedroom_light": ("Bedroom Light", "bedroom"),
}
SWITCHES = {"coffee_maker": ("Coffee Maker", "kitchen")}
FANS = {"ceiling_fan": ("Ceiling Fan", "bedroom")}


def _config(port: int) -> str:
    booleans = {**LIGHTS, **SWITCHES, **FANS}
    lines = [
        "homeassistant:",
        "  name: Test Home",
        "  latitude: 51.5", "  longitude: 0.0", "  elevation: 0",
        "  unit_system: metric", "  time_zone: UTC", "  currency: EUR", "  country: GB",
        "http:", "  server_host: 127.0.0.1", f"  server_port: {port}",
        "api:", "websocket_api:", "onboarding:", "config:", "conversation:", "intent:",
        "assist_pipeline:",
        "logger:", "  default: warning",
        "input_boolean:",
    ]
    lines += [f"  {key}:\n    name: {key} power" for key in booleans]
    lines += ["input_number:"]
    lines += [f"  {key}_level:\n    min: 0\n    max: 255\n    initial: 0" for key in LIGHTS]
    lines += ["light:", "  - platform: template", "    lights:"]
    for key, (name, _area) in LIGHTS.items():
        lines += [
            f"      {key}:",
            f"        friendly_name: {name}",
            f"        unique_id: {key}",
            f"        value_template: \"{{{{ is_state('input_boolean.{key}', 'on') }}}}\"",
            f"        level_template: \"{{{{ states('input_number.{key}_level') | int }}}}\"",
            "        turn_on:",
            "          service: input_boolean.turn_on",
            f"          target: {{entity_id: input_boolean.{key}}}",
            "        turn_off:",
            "          service: input_boolean.turn_off",
            f"          target: {{entity_id: input_boolean.{key}}}",
            "        set_level:",
            "          - service: input_number.set_value",
            f"            target: {{entity_id: input_number.{key}_level}}",
            "            data: {value: \"{{ brightness }}\"}",
            "          - service: input_boolean.turn_on",
            f"            target: {{entity_id: input_boolean.{key}}}",
        ]
    lines += ["switch:", "  - platform: template", "    switches:"]
    for key, (name, _area) in SWITCHES.items():
        lines += [
            f"      {key}:",
            f"        friendly_name: {name}",
            f"        unique_id: {key}",
            f"        value_template: \"{{{{ is_state('input_boolean.{key}', 'on') }}}}\"",
            "        turn_on:",
            "          service: input_boolean.turn_on",
            f"          target: {{entity_id: input_boolean.{key}}}",
            "        turn_off:",
            "          service: input_boolean.turn_off",
            f"          target: {{entity_id: input_boolean.{key}}}",
        ]
    lines += ["fan:", "  - platform: template", "    fans:"]
    for key, (name, _area) in FANS.items():
        lines += [
            f"      {key}:",
            f"        friendly_name: {name}",
            f"        unique_id: {key}",
            f"        value_template: \"{{{{ states('input_boolean.{key}') }}}}\"",
            "        turn_on:",
            "          service: input_boolean.turn_on",
            f"          target: {{entity_id: input_boolean.{key}}}",
            "        turn_off:",
            "          service: input_boolean.turn_off",
            f"          target: {{entity_id: input_boolean.{key}}}",
        ]
    return "\n".join(lines) + "\n"


def start_real_ha(directory: Path) -> RealHomeAssistant:
    """A started HA in ``directory``; a clear failure (not a skip) when it is not installed."""
    if not HA_PYTHON.exists():
        pytest.fail(MISSING, pytrace=False)
    ha = RealHomeAssistant(directory)
    try:
        ha.start()
    except Exception:
        ha.stop()
        raise
    return ha


def wait_until(condition: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    """Poll ``condition`` (state in another thread) until true."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RealHomeAssistant:
    """One HA process with its config in ``directory`` (see the module docs)."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = ""
        self.process: subprocess.Popen[bytes] | None = None
        self._log = directory / "hass.out"

    # -- the process ---------------------------------------------------------
    def start(self, timeout: float = 90.0) -> None:
        """Start HA (a fresh config on the first start) and wait until it answers."""
        if not HA_PYTHON.exists():
            raise RuntimeError(MISSING)
        fresh = not (self.directory / "configuration.yaml").exists()
        if fresh:
            self.directory.mkdir(parents=True, exist_ok=True)
            (self.directory / "configuration.yaml").write_text(_config(self.port))
        check = subprocess.run([str(HA_PYTHON), "-c", "import hass_frontend"], check=False)
        if check.returncode:  # else HA would start in recovery mode on 0.0.0.0
            raise RuntimeError(f"hass_frontend does not import in .venv-ha: {MISSING}")
        self.process = subprocess.Popen(
            [str(HA_PYTHON), "-m", "homeassistant", "--config", str(self.directory),
             "--skip-pip", "--log-file", str(self.directory / "home-assistant.log")],
            stdout=self._log.open("ab"), stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
        self._wait_up(timeout)
        if fresh:
            self._onboard()

    def stop(self) -> None:
        """Stop HA (SIGTERM, then SIGKILL) and wait for the port to close."""
        p, self.process = self.process, None
        if p is None:
            return
        p.terminate()
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(10)

    def restart(self) -> None:
        """Stop and start again (same config, same port, same token)."""
        self.stop()
        self.start()

    def _wait_up(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"hass exited with {self.process.returncode}; see {self._log}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/onboarding", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)  # polling a starting server: nothing to wait on
        raise RuntimeError(f"hass did not answer within {timeout} s; see {self._log}")

    # -- onboarding and the token ---------------------------------------------
    def _post(self, path: str, body: bytes, content_type: str) -> dict[str, Any]:
        request = urllib.request.Request(f"{self.url}{path}", data=body,
                                         headers={"Content-Type": content_type})
        with urllib.request.urlopen(request, timeout=30) as r:
            return json.loads(r.read())  # type: ignore[no-any-return]

    def _onboard(self) -> None:
        client_id = f"{self.url}/"
        user = json.dumps({"client_id": client_id, "name": "Test", "username": "test",
                           "password": "test-password-1", "language": "en"}).encode()
        code = self._post("/api/onboarding/users", user, "application/json")["auth_code"]
        form = urllib.parse.urlencode({"grant_type": "authorization_code", "code": code,
                                       "client_id": client_id}).encode()
        short = self._post("/auth/token", form, "application/x-www-form-urlencoded")
        with self.websocket(short["access_token"]) as ws:
            self.token = self.call(ws, {"type": "auth/long_lived_access_token",
                                        "client_name": "voice-agent tests", "lifespan": 3650})
        (self.directory / "token").write_text(self.token)
        with self.websocket() as ws:
            for key, (_name, area) in {**LIGHTS, **SWITCHES, **FANS}.items():
                domain = "light" if key in LIGHTS else "switch" if key in SWITCHES else "fan"
                self.call(ws, {"type": "config/entity_registry/update",
                               "entity_id": f"{domain}.{key}", "area_id": area})

    # -- talking to it ---------------------------------------------------------
    @contextmanager
    def websocket(self, token: str | None = None) -> Iterator[ClientConnection]:
        """An authenticated WebSocket (the long-lived token by default)."""
        with connect(f"ws://127.0.0.1:{self.port}/api/websocket", open_timeout=10) as ws:
            assert json.loads(ws.recv(10))["type"] == "auth_required"
            ws.send(json.dumps({"type": "auth", "access_token": token or self.token}))
            answer = json.loads(ws.recv(10))
            assert answer["type"] == "auth_ok", answer
            self._ids = 0
            yield ws

    def call(self, ws: ClientConnection, message: dict[str, Any]) -> Any:
        """One command on ``ws``; its result (AssertionError on failure)."""
        self._ids += 1
        ws.send(json.dumps({**message, "id": self._ids}))
        while True:
            answer = json.loads(ws.recv(30))
            if answer.get("id") == self._ids and answer.get("type") == "result":
                assert answer["success"], answer
                return answer["result"]

    def command(self, message: dict[str, Any]) -> Any:
        """One command on a WebSocket of its own."""
        with self.websocket() as ws:
            return self.call(ws, message)

    def state(self, entity_id: str) -> dict[str, Any]:
        """The entity's state object (REST)."""
        request = urllib.request.Request(f"{self.url}/api/states/{entity_id}",
                                         headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as r:
            return json.loads(r.read())  # type: ignore[no-any-return]

    def set_power(self, key: str, on: bool) -> None:
        """Turn the input_boolean behind a test device on or off directly."""
        self.command({"type": "call_service", "domain": "input_boolean",
                      "service": "turn_on" if on else "turn_off",
                      "target": {"entity_id": f"input_boolean.{key}"}})

    def wait_state(self, entity_id: str, state: str, timeout: float = 10.0) -> dict[str, Any]:
        """Poll until ``entity_id`` is ``state`` (HA changes it a few ms after answering)."""
        deadline = time.monotonic() + timeout
        current: dict[str, Any] = {}
        while time.monotonic() < deadline:
            current = self.state(entity_id)
            if current.get("state") == state:
                return current
            time.sleep(0.05)
        raise AssertionError(f"{entity_id} is {current.get('state')!r}, not {state!r}")


# -- a gateway in front of it ------------------------------------------------
def gateway_settings(ha: RealHomeAssistant, chain: tuple[str, ...] = ("skills", "home_assistant"),
                     token_file: Path | None = None, **kw: Any) -> GatewaySettings:
    """A gateway whose chain holds ``home_assistant`` at ``ha``."""
    h = HomeAssistantSettings(url=ha.url, token_file=str(token_file or ha.directory / "token"),
                              **kw)
    return GatewaySettings(port=0, stt=SttSettings(workers=1),
                           dialog=DialogSettings(engine=chain, home_assistant=h))


def ha_agent(gw: RunningGateway) -> HomeAssistantAgent:
    agent = gw.gateway.services.pipeline.agents["home_assistant"]
    assert isinstance(agent, HomeAssistantAgent)
    return agent
