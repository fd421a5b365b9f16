"""Configuration: defaults, the example file, every class of error, redaction, check-config.

Everything is real: YAML files in tmp dirs, ``voice-agent check-config`` as a
subprocess, real files for token/model/sound paths. Nothing is mocked.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.common.settings_values import ConfigError, redact_url
from agent.config.link import GatewaySettings
from agent.config.load import known_keys, load_config, load_or_exit, parse_config, redact
from agent.config.settings import LocationSettings, Settings, WakeSettings

REPO = Path(__file__).resolve().parents[2]
CONFIG_MD = Path(__file__).resolve().parents[2] / "docs" / "config.md"  # the project's own contract
EXAMPLE = REPO / "config" / "agent.yaml"
LOCAL_URL = "ws://127.0.0.1:8765"


# --- helpers ------------------------------------------------------------------


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Deep merge of two nested dicts (extra wins)."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def write_config(tmp_path: Path, data: dict[str, Any] | str, name: str = "agent.yaml") -> Path:
    """A config file: ``data`` merged over a minimal valid config, or raw YAML text."""
    path = tmp_path / name
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_text(yaml.safe_dump(merge({"gateway": {"url": LOCAL_URL}}, data)), "utf-8")
    return path


def error_of(tmp_path: Path, data: dict[str, Any] | str) -> str:
    """The one-line error of loading ``data``, without the leading ``FILE: ``."""
    path = write_config(tmp_path, data)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    err = info.value
    assert err.exit_code == 78
    line = str(err)
    assert "\n" not in line
    prefix = f"{path}: "
    assert line.startswith(prefix), line
    return line[len(prefix) :]


def check_config(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """Run ``voice-agent check-config`` as a real subprocess."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", "check-config", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def defaults(url: str = LOCAL_URL) -> Settings:
    return Settings(gateway=GatewaySettings(url=url))


# --- defaults and the example -------------------------------------------------


def config_md_yaml() -> str:
    text = CONFIG_MD.read_text(encoding="utf-8")
    match = re.search(r"```yaml\n(.*?)```", text, re.S)
    assert match, "config.md has no yaml block"
    return match.group(1)


def test_defaults_equal_config_md(tmp_path: Path) -> None:
    # config.md writes out every key with its default value.
    path = write_config(tmp_path, config_md_yaml())
    from_doc = load_config(path)
    url = "wss://gateway.example.com/audio"
    assert from_doc == defaults(url)
    assert parse_config({"gateway": {"url": url}}, "t") == defaults(url)
    # The extra keys of the brief and their defaults.
    s = defaults()
    assert s.wake.speaking_threshold == 0.9
    assert s.wake.noise_gate_dbfs == -55.0
    assert s.wake.noise_gate == "adaptive" and s.wake.noise_gate_margin_db == 6.0
    assert s.wake.engine == "openwakeword" and s.wake.engine_for("hey_jarvis") == "openwakeword"
    assert s.listen.vad_threshold == 0.5
    assert s.gpio.long_press_s == 2.0
    assert s.audio.output.volume == 1.0


def test_example_loads_and_equals_defaults() -> None:
    assert load_config(EXAMPLE) == defaults(LOCAL_URL)


def dotted_keys(data: Any, prefix: str = "") -> set[str]:
    sections = {k.rsplit(".", 1)[0] for k in known_keys() if "." in k}
    out = set()
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        out.add(dotted)
        if isinstance(value, dict) and dotted in sections:
            out |= dotted_keys(value, dotted + ".")
    return out


def test_example_documents_every_key() -> None:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    # location is null in the example; its two keys are described in comments.
    expected = set(known_keys()) - {"location.latitude", "location.longitude"}
    assert dotted_keys(data) == expected
    # Every key that takes a value has a comment right above it.
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^\s*\w+: \S", line):
            above = lines[i - 1].strip()
            assert above.startswith("#"), f"no comment above line {i + 1}: {line}"
    assert "latitude" in EXAMPLE.read_text() and "longitude" in EXAMPLE.read_text()


