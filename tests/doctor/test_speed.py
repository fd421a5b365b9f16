"""The doctor's ``speed`` line: the live audio's CPU on this board, and the gateway's word.

The verdicts are tested with the measurement replaced (a test must not
depend on how fast this machine is); one real measurement shows the engines
run. The gateway's journal is a stand-in ``journalctl`` on PATH: the tests
run without systemd.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.common.slowness import SLOW_STT
from agent.config.load import load_config
from agent.doctor import speed


@pytest.fixture
def wake(tmp_path: Path):  # type: ignore[no-untyped-def]
    config = tmp_path / "agent.yaml"
    config.write_text("gateway: {url: 'ws://127.0.0.1:8765'}\nwake: {models: [hey_jarvis]}\n")
    return load_config(str(config)).wake


def test_the_measurement_runs_the_engines(wake) -> None:  # type: ignore[no-untyped-def]
    wake_s, vad_s = speed.audio_load(wake, seconds=1.0)
    assert wake_s > 0 and vad_s > 0


@pytest.mark.parametrize(("load", "ok"), [((0.02, 0.005), True), ((0.45, 0.1), None)])
def test_verdict_by_the_share_of_a_core(
    wake, monkeypatch: pytest.MonkeyPatch, load: tuple[float, float], ok: bool | None  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setattr(speed, "audio_load", lambda _wake: load)
    monkeypatch.setattr(speed, "gateway_said", lambda _url: None)
    check = speed.check_speed(wake, "ws://127.0.0.1:8765")
    assert check.ok is ok
    assert f"{sum(load):.0%} of one core" in check.detail
    if ok is None:
        assert check.fix is not None and "wake.engine: micro" in check.fix
        assert "gateway on another machine" in check.fix


def fake_journalctl(tmp_path: Path, said: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ``journalctl`` that prints ``said`` when asked for the gateway unit's slow line."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "journalctl"
    script.write_text(
        "#!/bin/sh\n"
        f'case "$*" in *"-u voice-agent-gateway"*"-g {SLOW_STT}"*) printf "%s\\n" "$SAID";; esac\n'
    )
    script.chmod(0o755)
    monkeypatch.setenv("SAID", said)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")


def test_a_gateway_on_this_board_that_said_it_is_slow(
    wake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    line = f"{SLOW_STT}: pocketsphinx took 5.7 s for 3.2 s of audio (1.8x real time)"
    fake_journalctl(tmp_path, line, monkeypatch)
    monkeypatch.setattr(speed, "audio_load", lambda _wake: (0.02, 0.005))
    check = speed.check_speed(wake, "ws://localhost:8765")
    assert check.ok is None
    assert line in check.detail
    assert check.fix is not None and "stt.workers: 1" in check.fix
    # A gateway elsewhere is not this board's: its journal is not asked.
    assert speed.check_speed(wake, "wss://gateway.example.com/audio").ok is True


def test_nothing_said_is_ok(wake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    fake_journalctl(tmp_path, "", monkeypatch)
    monkeypatch.setattr(speed, "audio_load", lambda _wake: (0.02, 0.005))
    assert speed.check_speed(wake, "ws://127.0.0.1:8765").ok is True
