"""``voice-agent doctor`` against real parts: ALSA file devices, gateways on 127.0.0.1, mock GPIO.

The doctor runs as a subprocess with ``HOME`` pointing at a directory whose
``.asoundrc`` serves raw files as microphones through the real PortAudio path
(docs: testing-audio.md): speech (padded with silence, since a file device
returns noise past its end), all zeros (the silence warning), and a
full-scale square wave (the clipping warning). Playback goes to ALSA's null
device. The gateways are real ``websockets`` servers on 127.0.0.1: one that
checks a bearer token, one that answers 401, one behind TLS with a ``trustme``
certificate. GPIO uses gpiozero's own mock pin factory
(``GPIOZERO_PIN_FACTORY=mock``); without it this machine has no GPIO.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import numpy as np
import pytest
import soundfile as sf
import trustme
from recordings import AUDIO
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import ServerConnection, serve

from agent.cli.doctor import Report
from agent.doctor import audio, system
from agent.doctor import report as doctor_report

ROOT = Path(__file__).resolve().parents[2]
SPEECH = AUDIO / "speech_hi.wav"
TOKEN = "s3cret-doctor-token-0123456789"
API_KEY = "s3cret-doctor-api-key-9876543210"
LINE = re.compile(r"^(OK|WARN|FAIL)\s+(.{18}) (.*)$")
ON_A_PI = Path("/proc/device-tree/model").exists() and "Raspberry" in Path(
    "/proc/device-tree/model"
).read_text(errors="replace")


# --- audio devices --------------------------------------------------------------


@dataclass
class AlsaHome:
    home: Path
    speech: np.ndarray  # what the speech device delivers first (int16)


@pytest.fixture(scope="module")
def alsa_home(tmp_path_factory: pytest.TempPathFactory) -> AlsaHome:
    """speech_plug (speech + 10 s of silence), zeros_plug, square_plug; default -> speech."""
    home = tmp_path_factory.mktemp("doctor_home")
    speech, rate = sf.read(str(SPEECH), dtype="int16")
    assert rate == 16000 and speech.ndim == 1
    padded = np.concatenate([speech, np.zeros(16000 * 10, np.int16)])
    files = {
        "speech": padded,
        "zeros": np.zeros(16000 * 10, np.int16),
        # 400 Hz square wave at full scale: every sample clips.
        "square": np.where((np.arange(16000 * 10) // 20) % 2 == 0, 32767, -32768),
    }
    conf = []
    for name, samples in files.items():
        raw = home / f"{name}.raw"
        np.asarray(samples, "<i2").tofile(raw)
        conf.append(
            f'pcm.{name} {{ type file slave.pcm "null" file "/dev/null" '
            f'infile "{raw}" format "raw" }}\n'
            f'pcm.{name}_plug {{ type plug slave {{ pcm "{name}" format S16_LE '
            "rate 16000 channels 1 } }\n"
        )
    conf.append('pcm.!default { type asym capture.pcm "speech_plug" playback.pcm "null" }\n')
    (home / ".asoundrc").write_text("".join(conf))
    return AlsaHome(home, padded)


# --- gateways -------------------------------------------------------------------


@dataclass
class Gateway:
    """A WebSocket server on 127.0.0.1 that records the Authorization headers it saw."""

    url: str
    authorizations: list[str | None] = field(default_factory=list)
    stop: Any = None


def _start_gateway(
    *, refuse: bool = False, token: str | None = None, tls: ssl.SSLContext | None = None
) -> Gateway:
    gw = Gateway("")

    def process_request(conn: ServerConnection, request: Request) -> Response | None:
        auth = request.headers.get("Authorization")
        gw.authorizations.append(auth)
        if refuse or (token is not None and auth != f"Bearer {token}"):
            return conn.respond(HTTPStatus.UNAUTHORIZED, "bad credentials\n")
        return None

    def handler(conn: ServerConnection) -> None:
        try:
            for _ in conn:  # pings are answered by websockets itself
                pass
        except ConnectionClosed:
            pass

    server = serve(handler, "127.0.0.1", 0, ssl=tls, process_request=process_request)
    port = server.socket.getsockname()[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        thread.join(10)
        assert not thread.is_alive()

    gw.url = f"{'wss' if tls else 'ws'}://127.0.0.1:{port}/audio"
    gw.stop = stop
    return gw


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    """Accepts only ``Authorization: Bearer TOKEN``."""
    gw = _start_gateway(token=TOKEN)
    yield gw
    gw.stop()


@pytest.fixture(scope="module")
def refusing_gateway() -> Iterator[Gateway]:
    """Answers every handshake with 401."""
    gw = _start_gateway(refuse=True)
    yield gw
    gw.stop()


@dataclass
class TlsGateway:
    gateway: Gateway
    ca_file: Path


@pytest.fixture(scope="module")
def tls_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsGateway]:
    """wss:// with a certificate for 127.0.0.1 from a private (trustme) CA."""
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    ca_file = tmp_path_factory.mktemp("tls") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    gw = _start_gateway(tls=server_ctx)
    yield TlsGateway(gw, ca_file)
    gw.stop()