def test_check_config_prints_effective_config() -> None:
    result = check_config(str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    printed = yaml.safe_load(result.stdout)
    assert printed == redact(defaults())
    assert printed["wake"]["speaking_threshold"] == 0.9  # defaults filled in


def test_check_config_accepts_config_option_and_output_round_trips(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "my_word.onnx").write_bytes(b"\0")
    path = write_config(
        tmp_path,
        {
            "wake": {"models": ["alexa", "models/my_word.onnx"], "threshold": {"my_word": 0.3}},
            "location": {"latitude": 45.408032, "longitude": -123.0083655},
            "gpio": {"button": 17, "led": 27},
            "gateway": {"query": {"userID": 42, "language": "no"}},
        },
    )
    result = check_config("--config", str(path))
    assert result.returncode == 0, result.stderr
    again = write_config(tmp_path, result.stdout, name="effective.yaml")
    assert load_config(again) == load_config(path)
    s = load_config(path)
    assert s.location == LocationSettings(latitude=45.408032, longitude=-123.0083655)
    assert s.gateway.query == {"userID": "42", "language": "no"}


def test_relative_paths_are_relative_to_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf_dir = tmp_path / "etc"
    (conf_dir / "models").mkdir(parents=True)
    (conf_dir / "models" / "w.tflite").write_bytes(b"\0")
    (conf_dir / "ding.wav").write_bytes(b"RIFF")
    path = write_config(
        conf_dir, {"wake": {"models": ["models/w.tflite"]}, "sounds": {"wake": "ding.wav"}}
    )
    monkeypatch.chdir(tmp_path)  # elsewhere: must not matter
    s = load_config("etc/agent.yaml")
    assert s.wake.models == (str(conf_dir / "models" / "w.tflite"),)
    assert s.sounds.wake == str(conf_dir / "ding.wav")
    assert s.sounds.done == "builtin"
    assert load_config(path) == s


def test_sounds_null_and_builtin(tmp_path: Path) -> None:
    s = load_config(write_config(tmp_path, {"sounds": {"wake": None, "done": "builtin"}}))
    assert (s.sounds.wake, s.sounds.done, s.sounds.error) == (None, "builtin", "builtin")


def test_alarm_sound_and_ring_cap(tmp_path: Path) -> None:
    s = load_config(write_config(tmp_path, {}))
    assert (s.sounds.alarm, s.timers.max_ring_s) == ("builtin", 900.0)
    data = {"sounds": {"alarm": None}, "timers": {"max_ring_s": 60}}
    s = load_config(write_config(tmp_path, data))
    assert (s.sounds.alarm, s.timers.max_ring_s) == (None, 60.0)
    assert "timers.max_ring_s" in error_of(tmp_path, {"timers": {"max_ring_s": 0}})
    assert "sounds.alarm" in error_of(tmp_path, {"sounds": {"alarm": "/nonexistent.wav"}})


def test_empty_sections_take_defaults(tmp_path: Path) -> None:
    text = f"gateway:\n  url: {LOCAL_URL}\naudio:\nwake:\ngpio:\n"
    assert load_config(write_config(tmp_path, text)) == defaults()


# --- threshold_for --------------------------------------------------------------


def test_threshold_for_number() -> None:
    wake = WakeSettings(models=("hey_jarvis", "alexa"), threshold=0.7)
    assert wake.threshold_for("hey_jarvis") == 0.7
    assert wake.threshold_for("alexa") == 0.7


def test_threshold_for_map(tmp_path: Path) -> None:
    (tmp_path / "my_word.onnx").write_bytes(b"\0")
    s = load_config(
        write_config(
            tmp_path,
            {
                "wake": {
                    "models": ["hey_jarvis", "alexa", "my_word.onnx"],
                    "threshold": {"hey_jarvis": 0.7, "my_word.onnx": 0.3},
                }
            },
        )
    )
    wake = s.wake
    assert wake.threshold == {"hey_jarvis": 0.7, "my_word": 0.3}
    assert wake.threshold_for("hey_jarvis") == 0.7
    assert wake.threshold_for("hey_jarvis_v0.1") == 0.7  # openWakeWord's file names
    assert wake.threshold_for("/x/hey_jarvis_v0.1.onnx") == 0.7
    assert wake.threshold_for("alexa") == 0.5  # not in the map: the default
    assert wake.threshold_for(str(tmp_path / "my_word.onnx")) == 0.3
    assert wake.threshold_for("my_word") == 0.3
    assert wake.names == ("hey_jarvis", "alexa", "my_word")


def test_single_model_string_is_a_list(tmp_path: Path) -> None:
    s = load_config(write_config(tmp_path, {"wake": {"models": "alexa"}}))
    assert s.wake.models == ("alexa",)


# --- errors: types, enums, ranges -----------------------------------------------

TYPE_RANGE_CASES = [
    (
        {"wake": {"threshold": "high"}},
        "wake.threshold: expected a number between 0 and 1, got 'high'",
    ),
    (
        {"wake": {"threshold": 0}},
        "wake.threshold: expected a number greater than 0 and at most 1, got 0",
    ),
    (
        {"wake": {"threshold": 1.01}},
        "wake.threshold: expected a number greater than 0 and at most 1, got 1.01",
    ),
    ({"wake": {"threshold": True}}, "wake.threshold: expected a number between 0 and 1, got true"),
    (
        {"wake": {"threshold": {"hey_jarvis": 2}}},
        "wake.threshold.hey_jarvis: expected a number greater than 0 and at most 1, got 2",
    ),
    (
        {"wake": {"speaking_threshold": 0}},
        "wake.speaking_threshold: expected a number greater than 0 and at most 1 or null, got 0",
    ),
    (
        {"wake": {"noise_gate_dbfs": 3}},
        "wake.noise_gate_dbfs: expected a level in dBFS between -120 and 0 or null, got 3",
    ),
    (
        {"wake": {"noise_gate": "auto"}},
        "wake.noise_gate: expected one of adaptive, fixed, got 'auto'",
    ),
    (
        {"wake": {"noise_gate_margin_db": 0}},
        "wake.noise_gate_margin_db: expected a number of dB between 0.5 and 30, got 0",
    ),
    (
        {"wake": {"engine": "tflite"}},
        "wake.engine: expected one of openwakeword, micro or a map by model, got 'tflite'",
    ),
    (
        {"wake": {"engine": {"alexa": "micro"}}},
        "wake.engine.alexa: expected one of wake.models (hey_jarvis), got 'alexa'",
    ),
    (
        {"wake": {"models": ["alexa"], "engine": {"alexa": "onnx"}}},
        "wake.engine.alexa: expected one of openwakeword, micro, got 'onnx'",
    ),
    (
        {"log": {"level": "verbose"}},
        "log.level: expected one of debug, info, warning, error, got 'verbose'",
    ),
    (
        {"log": {"level": "INFO"}},
        "log.level: expected one of debug, info, warning, error, got 'INFO'; did you mean info?",
    ),
    ({"log": {"format": "xml"}}, "log.format: expected one of text, json, got 'xml'"),
    (
        {"listen": {"end_of_speech": "silence"}},
        "listen.end_of_speech: expected one of vad, gateway, both, got 'silence'",
    ),
    (
        {"gpio": {"button_mode": "toggle"}},
        "gpio.button_mode: expected one of press, hold, got 'toggle'",
    ),
    (
        {"gateway": {"auth": {"type": "basic"}}},
        "gateway.auth.type: expected one of none, bearer, iam, got 'basic'",
    ),
    (
        {"audio": {"output": {"volume": 1.5}}},
        "audio.output.volume: expected a number between 0 and 1, got 1.5",
    ),
    (
        {"audio": {"output": {"volume": -0.1}}},
        "audio.output.volume: expected a number between 0 and 1, got -0.1",
    ),
    (
        {"location": {"latitude": 91, "longitude": 0}},
        "location.latitude: expected a number between -90 and 90, got 91",
    ),
    (
        {"location": {"latitude": 0, "longitude": -180.5}},
        "location.longitude: expected a number between -180 and 180, got -180.5",
    ),
    (
        {"location": {"latitude": 45}},
        "location.longitude: expected a number between -180 and 180, got nothing",
    ),
    (
        {"location": "Portland"},
        "location: expected null or a mapping of latitude and longitude, got 'Portland'",
    ),
    ({"gpio": {"button": 28}}, "gpio.button: expected a BCM pin between 0 and 27 or null, got 28"),
    ({"gpio": {"led": -1}}, "gpio.led: expected a BCM pin between 0 and 27 or null, got -1"),
    (
        {"gpio": {"button": "GPIO17"}},
        "gpio.button: expected a BCM pin between 0 and 27 or null, got 'GPIO17'",
    ),
    (
        {"gpio": {"button": 17, "led": 17}},
        "gpio.led: expected a different pin than gpio.button (17), got 17",
    ),
    ({"debug": {"keep": 0}}, "debug.keep: expected a number of turns of at least 1, got 0"),
    ({"debug": {"keep": 2.5}}, "debug.keep: expected a number of turns of at least 1, got 2.5"),
    (
        {"gateway": {"ping_interval_s": 0}},
        "gateway.ping_interval_s: expected a duration in seconds greater than 0, got 0",
    ),
    (
        {"gateway": {"reconnect": {"max_s": -1}}},
        "gateway.reconnect.max_s: expected a duration in seconds greater than 0, got -1",
    ),
    (
        {"listen": {"max_utterance_s": "ten"}},
        "listen.max_utterance_s: expected a duration in seconds greater than 0, got 'ten'",
    ),
    (
        {"wake": {"refractory_s": 0}},
        "wake.refractory_s: expected a duration in seconds greater than 0, got 0",
    ),
    (
        {"gpio": {"long_press_s": float("inf")}},
        "gpio.long_press_s: expected a duration in seconds greater than 0, got inf",
    ),
    (
        {"gateway": {"reconnect": {"initial_s": 40}}},
        "gateway.reconnect.initial_s: expected at most gateway.reconnect.max_s (30), got 40",
    ),
    (
        {"audio": {"input": {"channels": 2, "channel": 2}}},
        "audio.input.channel: expected a channel below audio.input.channels (2), got 2",
    ),
    (
        {"audio": {"input": {"device": True}}},
        "audio.input.device: expected a device name or index (0 or more), got true",
    ),
    (
        {"audio": {"input": {"device": -1}}},
        "audio.input.device: expected a device name or index (0 or more), got -1",
    ),
    (
        {"audio": {"chunk_ms": 5}},
        "audio.chunk_ms: expected milliseconds between 10 and 1000, got 5",
    ),
    (
        {"audio": {"input": {"sample_rate": "16k"}}},
        "audio.input.sample_rate: expected a sample rate in Hz between 8000 and 192000, got '16k'",
    ),
    ({"output": {"print": "yes"}}, "output.print: expected true or false, got 'yes'"),
    ({"output": {"speak_text": 1}}, "output.speak_text: expected true or false, got 1"),
    (
        {"gateway": {"tls": {"verify": "false"}}},
        "gateway.tls.verify: expected true or false, got 'false'",
    ),
    ({"wake": []}, "wake: expected a mapping, got a list"),
    (
        {"gateway": {"stt_options": ["a"]}},
        "gateway.stt_options: expected a mapping or null, got a list",
    ),
    (
        {"gateway": {"query": {"skillset": ["a", "b"]}}},
        "gateway.query.skillset: expected text, got a list",
    ),
    (
        {"gateway": {"headers": {"bad name": "x"}}},
        "gateway.headers.bad name: expected a header name (letters, digits, '-')",
    ),
    (
        {"gateway": {"headers": {"tenantid": "a\nb"}}},
        "gateway.headers.tenantid: expected text on one line (no line breaks)",
    ),
]


@pytest.mark.parametrize(("data", "expected"), TYPE_RANGE_CASES)
def test_type_enum_and_range_errors(tmp_path: Path, data: dict[str, Any], expected: str) -> None:
    assert error_of(tmp_path, data) == expected


def test_check_config_exits_78_with_one_line(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"wake": {"threshold": "high"}})
    result = check_config(str(path))
    assert result.returncode == 78
    assert result.stdout == ""
    assert (
        result.stderr == f"{path}: wake.threshold: expected a number between 0 and 1, got 'high'\n"
    )


