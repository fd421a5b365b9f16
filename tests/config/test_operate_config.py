"""The ``hooks``, ``control`` and ``metrics`` sections: defaults, values, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agent.common.settings_values import ConfigError
from agent.config.load import parse_config

ROOT = Path(__file__).resolve().parents[2]
URL = {"gateway": {"url": "ws://127.0.0.1:1"}}


def parse(**sections: Any) -> Any:
    return parse_config({**URL, **sections}, "test.yaml")


def test_defaults_hook_off_socket_in_run_metrics_off() -> None:
    s = parse()
    assert s.hooks.command is None and s.hooks.events is None
    assert s.control.socket == "/run/voice-agent/control.sock"
    assert s.metrics.listen is None


@pytest.mark.parametrize(
    ("written", "address"),
    [
        (9466, ("127.0.0.1", 9466)),  # a port alone: loopback only
        ("9466", ("127.0.0.1", 9466)),
        ("127.0.0.1:0", ("127.0.0.1", 0)),
        ("0.0.0.0:9100", ("0.0.0.0", 9100)),
        ("[::1]:9466", ("::1", 9466)),
        ("localhost:9466", ("127.0.0.1", 9466)),
        (None, None),
    ],
)
def test_metrics_listen_forms(written: Any, address: Any) -> None:
    assert parse(metrics={"listen": written}).metrics.listen == address


def test_hooks_keep_the_argv_and_the_event_names() -> None:
    s = parse(hooks={"command": ["cat", "-u"], "events": ["state", "wake", "state"]})
    assert s.hooks.command == ("cat", "-u")
    assert s.hooks.events == ("state", "wake")
    assert parse(control={"socket": None}).control.socket is None


@pytest.mark.parametrize(
    ("sections", "key", "words"),
    [
        ({"hooks": {"command": "cat -u"}}, "hooks.command", "no shell"),
        ({"hooks": {"command": []}}, "hooks.command", "non-empty list"),
        ({"hooks": {"command": ["no-such-program-here"]}}, "hooks.command[0]", "on PATH"),
        ({"hooks": {"command": ["cat", 3]}}, "hooks.command[1]", "non-empty string"),
        ({"hooks": {"events": ["wakeup"]}}, "hooks.events[0]", "expected one of"),
        ({"hooks": {"event": ["wake"]}}, "hooks.event", "did you mean hooks.events"),
        ({"metrics": {"listen": 70000}}, "metrics.listen", "0-65535"),
        ({"metrics": {"listen": "gw.example:9466"}}, "metrics.listen", "IP address"),
        ({"metrics": {"listen": True}}, "metrics.listen", "a port"),
        ({"control": {"socket": "/tmp/" + "x" * 120}}, "control.socket", "107 bytes"),
        ({"control": {"socket": 5}}, "control.socket", "string or null"),
    ],
)
def test_bad_values_name_their_key(sections: dict[str, Any], key: str, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse(**sections)
    text = str(err.value)
    assert f"test.yaml: {key}: " in text and words in text and "\n" not in text


def test_check_config_exits_78_naming_the_hook_key(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("gateway:\n  url: ws://127.0.0.1:1\nhooks:\n  command: leds --all\n")
    done = subprocess.run(
        [sys.executable, "-m", "agent.cli", "check-config", str(cfg)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 78
    assert done.stderr.strip() == (
        f"{cfg}: hooks.command: expected a list like [program, arg, ...] (no shell), "
        "got 'leds --all'"
    )