@dataclass
class TokenServer:
    url: str
    forms: list[dict[str, list[str]]]


@pytest.fixture(scope="module")
def iam_server() -> Iterator[TokenServer]:
    """An IAM token endpoint: POST apikey=API_KEY -> {"access_token": TOKEN}; else 400."""
    forms: list[dict[str, list[str]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            length = int(self.headers.get("Content-Length", 0))
            form = parse_qs(self.rfile.read(length).decode())
            forms.append(form)
            if form.get("apikey") == [API_KEY]:
                body = json.dumps({"access_token": TOKEN, "expires_in": 3600}).encode()
                self.send_response(200)
            else:
                body = b'{"errorMessage": "Provided API key could not be found"}'
                self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield TokenServer(f"http://127.0.0.1:{httpd.server_address[1]}/identity/token", forms)
    httpd.shutdown()
    httpd.server_close()
    thread.join(10)


# --- running the doctor -----------------------------------------------------------


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str
    checks: dict[str, tuple[str, str]]  # name -> (status, detail)
    fixes: dict[str, str]  # name -> fix

    def status(self, name: str) -> str:
        return self.checks[name][0]

    def detail(self, name: str) -> str:
        return self.checks[name][1]


def _write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def _config(
    tmp_path: Path,
    url: str,
    *,
    mic: str = "speech_plug",
    speaker: str = "default",
    extra: str = "",
    token: bool = False,
) -> Path:
    auth = ""
    if token:
        (tmp_path / "token").write_text(TOKEN + "\n")
        auth = "  auth: {type: bearer, token_file: token}\n"
    return _write_config(
        tmp_path,
        f"gateway:\n  url: {url}\n{auth}"
        f"audio:\n  input: {{device: {mic}}}\n  output: {{device: {speaker}}}\n{extra}",
    )


def _doctor(home: AlsaHome, config: Path, *args: str, mock_gpio: bool = False) -> Result:
    env = dict(os.environ, HOME=str(home.home), PYTHONPATH=str(ROOT))
    env.pop("GPIOZERO_PIN_FACTORY", None)
    if mock_gpio:
        env["GPIOZERO_PIN_FACTORY"] = "mock"
    proc = subprocess.run(
        [sys.executable, "-m", "agent.cli", "doctor", "--config", str(config), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    checks: dict[str, tuple[str, str]] = {}
    fixes: dict[str, str] = {}
    last = ""
    for line in proc.stdout.splitlines():
        m = LINE.match(line)
        if m:
            last = m.group(2).strip()
            assert last not in checks, f"check {last} printed twice:\n{proc.stdout}"
            checks[last] = (m.group(1), m.group(3))
        elif line.strip().startswith("fix: "):
            fixes[last] = line.strip().removeprefix("fix: ")
    return Result(proc.returncode, proc.stdout, proc.stderr, checks, fixes)


def _assert_no_secret(result: Result) -> None:
    for secret in (TOKEN, API_KEY):
        assert secret not in result.stdout and secret not in result.stderr


# These depend on the machine the tests run on (is the service installed, is
# there a /dev/snd, how fast is it), not on the configuration; every other check must be OK.
MACHINE_CHECKS = ("user voice-agent", "sound devices", "speed")


def _assert_exit_code(r: Result) -> None:
    failed = [name for name, (status, _) in r.checks.items() if status == "FAIL"]
    assert r.code == (1 if failed else 0), r.stdout
    f, w = len(failed), sum(1 for s, _ in r.checks.values() if s == "WARN")
    summary = r.stdout.rstrip().splitlines()[-1]
    assert summary.endswith(f"{f} failure{'s' * (f != 1)}, {w} warning{'s' * (w != 1)}")


def _assert_ok_except(r: Result, *names: str) -> None:
    """Every check but ``names`` and the machine-dependent ones is OK."""
    for name, (status, detail) in r.checks.items():
        if name not in names and name not in MACHINE_CHECKS:
            assert status == "OK", f"{name}: {status} {detail}\n{r.stdout}"


# --- the tests --------------------------------------------------------------------


def test_everything_ok(alsa_home: AlsaHome, gateway: Gateway, tmp_path: Path) -> None:
    extra = (
        "wake:\n  models: [hey_jarvis, alexa]\n  threshold: {hey_jarvis: 0.6, alexa: 0.45}\n"
        "gpio: {button: 17, led: 27}\n"
    )
    config = _config(tmp_path, gateway.url, extra=extra, token=True)
    before = len(gateway.authorizations)
    r = _doctor(alsa_home, config, mock_gpio=True)
    _assert_no_secret(r)
    # PortAudio's ALSA/JACK probing noise is filtered out, and the daemon's log is off.
    assert r.stderr == ""
    assert r.status("configuration") == "OK"

    # The level is that of the first 3 s of the file: the device is bit-exact.
    first = alsa_home.speech[:48000].astype(np.float64)
    peak = 20 * math.log10(np.abs(first).max() / 32768)
    rms = 20 * math.log10(math.sqrt(np.mean(first**2)) / 32768)
    assert r.status("microphone") == "OK", r.stdout
    assert r.detail("microphone") == (
        f"device 'speech_plug' at 16000 Hz: 3.0 s, "
        f"peak {doctor_report.fmt_db(peak)} dBFS, rms {doctor_report.fmt_db(rms)} dBFS"
    )
    # Off a terminal the meter prints one line per second of audio.
    meter = [x for x in r.stdout.splitlines() if re.match(r"^\s+microphone\s+\[[#-]{30}\]", x)]
    assert [x.split()[-2] for x in meter] == ["1.0", "2.0", "3.0"]

    # The recording's first 3 s: mostly its quiet room (-64 dBFS), so the gate closes.
    assert r.status("silence gate") == "OK", r.stdout
    assert re.match(r"room's noise floor -6\d\.\d dBFS; adaptive gate", r.detail("silence gate"))
    assert "it will close in this room" in r.detail("silence gate")
    assert r.status("speaker") == "OK"
    assert "played the done sound (0.15 s) on device 'default'" in r.detail("speaker")
    assert r.status("wake hey_jarvis") == "OK"
    assert r.detail("wake hey_jarvis").startswith("loaded hey_jarvis_v0.1.onnx")
    assert r.detail("wake hey_jarvis").endswith("threshold 0.6")
    assert r.detail("wake alexa").endswith("threshold 0.45")
    for step in ("dns", "tcp", "tls", "auth", "websocket", "ping"):
        assert r.status(f"gateway {step}") == "OK", r.stdout
    assert r.detail("gateway tls") == "not used (ws:// to this machine)"
    assert r.detail("gateway auth") == f"bearer token from file {tmp_path / 'token'} (readable)"
    assert re.fullmatch(r"pong in \d+\.\d ms", r.detail("gateway ping"))
    # The handshake carried the token from the file.
    assert gateway.authorizations[before:] == [f"Bearer {TOKEN}"]
    assert r.status("gpio") == "OK"
    assert r.detail("gpio") == "button on GPIO17, LED on GPIO27 (pin factory MockFactory)"
    assert set(MACHINE_CHECKS) <= set(r.checks)
    _assert_ok_except(r)
    _assert_exit_code(r)


def test_silent_microphone_warns(alsa_home: AlsaHome, gateway: Gateway, tmp_path: Path) -> None:
    config = _config(tmp_path, gateway.url, mic="zeros_plug", token=True)
    r = _doctor(alsa_home, config, "--seconds", "1")
    assert r.status("microphone") == "WARN"
    assert r.detail("microphone").startswith("microphone is silent (device 'zeros_plug'")
    assert "1.0 s, peak -inf dBFS" in r.detail("microphone")
    assert "alsamixer" in r.fixes["microphone"] and "capture" in r.fixes["microphone"]
    # No pins configured: GPIO is not a failure even though this machine has none,
    # and gpiozero's reasons are left out (they are only noise here).
    assert r.status("gpio") == "OK" and r.detail("gpio").startswith("no button or LED configured")
    if not ON_A_PI:
        assert r.detail("gpio") == (
            "no button or LED configured; no GPIO on this machine (--verbose says why)"
        )
        assert "pin factory" not in r.stdout
    _assert_ok_except(r, "microphone")
    _assert_exit_code(r)  # warnings alone do not fail the doctor


def test_clipping_microphone_warns(alsa_home: AlsaHome, gateway: Gateway, tmp_path: Path) -> None:
    config = _config(tmp_path, gateway.url, mic="square_plug", token=True)
    r = _doctor(alsa_home, config, "--seconds", "1")
    assert r.status("microphone") == "WARN"
    assert r.detail("microphone").startswith("microphone clips: 100.0 % of samples at full scale")
    assert "1.0 s, peak 0.0 dBFS, rms 0.0 dBFS" in r.detail("microphone")
    assert "alsamixer" in r.fixes["microphone"]
    _assert_ok_except(r, "microphone")
    _assert_exit_code(r)


def test_refused_handshake_is_an_auth_problem(
    alsa_home: AlsaHome, refusing_gateway: Gateway, tmp_path: Path
) -> None:
    # By name, so the DNS step has something to resolve (localhost: no network needed).
    url = refusing_gateway.url.replace("127.0.0.1", "localhost")
    config = _config(tmp_path, url, token=True)
    r = _doctor(alsa_home, config, "--seconds", "0.5")
    _assert_no_secret(r)
    assert r.status("gateway dns") == "OK"
    assert r.detail("gateway dns").startswith("localhost -> ")
    assert "127.0.0.1" in r.detail("gateway dns")
    assert r.status("gateway auth") == "OK"
    assert r.status("gateway websocket") == "FAIL"
    assert r.detail("gateway websocket") == (
        "the gateway refused the credentials (HTTP 401 Unauthorized)"
    )
    assert "gateway.auth" in r.fixes["gateway websocket"]
    assert "gateway ping" not in r.checks  # the chain stops at the first failure
    assert r.code == 1
    assert refusing_gateway.authorizations[-1] == f"Bearer {TOKEN}"


def test_iam_token_fetch(
    alsa_home: AlsaHome, gateway: Gateway, iam_server: TokenServer, tmp_path: Path
) -> None:
    key_file = tmp_path / "api_key"
    key_file.write_text(API_KEY + "\n")

    def config(token_url: str) -> Path:
        auth = f"  auth: {{type: iam, api_key_file: {key_file}, token_url: {token_url}}}\n"
        return _write_config(
            tmp_path,
            f"gateway:\n  url: {gateway.url}\n{auth}audio:\n  input: {{device: speech_plug}}\n",
        )

    before = len(gateway.authorizations)
    r = _doctor(alsa_home, config(iam_server.url), "--seconds", "0.5")
    _assert_no_secret(r)
    assert r.status("gateway auth") == "OK"
    assert r.detail("gateway auth") == f"IAM token fetched from {iam_server.url}"
    assert iam_server.forms[-1]["apikey"] == [API_KEY]
    # The fetched token opened the gateway, which accepts only that token.
    assert r.status("gateway websocket") == "OK" and r.status("gateway ping") == "OK"
    assert gateway.authorizations[before:] == [f"Bearer {TOKEN}"]

    key_file.write_text("not-the-right-key-000000\n")
    r = _doctor(alsa_home, config(iam_server.url), "--seconds", "0.5")
    assert r.status("gateway auth") == "FAIL"
    assert r.detail("gateway auth") == (
        f"no credentials: IAM token request to {iam_server.url} failed: HTTP 400 Bad Request"
    )
    assert "gateway.auth" in r.fixes["gateway auth"]
    assert "gateway websocket" not in r.checks
    assert r.code == 1


def test_tls_needs_the_ca(alsa_home: AlsaHome, tls_gateway: TlsGateway, tmp_path: Path) -> None:
    url = tls_gateway.gateway.url
    r = _doctor(alsa_home, _config(tmp_path, url), "--seconds", "0.5")
    assert r.status("gateway tcp") == "OK"
    assert r.status("gateway tls") == "FAIL"
    assert r.detail("gateway tls").startswith("certificate error: ")
    assert "verified against the system's CAs" in r.detail("gateway tls")
    assert "gateway.tls.ca_file" in r.fixes["gateway tls"]
    assert "gateway websocket" not in r.checks
    assert r.code == 1

    extra = f"  tls: {{ca_file: {tls_gateway.ca_file}}}\n"
    config = _write_config(
        tmp_path,
        f"gateway:\n  url: {url}\n{extra}audio:\n  input: {{device: speech_plug}}\n",
    )
    r = _doctor(alsa_home, config, "--seconds", "0.5")
    assert r.status("gateway tls") == "OK", r.stdout
    assert r.detail("gateway tls").endswith("verified for 127.0.0.1")
    assert r.status("gateway websocket") == "OK"
    assert r.status("gateway ping") == "OK"


@pytest.mark.skipif(ON_A_PI, reason="this machine has real GPIO")
def test_verbose_says_why_there_is_no_gpio(
    alsa_home: AlsaHome, gateway: Gateway, tmp_path: Path
) -> None:
    config = _config(tmp_path, gateway.url, token=True)
    r = _doctor(alsa_home, config, "--seconds", "0.5", "--verbose")
    assert r.status("gpio") == "OK"
    assert r.detail("gpio").startswith(
        "no button or LED configured; no GPIO here (Unable to load any default pin factory!"
    )


@pytest.mark.skipif(ON_A_PI, reason="this machine has real GPIO")
def test_configured_pins_without_gpio_fail(
    alsa_home: AlsaHome, gateway: Gateway, tmp_path: Path
) -> None:
    config = _config(tmp_path, gateway.url, token=True, extra="gpio: {button: 17}\n")
    r = _doctor(alsa_home, config, "--seconds", "0.5")
    assert r.status("gpio") == "FAIL"
    assert r.detail("gpio").startswith(
        "button on GPIO17 configured, but GPIO is not available: "
        "Unable to load any default pin factory!"
    )
    assert "gpio.button" in r.fixes["gpio"]
    assert r.code == 1


def test_device_model_and_connection_failures(
    alsa_home: AlsaHome, tmp_path: Path, unused_port: int
) -> None:
    bad_model = tmp_path / "broken.onnx"
    bad_model.write_bytes(b"this is not an ONNX model")
    config = _config(
        tmp_path,
        f"ws://127.0.0.1:{unused_port}",
        mic="no_such_mic",
        speaker="no_such_speaker",
        extra=f"wake:\n  models: [alexa, {bad_model}]\n",
    )
    r = _doctor(alsa_home, config, "--seconds", "0.5")
    assert r.status("microphone") == "FAIL"
    assert "no input device matches 'no_such_mic'" in r.detail("microphone")
    assert "voice-agent devices" in r.fixes["microphone"]
    assert r.status("speaker") == "FAIL"
    assert "no output device matches 'no_such_speaker'" in r.detail("speaker")
    assert r.status("wake alexa") == "OK"
    assert r.status("wake broken.onnx") == "FAIL"
    assert "cannot load ONNX model" in r.detail("wake broken.onnx")
    assert "wake detector" not in r.checks
    assert r.status("gateway dns") == "OK"
    assert r.status("gateway tcp") == "FAIL"
    assert r.detail("gateway tcp") == (
        f"cannot connect to 127.0.0.1 port {unused_port}: Connection refused"
    )
    assert r.code == 1


def test_invalid_config_stops_at_once(alsa_home: AlsaHome, tmp_path: Path) -> None:
    config = _write_config(tmp_path, "gateway:\n  url: ws://127.0.0.1:9\nwake: {thresold: 1}\n")
    r = _doctor(alsa_home, config)
    assert list(r.checks) == ["configuration"]
    assert r.status("configuration") == "FAIL"
    assert r.detail("configuration").startswith(f"{config}: wake.thresold")
    assert "check-config" in r.fixes["configuration"]
    assert r.code == 1


# --- the checks alone -------------------------------------------------------------


@pytest.fixture
def unused_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_service_user_groups_are_read_from_the_system() -> None:
    import grp
    import pwd

    root = pwd.getpwuid(0).pw_name
    groups = {g.gr_name for g in grp.getgrall() if root in g.gr_mem}
    groups.add(grp.getgrgid(pwd.getpwuid(0).pw_gid).gr_name)
    check = system.check_service_user(needs_gpio=False, user=root)
    if "audio" not in groups:
        assert check.status == "FAIL"
        assert "not in group audio" in check.detail
        assert check.fix is not None and f"usermod -aG audio {root}" in check.fix
    missing = system.check_service_user(needs_gpio=False, user="no-such-user-xyz")
    assert missing.status == "WARN"
    assert missing.detail == "user no-such-user-xyz does not exist: not installed as a service"


def test_sound_device_access(tmp_path: Path) -> None:
    absent = audio.check_sound_devices(str(tmp_path / "snd"))
    assert absent.status == "WARN" and "does not exist" in absent.detail
    snd = tmp_path / "snd"
    snd.mkdir()
    for name in ("controlC0", "pcmC0D0c", "pcmC0D0p", "timer"):
        (snd / name).write_bytes(b"")
    ok = audio.check_sound_devices(str(snd))
    assert ok.status == "OK" and "can open the 3 devices" in ok.detail


def test_report_meter_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    report = Report(out)
    report.meter(0.1, -6.0)
    report.show(doctor_report.Check("microphone", True, "fine"))
    text = out.getvalue()
    # One line redrawn in place, erased before the result is printed.
    assert text.startswith("\r") and "[" + "#" * 27 + "---]" in text
    assert text.endswith("\r\x1b[KOK    microphone         fine\n")


def test_gate_check_reports_the_room_floor() -> None:
    from agent.config.settings import WakeSettings
    from agent.doctor.system import check_gate

    rng = np.random.default_rng(2)
    room = np.round(rng.standard_normal(16000 * 3) * 32768 * 10 ** (-50 / 20)).astype(np.int16)
    adaptive = check_gate(WakeSettings(), room)
    assert adaptive.ok is True
    assert re.search(r"room's noise floor -5[01]\.\d dBFS", adaptive.detail), adaptive.detail
    assert "it will close in this room" in adaptive.detail
    fixed = check_gate(WakeSettings(noise_gate="fixed"), room)  # -55 dBFS: below this room
    assert fixed.ok is None and "will not close" in fixed.detail
    assert fixed.fix is not None and "wake.noise_gate: adaptive" in fixed.fix
    off = check_gate(WakeSettings(noise_gate_dbfs=None), room)
    assert off.ok is True and off.detail.startswith("off")


def test_wake_check_loads_microwakeword_models() -> None:
    from agent.config.settings import WakeSettings
    from agent.doctor.system import check_wake_models

    checks = check_wake_models(
        WakeSettings(models=("okay_nabu", "alexa", "hey_jarvis"), engine={"alexa": "micro"})
    )
    details = {c.name: (c.ok, c.detail) for c in checks}
    assert details["wake okay_nabu"] == (True, "microWakeWord okay_nabu.json, threshold 0.85")
    assert details["wake alexa"] == (True, "microWakeWord alexa.json, threshold 0.9")
    assert details["wake hey_jarvis"][1].startswith("loaded hey_jarvis_v0.1.onnx")
    assert all(c.ok for c in checks) and len(checks) == 3  # the whole detector loaded too


@pytest.mark.parametrize("host", ["127.0.0.2", "[::1]", "[0:0:0:0:0:0:0:1]", "[::ffff:127.0.0.1]"])
def test_plain_ws_to_any_loopback_form_is_fine(host: str) -> None:
    # The doctor's TLS step says "this machine" for every loopback spelling the
    # configuration accepts (one is_loopback for both), not only 127.x and ::1.
    from agent.config.link import GatewaySettings
    from agent.doctor.gateway import _Road, _tls

    road = _Road.of(GatewaySettings(url=f"ws://{host}:9/"), 1.0)
    assert _tls(road) is True
    assert [(c.name, c.ok, c.detail) for c in road.checks] == [
        ("gateway tls", True, "not used (ws:// to this machine)")
    ]