def test_unquoted_yes_is_not_a_bool(tmp_path: Path) -> None:
    # YAML 1.1 would read `yes` as true; here it stays text and is refused.
    text = f"gateway:\n  url: {LOCAL_URL}\n  allow_insecure: yes\n"
    assert error_of(tmp_path, text) == "gateway.allow_insecure: expected true or false, got 'yes'"
    # ...and `no` as a query value stays the text "no" (Norwegian).
    text = f"gateway:\n  url: {LOCAL_URL}\n  query:\n    language: no\n"
    assert load_config(write_config(tmp_path, text)).gateway.query == {"language": "no"}


def test_options_must_be_json_data(tmp_path: Path) -> None:
    text = f"gateway:\n  url: {LOCAL_URL}\n  stt_options:\n    x: !!binary aGVsbG8=\n"
    assert error_of(tmp_path, text) == (
        "gateway.stt_options.x: expected text, a number, true/false, null, a list or a mapping, "
        "got a bytes"
    )
    s = parse_config(
        {"gateway": {"url": LOCAL_URL, "audio_start_options": {"stt": {"model": "en", "n": [1]}}}},
        "t",
    )
    assert s.gateway.audio_start_options == {"stt": {"model": "en", "n": [1]}}


# --- errors: unknown keys ---------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"wake": {"treshold": 0.5}}, "wake.treshold: unknown key; did you mean wake.threshold?"),
        ({"gatway": {}}, "gatway: unknown key; did you mean gateway?"),
        ({"threshold": 0.5}, "threshold: unknown key; did you mean wake.threshold?"),
        (
            {"audio": {"input": {"samplerate": 16000}}},
            "audio.input.samplerate: unknown key; did you mean audio.input.sample_rate?",
        ),
        (
            {"gateway": {"auth": {"tokenfile": "x"}}},
            "gateway.auth.tokenfile: unknown key; did you mean gateway.auth.token_file?",
        ),
        (
            {"wake": {"xyz": 1}},
            "wake.xyz: unknown key; known keys here: models, threshold, refractory_s, "
            "preroll_ms, speaking_threshold, noise_gate_dbfs, noise_gate, noise_gate_margin_db, "
            "engine",
        ),
        (
            {"location": {"latitude": 1, "longitude": 2, "altitude": 3}},
            "location.altitude: unknown key; did you mean location.latitude?",
        ),
    ],
)
def test_unknown_keys_name_themselves_and_suggest(
    tmp_path: Path, data: dict[str, Any], expected: str
) -> None:
    assert error_of(tmp_path, data) == expected


def test_check_config_unknown_key_subprocess(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"listen": {"silence_msec": 700}})
    result = check_config(str(path))
    assert result.returncode == 78
    assert result.stderr.strip() == (
        f"{path}: listen.silence_msec: unknown key; did you mean listen.silence_ms?"
    )
    assert "Traceback" not in result.stderr


# --- errors: the file itself ------------------------------------------------------


def test_yaml_syntax_error_gives_line_and_column(tmp_path: Path) -> None:
    text = f"gateway:\n  url: {LOCAL_URL}\nwake:\n  models: [hey_jarvis\n  threshold: 0.5\n"
    message = error_of(tmp_path, text)
    assert re.match(r"line \d+, column \d+: invalid YAML: ", message), message
    text = f"gateway:\n  url: {LOCAL_URL}\n   bad: indent\n"
    assert error_of(tmp_path, text) == (
        "line 3, column 7: invalid YAML: mapping values are not allowed here"
    )


def test_check_config_yaml_error_subprocess(tmp_path: Path) -> None:
    path = write_config(tmp_path, "gateway:\n\turl: ws://127.0.0.1\n")
    result = check_config(str(path))
    assert result.returncode == 78
    assert re.fullmatch(
        rf"{re.escape(str(path))}: line 2, column 1: invalid YAML: .*\n", result.stderr
    ), result.stderr


def test_duplicate_key_is_refused(tmp_path: Path) -> None:
    text = f"gateway:\n  url: {LOCAL_URL}\nwake:\n  threshold: 0.5\n  threshold: 0.6\n"
    assert error_of(tmp_path, text) == "line 5, column 3: invalid YAML: duplicate key 'threshold'"


def test_missing_file_directory_and_bad_encoding(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(
        ConfigError, match=r"nope.yaml: cannot read the configuration: no such file$"
    ):
        load_config(missing)
    with pytest.raises(ConfigError, match=r": cannot read the configuration: it is a directory$"):
        load_config(tmp_path)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"gateway:\n  url: ws://127.0.0.1 # caf\xe9\n")
    with pytest.raises(ConfigError, match=r"latin.yaml: not UTF-8 text"):
        load_config(latin)
    result = check_config(str(missing))
    assert (result.returncode, result.stderr) == (
        78,
        f"{missing}: cannot read the configuration: no such file\n",
    )


def test_unreadable_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, {})
    path.chmod(0)
    if os.geteuid() != 0:
        with pytest.raises(ConfigError, match="permission denied"):
            load_config(path)
        return
    # Root reads any file, so the check runs as the unprivileged user "nobody",
    # in a process of its own (setpriv, util-linux), on a copy in a folder it can enter.
    shared = Path(tempfile.mkdtemp(prefix="voice-agent-perm-"))
    try:
        shared.chmod(0o755)
        target = shared / "config.yaml"
        target.write_text(path.read_text())
        target.chmod(0)
        code = (
            "import sys; from agent.config.load import load_config; "
            "from agent.common.settings_values import ConfigError\n"
            "try:\n    load_config(sys.argv[1])\nexcept ConfigError as e:\n    print(e)"
        )
        done = subprocess.run(
            [
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                sys.executable,
                "-c",
                code,
                str(target),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=REPO,
            env=dict(os.environ, PYTHONPATH=str(REPO)),
        )
        assert done.stdout.strip() == f"{target}: cannot read the configuration: permission denied"
    finally:
        shutil.rmtree(shared)


@pytest.mark.parametrize(
    ("text", "got"), [("- a\n- b\n", "a list"), ("just text\n", "a str"), ("42\n", "a int")]
)
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str, got: str) -> None:
    assert error_of(tmp_path, text) == (
        f"expected a mapping of sections (gateway, audio, wake, ...) at the top level, got {got}"
    )


def test_empty_file_needs_gateway_url(tmp_path: Path) -> None:
    assert error_of(tmp_path, "") == (
        "gateway.url: expected a ws:// or wss:// URL, got nothing (this key is required)"
    )
    assert error_of(tmp_path, "# only comments\n") == error_of(tmp_path, "")


def test_default_config_path_is_used(tmp_path: Path) -> None:
    if Path("/etc/voice-agent/config.yaml").exists():
        pytest.skip("a real /etc/voice-agent/config.yaml exists here")
    result = check_config()
    assert result.returncode == 78
    assert result.stderr.startswith("/etc/voice-agent/config.yaml: cannot read")


# --- errors: gateway ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("gateway", "expected"),
    [
        (
            {"url": None},
            "gateway.url: expected a ws:// or wss:// URL, got nothing (this key is required)",
        ),
        (
            {"url": "http://127.0.0.1:8765"},
            "gateway.url: expected a ws:// or wss:// URL, got 'http://127.0.0.1:8765'",
        ),
        ({"url": 8765}, "gateway.url: expected a ws:// or wss:// URL, got 8765"),
        (
            {"url": "ws://"},
            "gateway.url: expected a ws:// or wss:// URL with a host name, got 'ws://'",
        ),
        (
            {"url": "ws://gateway.example.com/audio"},
            "gateway.url: expected wss:// for a host that is not loopback (127.0.0.0/8, ::1, "
            "localhost), got 'ws://gateway.example.com/audio'; set gateway.allow_insecure: true "
            "to allow unencrypted ws://",
        ),
        (
            {"url": "ws://user:pw@127.0.0.1/"},
            "gateway.url: expected a ws:// or wss:// URL without user or password in it, "
            "got 'ws://user:***@127.0.0.1/'; use gateway.auth",
        ),
    ],
)
def test_gateway_url_errors(tmp_path: Path, gateway: dict[str, Any], expected: str) -> None:
    assert error_of(tmp_path, {"gateway": gateway}) == expected


def test_check_config_insecure_url_subprocess(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"gateway": {"url": "ws://10.0.0.5:8765"}})
    result = check_config(str(path))
    assert result.returncode == 78
    assert result.stderr.startswith(f"{path}: gateway.url: expected wss:// for a host that is not")


@pytest.mark.parametrize(
    "url",
    [
        "ws://127.0.0.1:8765",
        "ws://127.8.9.10/audio",
        "ws://localhost:8765",
        "ws://[::1]:8765/x",
        "wss://gateway.example.com/audio",
        "WSS://Gateway.Example.com",
    ],
)
def test_secure_or_loopback_urls_are_accepted(url: str) -> None:
    assert parse_config({"gateway": {"url": url}}, "t").gateway.url == url


def test_allow_insecure_permits_ws_to_remote_hosts() -> None:
    s = parse_config({"gateway": {"url": "ws://10.0.0.5:8765", "allow_insecure": True}}, "t")
    assert s.gateway.allow_insecure is True


def test_auth_errors(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("abc\n")
    empty = tmp_path / "empty"
    empty.write_text("")
    cases: list[tuple[dict[str, Any], str]] = [
        (
            {"type": "bearer"},
            "gateway.auth: expected token or token_file with type: bearer, got neither",
        ),
        (
            {"type": "bearer", "token": "abc", "token_file": str(token_file)},
            "gateway.auth.token_file: expected either gateway.auth.token or "
            "gateway.auth.token_file, got both",
        ),
        (
            {"type": "iam", "token_url": "https://iam.example.com/token"},
            "gateway.auth: expected api_key or api_key_file with type: iam, got neither",
        ),
        (
            {"type": "iam", "api_key": "k"},
            "gateway.auth.token_url: expected the http(s) URL that exchanges the API key, "
            "got nothing",
        ),
        (
            {"type": "iam", "api_key": "k", "token_url": "http://iam.example.com/token"},
            "gateway.auth.token_url: expected https:// for a host that is not loopback "
            "(127.0.0.0/8, ::1, localhost), got 'http://iam.example.com/token'; "
            "set gateway.allow_insecure: true to allow unencrypted http://",
        ),
        (
            {"type": "none", "token": "abc"},
            "gateway.auth.token: only used with auth.type: bearer, but auth.type is none",
        ),
        (
            {"type": "bearer", "token": "abc", "api_key": "k"},
            "gateway.auth.api_key: only used with auth.type: iam, but auth.type is bearer",
        ),
        (
            {"type": "bearer", "token_file": "missing"},
            "gateway.auth.token_file: expected a readable file, got 'missing' (no such file)",
        ),
        (
            {"type": "bearer", "token_file": "."},
            "gateway.auth.token_file: expected a readable file, got '.' (it is a directory)",
        ),
        (
            {"type": "bearer", "token_file": "empty"},
            "gateway.auth.token_file: expected a file holding the secret, got 'empty' "
            "(it is empty)",
        ),
        (
            {"type": "iam", "api_key_file": "nope.key", "token_url": "https://x/t"},
            "gateway.auth.api_key_file: expected a readable file, got 'nope.key' (no such file)",
        ),
    ]
    for auth, expected in cases:
        assert error_of(tmp_path, {"gateway": {"auth": auth}}) == expected, auth


def test_authorization_header_conflicts_with_auth(tmp_path: Path) -> None:
    data = {
        "gateway": {"auth": {"type": "bearer", "token": "t"}, "headers": {"Authorization": "x"}}
    }
    assert error_of(tmp_path, data) == (
        "gateway.headers.Authorization: conflicts with gateway.auth, which sets it; remove one"
    )


def test_tls_ca_file_must_exist(tmp_path: Path) -> None:
    assert error_of(tmp_path, {"gateway": {"tls": {"ca_file": "ca.pem"}}}) == (
        "gateway.tls.ca_file: expected a readable file, got 'ca.pem' (no such file)"
    )


# --- errors: audio, wake, sounds -------------------------------------------------------


def test_audio_input_errors(tmp_path: Path) -> None:
    wav = tmp_path / "in.wav"
    wav.write_bytes(b"RIFF")
    both = {"audio": {"input": {"file": str(wav), "command": "arecord -t raw"}}}
    assert error_of(tmp_path, both) == (
        "audio.input.command: expected at most one of audio.input.file and audio.input.command, "
        "got both"
    )
    assert error_of(tmp_path, {"audio": {"input": {"file": "missing.wav"}}}) == (
        "audio.input.file: expected a readable file, got 'missing.wav' (no such file)"
    )
    assert error_of(tmp_path, {"audio": {"output": {"file": "no/such/dir/out.wav"}}}) == (
        "audio.output.file: expected a file in an existing directory, got 'no/such/dir/out.wav'"
    )
    s = load_config(write_config(tmp_path, {"audio": {"input": {"file": "in.wav"}}}))
    assert (s.audio.input.file, s.audio.input.source) == (str(wav), "file")
    s = load_config(write_config(tmp_path, {"audio": {"input": {"command": "arecord -t raw"}}}))
    assert s.audio.input.source == "command"
    assert (
        load_config(write_config(tmp_path, {"audio": {"input": {"device": 2}}})).audio.input.device
        == 2
    )


def test_wake_model_errors(tmp_path: Path) -> None:
    (tmp_path / "a.onnx").write_bytes(b"\0")
    builtin = "alexa, hey_jarvis, hey_mycroft, hey_rhasspy, timer, weather, okay_nabu"
    cases: list[tuple[dict[str, Any], str]] = [
        (
            {"models": []},
            f"wake.models: expected a list of wake word models ({builtin} "
            "or .onnx/.tflite/.json paths), got an empty list",
        ),
        (
            {"models": ["hey_jarvs"]},
            f"wake.models[0]: expected a built-in model ({builtin}) or a path to a .onnx, "
            ".tflite or .json file, got 'hey_jarvs'; did you mean hey_jarvis?",
        ),
        (
            {"models": ["alexa", "model.bin"]},
            f"wake.models[1]: expected a built-in model ({builtin}) or a path to a .onnx, "
            ".tflite or .json file, got 'model.bin'",
        ),
        (
            {"models": ["nope.onnx"]},
            "wake.models[0]: expected an existing model file, got 'nope.onnx' (no such file)",
        ),
        (
            {"models": ["alexa", "alexa"]},
            "wake.models[1]: expected each model once, got 'alexa' twice",
        ),
        (
            {"models": ["a.onnx"], "threshold": {"alexa": 0.5}},
            "wake.threshold.alexa: expected one of wake.models (a), got 'alexa'",
        ),
        (
            {"models": {"alexa": 1}},
            f"wake.models: expected a list of wake word models ({builtin} "
            "or .onnx/.tflite/.json paths), got a mapping",
        ),
    ]
    for wake, expected in cases:
        assert error_of(tmp_path, {"wake": wake}) == expected, wake
    s = load_config(write_config(tmp_path, {"wake": {"models": ["a.onnx", "weather", "timer"]}}))
    assert s.wake.models == (str(tmp_path / "a.onnx"), "weather", "timer")


def test_sound_errors(tmp_path: Path) -> None:
    assert error_of(tmp_path, {"sounds": {"wake": "ding.wav"}}) == (
        "sounds.wake: expected builtin, null or a sound file, got 'ding.wav' (no such file)"
    )
    assert error_of(tmp_path, {"sounds": {"done": 5}}) == (
        "sounds.done: expected builtin, null or a sound file, got 5"
    )


# --- secrets ----------------------------------------------------------------------------

SECRETS = (
    "FILE-SECRET-1f2e",
    "HDR-SECRET-9a",
    "COOKIE-SECRET-7",
    "QTOKEN-55",
    "QAPIKEY-66",
    "URLKEY-77",
    "OPT-SECRET-88",
)


def test_check_config_never_prints_secrets(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("FILE-SECRET-1f2e\n")
    path = write_config(
        tmp_path,
        {
            "gateway": {
                "url": f"{LOCAL_URL}/audio?key=URLKEY-77&lang=en",
                "auth": {"type": "bearer", "token_file": "token"},
                "headers": {
                    "X-Api-Key": "HDR-SECRET-9a",
                    "Cookie": "COOKIE-SECRET-7",
                    "tenantid": "t1",
                },
                "query": {"token": "QTOKEN-55", "apikey": "QAPIKEY-66", "skillset": "home"},
                "stt_options": {"engine": "pocketsphinx", "api_key": "OPT-SECRET-88"},
            }
        },
    )
    result = check_config(str(path))
    assert result.returncode == 0, result.stderr
    for secret in SECRETS:
        assert secret not in result.stdout + result.stderr
    printed = yaml.safe_load(result.stdout)["gateway"]
    assert printed["url"] == f"{LOCAL_URL}/audio?key=***&lang=en"
    assert printed["auth"]["token_file"] == str(token_file)  # the path, not its content
    assert printed["headers"] == {"X-Api-Key": "***", "Cookie": "***", "tenantid": "t1"}
    assert printed["query"] == {"token": "***", "apikey": "***", "skillset": "home"}
    assert printed["stt_options"] == {"engine": "pocketsphinx", "api_key": "***"}
    # The settings still hold everything the client needs.
    s = load_config(path)
    assert s.gateway.auth.bearer_token() == "FILE-SECRET-1f2e"
    assert s.gateway.headers["X-Api-Key"] == "HDR-SECRET-9a"
    for secret in SECRETS:
        assert secret not in repr(s)


def test_inline_token_and_api_key_are_redacted(tmp_path: Path) -> None:
    s = parse_config(
        {
            "gateway": {
                "url": LOCAL_URL,
                "auth": {"type": "bearer", "token": "INLINE-SECRET-3"},
                "headers": {"Authorization-Extra": "AUTHX-SECRET"},
            }
        },
        "t",
    )
    assert redact(s)["gateway"]["auth"]["token"] == "***"
    assert "AUTHX-SECRET" not in str(redact(s))
    assert "INLINE-SECRET-3" not in repr(s)
    assert s.gateway.auth.bearer_token() == "INLINE-SECRET-3"
    key_file = tmp_path / "key"
    key_file.write_text("IAM-KEY-SECRET\n")
    s = parse_config(
        {
            "gateway": {
                "url": LOCAL_URL,
                "auth": {
                    "type": "iam",
                    "api_key_file": str(key_file),
                    "token_url": "https://iam.example.com/t?apikey=Q",
                },
            }
        },
        "t",
    )
    assert s.gateway.auth.iam_api_key() == "IAM-KEY-SECRET"
    assert redact(s)["gateway"]["auth"]["token_url"] == "https://iam.example.com/t?apikey=***"
    assert "IAM-KEY-SECRET" not in str(redact(s))


def test_errors_never_echo_secrets(tmp_path: Path) -> None:
    cases: list[dict[str, Any]] = [
        {"gateway": {"auth": {"type": "bearer", "token": 98765432}}},
        {"gateway": {"auth": {"type": "bearer", "token": " 98765432\n"}}},
        {"gateway": {"url": "http://127.0.0.1/?token=98765432"}},
        {"gateway": {"url": "ws://8.8.8.8/?access_token=98765432"}},
        {"gateway": {"url": "ws://u:98765432@127.0.0.1/"}},
        {"gateway": {"headers": {"X-Token": [98765432]}}},
        {"gateway": {"headers": {"X-Token": True}}},
    ]
    for data in cases:
        message = error_of(tmp_path, data)
        assert "98765432" not in message, message


def test_redact_url() -> None:
    assert redact_url("wss://h/a?token=x&b=1#f") == "wss://h/a?token=***&b=1#f"
    assert redact_url("wss://u:p@h:1/") == "wss://u:***@h:1/"
    assert redact_url("wss://h/a") == "wss://h/a"
    # Quoted as written, not rebuilt: no "://" added to a value without a scheme.
    assert redact_url("gateway.example.com:8765") == "gateway.example.com:8765"
    assert redact_url("example.com:8765/?api_key=k") == "example.com:8765/?api_key=***"
    assert redact_url("WSS://u:p@h/x?a=1") == "WSS://u:***@h/x?a=1"


def test_a_url_without_a_scheme_is_quoted_as_written(tmp_path: Path) -> None:
    path = write_config(tmp_path, "gateway:\n  url: gateway.example.com:8765\n")
    result = check_config(str(path))
    assert result.returncode == 78
    assert result.stderr.strip().endswith(
        "gateway.url: expected a ws:// or wss:// URL, got 'gateway.example.com:8765'"
    )


# --- load_or_exit and robustness --------------------------------------------------------


def test_odd_key_names_stay_on_one_line(tmp_path: Path) -> None:
    assert error_of(tmp_path, {"wake": {"a\nb": 1}}).startswith("wake.a\\nb: unknown key")
    assert error_of(tmp_path, {7: 1}) == "7: expected a key name, got 7"


def test_load_or_exit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write_config(tmp_path, {}, name="good.yaml")
    assert load_or_exit(good) == defaults()
    bad = write_config(tmp_path, {"debug": {"keep": 0}}, name="bad.yaml")
    with pytest.raises(SystemExit) as info:
        load_or_exit(bad)
    assert info.value.code == 78
    assert capsys.readouterr().err == (
        f"{bad}: debug.keep: expected a number of turns of at least 1, got 0\n"
    )


def test_settings_are_frozen() -> None:
    s = defaults()
    with pytest.raises(AttributeError):
        s.wake.threshold = 0.9  # type: ignore[misc]


def _scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**40), max_value=10**40),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=12),
        st.sampled_from(["builtin", "hey_jarvis", "x.onnx", "ws://127.0.0.1", "bearer", "iam"]),
    )


_values = st.recursive(
    _scalars(),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def _configs(draw: st.DrawFn) -> dict[str, Any]:
    keys = draw(st.lists(st.sampled_from(known_keys()), max_size=8))
    data: dict[str, Any] = {"gateway": {"url": LOCAL_URL}}
    for key in keys:
        node = data
        *parents, leaf = key.split(".")
        for part in parents:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        node[leaf] = draw(_values)
    return data


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_configs())
def test_any_input_gives_settings_or_one_config_error(data: dict[str, Any]) -> None:
    try:
        s = parse_config(data, "fuzz.yaml")
    except ConfigError as err:
        assert err.exit_code == 78
        assert str(err).startswith("fuzz.yaml: ") and "\n" not in str(err)
    else:
        assert isinstance(s, Settings)
        yaml.safe_dump(redact(s))  # always printable


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_any_text_gives_settings_or_one_config_error(text: str) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            load_config(path)
        except ConfigError as err:
            assert "\n" not in str(err)


def test_engine_keys_and_microwakeword_models(tmp_path: Path) -> None:
    (tmp_path / "my_word.json").write_text("{}")
    path = write_config(
        tmp_path,
        {
            "wake": {
                "models": ["okay_nabu", "alexa", "my_word.json"],
                "engine": {"alexa": "micro"},
                "noise_gate": "fixed",
                "noise_gate_margin_db": 4,
            }
        },
    )
    wake = load_config(path).wake
    assert wake.models == ("okay_nabu", "alexa", str(tmp_path / "my_word.json"))
    assert wake.engine_for("alexa") == "micro" and wake.engine_for("okay_nabu") == "openwakeword"
    assert wake.names == ("okay_nabu", "alexa", "my_word")
    assert wake.noise_gate == "fixed" and wake.noise_gate_margin_db == 4.0


def test_check_config_knows_a_gateway_file_and_checks_it_with_its_own_schema(
    tmp_path: Path,
) -> None:
    shipped = check_config(str(REPO / "config" / "gateway.yaml"))
    assert shipped.returncode == 0, shipped.stderr
    assert "is a gateway settings file" in shipped.stdout
    assert "voice-agent gateway --config" in shipped.stdout and "--check" in shipped.stdout
    assert "did you mean" not in shipped.stdout + shipped.stderr
    assert yaml.safe_load(shipped.stdout)["reply"]["form"] == "auto"
    # Its own schema: a gateway key's bad value is named; its secret is hidden.
    bad = write_config(tmp_path, "host: 127.0.0.1\nport: 99999\n", "gw.yaml")
    result = check_config(str(bad))
    assert result.returncode == 78
    assert result.stderr.strip() == (
        f"{bad}: port: expected a whole number between 0 and 65535, got 99999"
    )
    secret = write_config(tmp_path, "port: 0\nauth: {token: s3cret-gw-token-123456}\n", "gw2.yaml")
    shown = check_config(str(secret))
    assert shown.returncode == 0, shown.stderr
    assert "s3cret-gw-token-123456" not in shown.stdout
    assert yaml.safe_load(shown.stdout)["auth"]["token"] == "***"


def test_a_device_file_with_a_stray_gateway_key_is_still_a_device_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"gateway": {"url": LOCAL_URL}, "host": "x"})
    result = check_config(str(path))
    assert result.returncode == 78 and "host: unknown key" in result.stderr
